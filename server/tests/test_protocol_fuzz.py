"""Property-based fuzzing (hypothesis) of every protocol message on both sockets of a real server (Hypercorn, real
`websockets` clients): frames built from the pydantic models (valid) and mutations of them (wrong types, huge strings,
unicode, nested junk, missing and extra fields, unknown types, non-JSON text, binary junk).

For every example: the server never answers `internal` (a handler crashed), never closes the socket, answers a
refused frame with the error code `parse_frame` gives it and changes no bridge table, relays only valid frames to the
browser, and answers a ping afterwards. The handshake is fuzzed too: never a 5xx, never data for a bad credential.

Hypothesis drives a synchronous function in a worker thread; each example runs on the test's event loop (where the
server, the ORM and the sockets live) through run_coroutine_threadsafe.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imcodes_server import auth
from imcodes_server.bridge.client_ws import CLIENT_IN
from imcodes_server.bridge.daemon_ws import DAEMON_IN
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from imcodes_core.protocol.binary import BinaryKind, encode_binary
from imcodes_core.protocol.frames import FrameError, parse_frame

pytestmark = pytest.mark.postgres


def _load_support() -> ModuleType:
    name = "imcodes_server_tests_ws_security_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("ws_security_support.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


support = _load_support()
_bridge = support.load_bridge_conftest()
bridge_settings = _bridge.bridge_settings  # re-exported fixtures: the real server and its peers
served = _bridge.served
peers = _bridge.peers

FUZZ = settings(
    max_examples=70,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
# Text for string fields (valid frames): any code point PostgreSQL text can store. NUL and lone surrogates are left
# to test_nul_and_surrogates_in_stored_fields_are_refused_not_crashed, which pins down what they do today.
TEXT = support.STORABLE_TEXT
NAMES = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:@-]{0,20}\Z")
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)
HUGE = st.sampled_from([70_000, 300_000, 1_100_000])  # below and beyond MAX_INPUT_BYTES and MAX_TEXT_FRAME_BYTES


def _valid_frames(types: frozenset[str], overrides: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    models = support.frame_models()
    return st.one_of(
        *(support.model_dicts(models[kind], overrides, text=TEXT) for kind in sorted(types) if kind != "daemon.hello")
    )


@st.composite
def _mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> str | bytes:
    body = dict(draw(valid))
    how = draw(
        st.sampled_from(
            ["valid", "wrong_type", "huge", "unicode", "nested", "missing", "extra", "type", "text", "binary"]
        )
    )
    keys = sorted(k for k in body if k != "v")
    key = draw(st.sampled_from(keys)) if keys else "type"
    if how == "wrong_type":
        body[key] = draw(JUNK)
    elif how == "huge":
        body[key] = "x" * draw(HUGE)
    elif how == "unicode":
        body[key] = draw(TEXT.filter(bool))  # any script, emoji, controls, RTL marks...
    elif how == "nested":
        body[key] = draw(JUNK.filter(lambda v: isinstance(v, (list, dict))))
    elif how == "missing":
        body.pop(key, None)
    elif how == "extra":
        body[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in body))] = draw(JUNK)
    elif how == "type":
        body["type"] = draw(st.text(max_size=20) | st.sampled_from(sorted(support.frame_models())))
    elif how == "text":
        return draw(st.text(max_size=200))
    elif how == "binary":
        return draw(st.binary(max_size=300))
    return json.dumps(body)


def _expected_refusal(raw: str | bytes, allowed: frozenset[str]) -> str | None:
    """The error code the server must answer `raw` with, or None when the frame is valid for that peer."""
    if isinstance(raw, bytes):
        return "binary"
    try:
        parse_frame(raw, allowed=allowed)
    except FrameError as error:
        return error.code
    return None


def _run(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)


class Wire:
    """One fuzzed socket: send a frame, then a ping with a fresh `t`, and return every text frame up to its pong."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._stamps = itertools.count(1000)

    async def exchange(self, raw: str | bytes) -> list[dict[str, Any]]:
        stamp = float(next(self._stamps))
        await self.ws.send(raw)
        await self.ws.send(json.dumps({"v": 1, "type": "ping", "t": stamp}))
        replies: list[dict[str, Any]] = []
        async with asyncio.timeout(15):
            while True:
                reply = await self.ws.recv()  # ConnectionClosed here fails the example: the socket must stay open
                if isinstance(reply, bytes):
                    continue
                frame = json.loads(reply)
                if frame["type"] == "pong" and frame.get("t") == stamp:
                    return replies
                replies.append(frame)


