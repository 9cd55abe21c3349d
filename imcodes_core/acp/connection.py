"""One ACP agent process and the newline-delimited JSON-RPC 2.0 link over its stdin and stdout.

The connection knows nothing of sessions: it correlates our requests with the agent's responses (each with a
timeout), hands the agent's notifications and requests to registered handlers, keeps a bounded tail of the agent's
stderr for error messages, and shuts the process down in escalating steps (close stdin, wait, SIGTERM, SIGKILL).
Lines that are not JSON-RPC are logged (length and reason only, never the payload) and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from imcodes_core.redaction import redact

log = logging.getLogger(__name__)

# JSON-RPC 2.0 error codes
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REQUEST_CANCELLED = -32800  # ACP's code for a request the client cancelled

LINE_LIMIT = 32 * 1024 * 1024  # one JSON-RPC message per line; command lists and file contents can be large
STDERR_TAIL_BYTES = 8 * 1024

RequestHandler = Callable[[Mapping[str, Any]], Awaitable[Any]]
NotificationHandler = Callable[[str, Mapping[str, Any]], None]
CloseHandler = Callable[["AcpConnection"], None]


class AcpError(Exception):
    """Base of every ACP transport error."""


class AcpRpcError(AcpError):
    """A JSON-RPC error: raised for an error response, and raised by handlers to answer the agent with one."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (JSON-RPC error {code})")
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class AcpTimeoutError(AcpError, TimeoutError):
    """The agent did not answer a request in time."""


class AcpConnectionClosedError(AcpError, ConnectionError):
    """The agent process is gone (or was never started); the message carries its exit status and stderr tail."""


