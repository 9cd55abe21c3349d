"""A fake model server on 127.0.0.1 that the real agent CLIs can complete turns against, offline.

::

    with FakeModelEndpoint() as endpoint:
        env = endpoint.agent_env()          # ANTHROPIC_BASE_URL, OPENAI_BASE_URL, GOOGLE_GEMINI_BASE_URL, keys
        ...run the CLI with env...
        assert endpoint.requests[-1].api == "anthropic"

Routes (each streamed exactly as the real API streams): Anthropic ``POST /v1/messages`` and
``/v1/messages/count_tokens``; OpenAI ``POST /v1/chat/completions`` (streamed or not) and ``POST /v1/responses``;
Gemini ``POST /v1beta/models/<model>:streamGenerateContent?alt=sse``, ``:generateContent`` and ``:countTokens``;
``GET /v1/models`` (and ``/v1beta/models``). The OpenAI routes also answer without the ``/v1`` prefix.

Behaviour: the tool keyword (``RUNTOOL``) in the last user text makes it call whichever shell tool the client
offered, and answer in text once the tool result comes back; the slow keyword (``SLOWLY``) streams the answer over
a few seconds so a working state can be watched; a request asking for JSON with a schema (Gemini's router) gets
JSON matching it. Every request is recorded in :attr:`FakeModelEndpoint.requests`.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from imcodes_core.testing import model_formats as formats
from imcodes_core.testing.model_wire import (
    Behaviour,
    Conversation,
    Piece,
    Reply,
    count_tokens,
    plan_reply,
    read_anthropic,
    read_gemini,
    read_openai_chat,
    read_openai_responses,
)

_GEMINI = re.compile(r"^/v1(?:beta|alpha)?/models/(?P<model>[^/:]+):(?P<method>\w+)$")
_SECRET_HEADERS = {"authorization", "x-api-key", "x-goog-api-key", "api-key"}


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received. Credentials in headers are masked: a test double must not keep secrets either."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: Any
    api: str  # anthropic | openai-chat | openai-responses | gemini | models | unknown
    reply_kind: str = ""  # text | tool | after_tool | json | count | list | error
    streamed: bool = False
    at: float = field(default_factory=time.time)


class FakeModelEndpoint:
    """Start with :meth:`start` or as a context manager; stop with :meth:`stop`. Thread-safe recording."""

    def __init__(
        self,
        *,
        behaviour: Behaviour | None = None,
        models: tuple[str, ...] = ("fake-model",),
        host: str = "127.0.0.1",
        port: int = 0,
        **behaviour_options: Any,
    ) -> None:
        self.behaviour = replace(behaviour or Behaviour(), **behaviour_options)
        self.models = models
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._arrived = threading.Condition(self._lock)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> FakeModelEndpoint:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(self._address, _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-model-endpoint", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeModelEndpoint:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake model endpoint is not running: call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def agent_env(self, api_key: str = "sk-fake-imcodes-test-key-0123456789") -> dict[str, str]:
        """Environment that points the agent CLIs at this endpoint (see the fixtures README for their configs)."""
        return {
            "ANTHROPIC_BASE_URL": self.url,
            "ANTHROPIC_API_KEY": api_key,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "OPENAI_BASE_URL": f"{self.url}/v1",
            "OPENAI_API_KEY": api_key,
            "OPENAI_MODEL": self.models[0],
            "FAKE_API_KEY": api_key,
            "GOOGLE_GEMINI_BASE_URL": self.url,
            "GEMINI_API_KEY": api_key,
            "OPENCODE_DISABLE_MODELS_FETCH": "1",
        }

    # -- recording -----------------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def record(self, request: RecordedRequest) -> None:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()

    def wait_for(self, predicate: Callable[[RecordedRequest], bool], timeout: float = 10.0) -> RecordedRequest:
        """The first recorded request matching ``predicate``, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for request in self._requests:
                    if predicate(request):
                        return request
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching request within {timeout} s ({len(self._requests)} received)")
                self._arrived.wait(remaining)


# -- HTTP ---------------------------------------------------------------------------------------------------------


class _Exchange:
    """One parsed request and the means to answer it."""

    def __init__(self, handler: BaseHTTPRequestHandler, endpoint: FakeModelEndpoint) -> None:
        self.handler = handler
        self.endpoint = endpoint
        split = urlsplit(handler.path)
        self.path = split.path.rstrip("/") or "/"
        self.query = parse_qs(split.query)
        self.headers = {k.lower(): ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in handler.headers.items()}
        self.body: Any = None

    def read_body(self) -> bytes:
        length = self.handler.headers.get("Content-Length")
        if length is not None:
            return self.handler.rfile.read(int(length))
        if "chunked" in self.handler.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while size := int(self.handler.rfile.readline().split(b";")[0].strip() or b"0", 16):
                data += self.handler.rfile.read(size)
                self.handler.rfile.readline()
            self.handler.rfile.readline()
            return data
        return b""

    def record(self, api: str, kind: str, streamed: bool = False) -> None:
        self.endpoint.record(
            RecordedRequest(self.handler.command, self.path, self.query, self.headers, self.body, api, kind, streamed)
        )

    def send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.handler.send_response(status)
        self.handler.send_header("Content-Type", "application/json")
        self.handler.send_header("Content-Length", str(len(data)))
        self.handler.end_headers()
        self.handler.wfile.write(data)

    def send_error_json(self, status: int, message: str, api: str = "unknown") -> None:
        self.record(api, "error")
        kind = "invalid_request_error" if status < 500 else "api_error"
        self.send_json(status, {"type": "error", "error": {"type": kind, "message": message, "code": status}})

    def send_stream(self, pieces: Iterator[Piece]) -> None:
        """Server-sent events with chunked transfer encoding, so the connection can stay open afterwards."""
        self.handler.send_response(200)
        self.handler.send_header("Content-Type", "text/event-stream")
        self.handler.send_header("Cache-Control", "no-cache")
        self.handler.send_header("Transfer-Encoding", "chunked")
        self.handler.end_headers()
        for delay, data in pieces:
            if delay:
                time.sleep(delay)
            self.handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.handler.wfile.flush()
        self.handler.wfile.write(b"0\r\n\r\n")
        self.handler.wfile.flush()