async def _collect(ws: ClientConnection, into: list[str | bytes]) -> None:
    with contextlib.suppress(ConnectionClosed, asyncio.CancelledError):
        while True:
            into.append(await ws.recv())


async def _check_exchange(wire: Wire, raw: str | bytes, allowed: frozenset[str]) -> None:
    expected = _expected_refusal(raw, allowed)
    before = await support.bridge_snapshot() if expected else None
    replies = await wire.exchange(raw)
    codes = [r.get("code") for r in replies if r["type"] == "error"]
    assert "internal" not in codes, f"a handler crashed on {str(raw)[:200]!r}"
    if expected is None:
        return
    if expected == "binary":
        assert set(codes) <= {"bad_binary", "malformed"}, codes
    else:
        assert codes == [expected], f"{str(raw)[:120]!r}: expected {expected}, got {replies}"[:600]
        assert all("x" * 64 not in r.get("message", "") for r in replies), "a refused payload was echoed"
    assert await support.bridge_snapshot() == before, f"a refused frame wrote to the bridge: {str(raw)[:200]!r}"


def _relayed_frames_are_valid(received: list[str | bytes]) -> None:
    for raw in received:
        if isinstance(raw, str):
            parse_frame(raw)  # raises on anything the server relayed that is not a valid frame


async def test_fuzzed_daemon_frames(peers: Any) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine, [peers.session_info("kept")])
    browser, _ = await peers.browser(user)
    relayed: list[str | bytes] = []
    collector = asyncio.create_task(_collect(browser, relayed))
    await browser.send(peers.frame("terminal.subscribe", machine=machine, session="kept"))
    wire = Wire(daemon)
    loop = asyncio.get_running_loop()
    valid = _valid_frames(DAEMON_IN, {"machine": st.none() | NAMES | st.just(machine)})
    binaries = st.builds(
        lambda kind, stream, payload: encode_binary(kind, stream, payload),
        st.sampled_from(list(BinaryKind)),
        st.sampled_from(["kept", "other", "m-x/kept"]) | NAMES,
        st.binary(max_size=200),
    )

    @FUZZ
    @given(raw=_mutated(valid) | binaries)
    def property_holds(raw: str | bytes) -> None:
        _run(loop, _check_exchange(wire, raw, DAEMON_IN))

    try:
        await asyncio.to_thread(property_holds)
        await asyncio.sleep(0.2)
    finally:
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)
    _relayed_frames_are_valid(relayed)
    assert machine in served_daemons(peers), "the daemon stayed linked throughout"


def served_daemons(peers: Any) -> set[str]:
    return set(peers.served.hub.daemons)


async def test_fuzzed_browser_frames(peers: Any) -> None:
    user = await peers.user()
    stranger = await peers.user("stranger")
    online, token = await peers.machine(user)
    offline, _ = await peers.machine(user)
    foreign, _ = await peers.machine(stranger)
    daemon, _ = await peers.daemon(token, online, [peers.session_info("kept")])
    commands: list[str | bytes] = []
    collector = asyncio.create_task(_collect(daemon, commands))
    browser, _ = await peers.browser(user)
    wire = Wire(browser)
    loop = asyncio.get_running_loop()
    machines = st.sampled_from([online, offline, foreign, "m-nowhere"]) | NAMES
    valid = _valid_frames(CLIENT_IN, {"machine": machines, "session": st.just("kept") | NAMES})
    foreign_before = [[r for r in t if r.get("machine_id") == foreign] for t in await support.bridge_snapshot()]

    @FUZZ
    @given(raw=_mutated(valid))
    def property_holds(raw: str | bytes) -> None:
        _run(loop, _check_exchange(wire, raw, CLIENT_IN))

    try:
        await asyncio.to_thread(property_holds)
        await asyncio.sleep(0.2)
    finally:
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)
    for raw in commands:  # what reached the daemon: valid frames only, never a pong of ours or junk
        assert isinstance(raw, str)
        frame = json.loads(raw)
        if frame["type"] not in ("ping", "hello.ok"):
            parse_frame(raw)
    foreign_after = [[r for r in t if r.get("machine_id") == foreign] for t in await support.bridge_snapshot()]
    assert foreign_after == foreign_before, "a fuzzed frame touched another user's machine"