class AcpConnection:
    """Spawns ``argv`` in ``cwd`` with ``env`` (the full environment, not added to ours) and speaks JSON-RPC."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        request_timeout: float = 60.0,
        stderr_tail_bytes: int = STDERR_TAIL_BYTES,
        name: str = "acp-agent",
    ) -> None:
        if not argv:
            raise ValueError("argv must name the agent command")
        self.argv = tuple(argv)
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.request_timeout = request_timeout
        self.name = name
        self._stderr_tail_bytes = stderr_tail_bytes
        self._stderr_tail = bytearray()
        self._process: asyncio.subprocess.Process | None = None
        self._next_id = 1
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._request_handlers: dict[str, RequestHandler] = {}
        self._notification_handlers: list[NotificationHandler] = []
        self._close_handlers: list[CloseHandler] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._write_lock = asyncio.Lock()
        self._closed = asyncio.Event()
        self._closing = False  # we asked the process to stop: its exit is not a crash
        self.malformed_lines = 0

    # -- registration -------------------------------------------------------------------------------------------

    def on_request(self, method: str, handler: RequestHandler) -> None:
        """Answer the agent's requests for ``method`` with ``handler``'s result (or the AcpRpcError it raises)."""
        self._request_handlers[method] = handler

    def on_notification(self, handler: NotificationHandler) -> None:
        self._notification_handlers.append(handler)

    def on_close(self, handler: CloseHandler) -> None:
        """Called once when the agent's stdout ends (the process exited or closed it)."""
        self._close_handlers.append(handler)

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._process is not None:
            return
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=LINE_LIMIT,
                start_new_session=True,  # its own process group: shutdown also reaches the tools it spawned
                preexec_fn=die_with_parent(),
            )
        except OSError as exc:
            self._closed.set()
            raise AcpConnectionClosedError(f"{self.name}: cannot start {self.argv[0]!r}: {exc}") from exc
        self._spawn(self._read_stdout())
        self._spawn(self._drain_stderr())

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process is not None else None

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def closing(self) -> bool:
        """Whether :meth:`close` was called (an exit after it is expected, not a crash)."""
        return self._closing

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def stderr_tail(self) -> str:
        """The last bytes the agent wrote to stderr, decoded and redacted: for error messages only."""
        return redact(self._stderr_tail.decode("utf-8", errors="replace"))

    async def close(self, grace: float = 3.0) -> int | None:
        """Stop the agent: close its stdin, wait ``grace`` s, SIGTERM its group, wait, SIGKILL. Its exit status."""
        self._closing = True
        process = self._process
        if process is None:
            self._closed.set()
            return None
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        for step in (None, signal.SIGTERM, signal.SIGKILL):
            if step is not None:
                self._signal_group(process, step)
            try:
                await asyncio.wait_for(process.wait(), grace)
                break
            except TimeoutError:
                continue
        if process.returncode is not None:
            # the agent is gone; tools it left in its group go too (a shell still running a command)
            self._signal_group(process, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._fail_pending()
        return process.returncode

    def _signal_group(self, process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)

    # -- sending ------------------------------------------------------------------------------------------------

    async def request(
        self, method: str, params: Mapping[str, Any] | None = None, time_limit: float | None = None
    ) -> Any:
        """Send a request and wait for its result; raises AcpRpcError, AcpTimeoutError or AcpConnectionClosedError.

        ``time_limit`` (default :attr:`request_timeout`; ``0`` or less means none) bounds the wait: a prompt turn
        that waits for a human's approval needs a long or no timeout.
        """
        request_id = self._next_id
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": dict(params or {})})
            limit = self.request_timeout if time_limit is None else time_limit
            if limit > 0:
                try:
                    return await asyncio.wait_for(asyncio.shield(future), limit)
                except TimeoutError:
                    raise AcpTimeoutError(f"{self.name}: no answer to {method} within {limit} s") from None
            return await future
        finally:
            self._pending.pop(request_id, None)

    async def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        await self._send({"jsonrpc": "2.0", "method": method, "params": dict(params or {})})

    async def _send(self, message: Mapping[str, Any]) -> None:
        process = self._process
        if process is None or process.stdin is None or self._closed.is_set() or process.stdin.is_closing():
            raise self._closed_error("cannot send")
        data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        async with self._write_lock:
            try:
                process.stdin.write(data)
                await process.stdin.drain()
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise self._closed_error("cannot send") from exc

    def _closed_error(self, what: str) -> AcpConnectionClosedError:
        status = self.returncode
        tail = self.stderr_tail().strip()
        detail = f"exit status {status}" if status is not None else "not running"
        return AcpConnectionClosedError(
            f"{self.name}: {what}: the agent is gone ({detail})" + (f"; stderr tail:\n{tail}" if tail else "")
        )

    # -- receiving ----------------------------------------------------------------------------------------------

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        try:
            while True:
                try:
                    line = await stdout.readline()
                except ValueError:  # a line over LINE_LIMIT: its bytes are dropped by the reader
                    self._malformed(0, "line too long")
                    continue
                if not line:
                    break
                if line.strip():
                    self._dispatch_line(line)
        finally:
            with contextlib.suppress(ProcessLookupError, TimeoutError):
                await asyncio.wait_for(self._process.wait(), 5.0)
            self._closed.set()
            self._fail_pending()
            for handler in self._close_handlers:
                try:
                    handler(self)
                except Exception:
                    log.exception("%s: close handler failed", self.name)

    async def _drain_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        while chunk := await self._process.stderr.read(4096):
            self._stderr_tail += chunk
            if len(self._stderr_tail) > self._stderr_tail_bytes:
                del self._stderr_tail[: len(self._stderr_tail) - self._stderr_tail_bytes]

    def _fail_pending(self) -> None:
        error = self._closed_error("no answer")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)

    def _malformed(self, length: int, reason: str) -> None:
        self.malformed_lines += 1
        log.warning("%s: ignored a line that is not JSON-RPC (%d bytes): %s", self.name, length, reason)

    def _dispatch_line(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._malformed(len(line), type(exc).__name__)
            return
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            self._malformed(len(line), "not a JSON-RPC 2.0 object")
            return
        method, has_id = message.get("method"), "id" in message
        if isinstance(method, str):
            params = message.get("params")
            params = params if isinstance(params, dict) else {}
            if has_id:
                self._spawn(self._answer(message["id"], method, params))
            else:
                self._notify_handlers(method, params)
        elif has_id and ("result" in message or "error" in message):
            self._resolve(message)
        else:
            self._malformed(len(line), "neither a request, a notification nor a response")

    def _notify_handlers(self, method: str, params: Mapping[str, Any]) -> None:
        for handler in self._notification_handlers:
            try:
                handler(method, params)
            except Exception:
                log.exception("%s: handler for the notification %s failed", self.name, method)

    def _resolve(self, message: Mapping[str, Any]) -> None:
        future = self._pending.get(message["id"]) if isinstance(message["id"], int) else None
        if future is None or future.done():
            log.warning("%s: a response to an unknown or finished request id was ignored", self.name)
            return
        error = message.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            text = error.get("message") if isinstance(error, dict) else None
            future.set_exception(
                AcpRpcError(
                    code if isinstance(code, int) else INTERNAL_ERROR,
                    redact(str(text)) if text else "error without a message",
                    error.get("data") if isinstance(error, dict) else None,
                )
            )
        else:
            future.set_result(message.get("result"))

    async def _answer(self, request_id: Any, method: str, params: Mapping[str, Any]) -> None:
        handler = self._request_handlers.get(method)
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        if handler is None:
            reply["error"] = AcpRpcError(METHOD_NOT_FOUND, f"method not supported by this client: {method}").to_json()
        else:
            try:
                reply["result"] = await handler(params)
            except AcpRpcError as exc:
                reply["error"] = exc.to_json()
            except asyncio.CancelledError:
                reply["error"] = AcpRpcError(REQUEST_CANCELLED, "the client stopped").to_json()
                with contextlib.suppress(AcpError):
                    await self._send(reply)
                raise
            except Exception as exc:
                log.exception("%s: handler for the request %s failed", self.name, method)
                reply["error"] = AcpRpcError(INTERNAL_ERROR, f"client error: {type(exc).__name__}").to_json()
        try:
            await self._send(reply)
        except AcpConnectionClosedError:
            log.info("%s: the agent left before the answer to %s was sent", self.name, method)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> Callable[[], None] | None:
    """For ``preexec_fn``: the agent gets SIGTERM when the daemon dies, even by SIGKILL or a crash (Linux's
    ``PR_SET_PDEATHSIG``). A graceful stop closes it in steps anyway; this is for the daemon that could not, or a
    restarted daemon would start the agent again on the same conversation while the orphan lingers (qwen does not
    exit when its stdin closes). None where prctl is not available."""
    import ctypes  # loaded in the parent: the child between fork and exec only calls

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return set_death_signal