def _route_post(exchange: _Exchange) -> None:
    endpoint, body, path = exchange.endpoint, exchange.body, exchange.path
    model = str(body.get("model") or endpoint.models[0])
    tokens = count_tokens(body)
    streamed = bool(body.get("stream"))
    reply: Reply
    if path.endswith("/messages/count_tokens"):
        exchange.record("anthropic", "count")
        exchange.send_json(200, {"input_tokens": tokens})
    elif path.endswith("/messages"):
        reply = _plan(exchange, read_anthropic(body), "anthropic", streamed)
        if streamed:
            exchange.send_stream(formats.anthropic_stream(reply, model, tokens))
        else:
            exchange.send_json(200, formats.anthropic_body(reply, model, tokens))
    elif path.endswith("/chat/completions"):
        reply = _plan(exchange, read_openai_chat(body), "openai-chat", streamed)
        if streamed:
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            exchange.send_stream(formats.chat_stream(reply, model, tokens, usage))
        else:
            exchange.send_json(200, formats.chat_body(reply, model, tokens))
    elif path.endswith("/responses"):
        reply = _plan(exchange, read_openai_responses(body), "openai-responses", streamed)
        if streamed:
            exchange.send_stream(formats.responses_stream(reply, model, tokens))
        else:
            exchange.send_json(200, formats.responses_body(reply, model, tokens))
    elif match := _GEMINI.match(path):
        _route_gemini(exchange, match.group("model"), match.group("method"), tokens)
    else:
        exchange.send_error_json(404, f"no such route: POST {path}")


def _route_gemini(exchange: _Exchange, model: str, method: str, tokens: int) -> None:
    if method == "countTokens":
        exchange.record("gemini", "count")
        exchange.send_json(200, {"totalTokens": tokens})
    elif method in ("streamGenerateContent", "generateContent"):
        streamed = method == "streamGenerateContent"
        reply = _plan(exchange, read_gemini(exchange.body), "gemini", streamed)
        if streamed:
            exchange.send_stream(formats.gemini_stream(reply, model, tokens))
        else:
            exchange.send_json(200, formats.gemini_body(reply, model, tokens))
    else:
        exchange.send_error_json(404, f"unsupported Gemini method {method!r}", "gemini")


def _plan(exchange: _Exchange, conversation: Conversation, api: str, streamed: bool) -> Reply:
    reply = plan_reply(conversation, exchange.endpoint.behaviour)
    exchange.record(api, reply.kind, streamed)
    return reply


def _route_get(exchange: _Exchange) -> None:
    models = exchange.endpoint.models
    if exchange.path in ("/v1/models", "/models"):
        exchange.record("models", "list")
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "imcodes-fake", "type": "model", "display_name": m}
            for m in models
        ]
        exchange.send_json(200, {"object": "list", "data": data, "has_more": False})
    elif exchange.path in ("/v1beta/models", "/v1/models/list"):
        exchange.record("models", "list")
        methods = ["generateContent", "streamGenerateContent", "countTokens"]
        gemini = [{"name": f"models/{m}", "displayName": m, "supportedGenerationMethods": methods} for m in models]
        exchange.send_json(200, {"models": gemini})
    else:
        exchange.send_error_json(404, f"no such route: GET {exchange.path}")


def _handler_for(endpoint: FakeModelEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "imcodes-fake-model/1"

        def do_GET(self) -> None:
            self._answer(_route_get, with_body=False)

        def do_POST(self) -> None:
            self._answer(_route_post, with_body=True)

        def _answer(self, route: Callable[[_Exchange], None], *, with_body: bool) -> None:
            exchange = _Exchange(self, endpoint)
            try:
                if with_body:
                    raw = exchange.read_body()
                    try:
                        exchange.body = json.loads(raw or b"{}")
                    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                        exchange.send_error_json(400, f"the body is not JSON: {exc}")
                        return
                    if not isinstance(exchange.body, dict):
                        exchange.send_error_json(400, "the body must be a JSON object")
                        return
                route(exchange)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client went away mid-stream: nothing to answer
            except Exception as exc:  # answer a bug in the fake as a 500 the client can show, never a hang
                self.close_connection = True
                with contextlib.suppress(OSError):  # the client may be gone too
                    exchange.send_error_json(500, f"fake model endpoint failed: {type(exc).__name__}: {exc}")

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read :attr:`FakeModelEndpoint.requests` instead of a log."""

    return Handler