async def test_fuzzed_handshakes_never_5xx_nor_data(peers: Any, served: Any) -> None:
    user = await peers.user()
    await peers.machine(user)
    loop = asyncio.get_running_loop()

    async def one(ticket: str, header: str) -> None:
        attempts = [
            (f"/ws/client?ticket={quote(ticket, safe='')}", {"Origin": served.origin}),
            (f"/ws/client?ticket={quote(ticket, safe='')}", {"Origin": header or "x"}),
            ("/ws/daemon", {"Authorization": f"Bearer {header}"}),
            ("/ws/daemon", {"Authorization": header or "x"}),
        ]
        for path, headers in attempts:
            try:
                ws = await connect(served.ws_url + path, additional_headers=headers, proxy=None, open_timeout=10)
            except InvalidStatus as refused:
                assert refused.response.status_code == 403, refused.response.status_code
                continue
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401, path

    @FUZZ
    @given(
        ticket=st.text(max_size=80),
        header=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60).map(str.strip),
    )
    def property_holds(ticket: str, header: str) -> None:
        _run(loop, one(ticket, header))

    await asyncio.to_thread(property_holds)
    assert await auth.machine_for_token("") is None


NUL_EVENT = {"session": "s1", "epoch": 1, "seq": 1, "at": 1.0, "kind": "output", "data": {"tail": "a\u0000b"}}
STORED_FIELD_CASES = {
    "timeline data with NUL": ("timeline.event", {"event": NUL_EVENT}),
    "timeline data with a lone surrogate": ("timeline.event", {"event": {**NUL_EVENT, "data": {"tail": "\ud800"}}}),
    "timeline epoch beyond int32": ("timeline.event", {"event": {**NUL_EVENT, "epoch": 2**31, "data": {}}}),
    "session label with NUL": ("session.updated", {"session": {"name": "s1", "driver": "shell", "label": "a\u0000"}}),
    "sync whose second session has NUL": (
        "sessions.sync",
        {"sessions": [{"name": "s1", "driver": "shell"}, {"name": "s2", "driver": "shell", "cwd": "/\u0000"}]},
    ),
}


@pytest.mark.parametrize("case", [c for c in STORED_FIELD_CASES if "int32" not in c])
async def test_nul_and_surrogates_in_stored_fields_are_refused_not_crashed(peers: Any, case: str) -> None:
    await _refused_not_crashed(peers, case)


async def test_an_epoch_beyond_int32_is_refused_not_crashed(peers: Any) -> None:
    await _refused_not_crashed(peers, "timeline epoch beyond int32")


async def _refused_not_crashed(peers: Any, case: str) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine)
    wire = Wire(daemon)
    await wire.exchange(json.dumps({"v": 1, "type": "ping"}))  # the sync above is stored
    kind, fields = STORED_FIELD_CASES[case]
    before = await support.bridge_snapshot()
    replies = await wire.exchange(json.dumps({"v": 1, "type": kind, **fields}))
    codes = [r.get("code") for r in replies if r["type"] == "error"]
    assert "internal" not in codes, f"{case}: {replies}"
    assert codes == ["invalid"], f"{case}: {replies}"
    assert await support.bridge_snapshot() == before, f"{case}: refused but written"


async def test_a_sync_that_fails_half_way_writes_nothing(peers: Any) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine, [peers.session_info("old")])
    wire = Wire(daemon)
    await wire.exchange(json.dumps({"v": 1, "type": "ping"}))
    before = await support.bridge_snapshot()
    await wire.exchange(
        json.dumps({"v": 1, "type": "sessions.sync", **STORED_FIELD_CASES["sync whose second session has NUL"][1]})
    )
    assert await support.bridge_snapshot() == before, "part of a failed sync was stored"


async def test_nul_in_a_queued_command_is_refused_not_crashed(peers: Any) -> None:
    user = await peers.user()
    offline, _ = await peers.machine(user)
    browser, _ = await peers.browser(user)
    wire = Wire(browser)
    start = {"v": 1, "type": "session.start", "id": "c1", "machine": offline, "driver": "shell", "label": "a\u0000"}
    replies = await wire.exchange(json.dumps(start))
    assert "internal" not in [r.get("code") for r in replies], replies
