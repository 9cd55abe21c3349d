"""JSON control frames, validated on receipt.

Every frame is ``{"v": 1, "type": ..., "id": ..., ...}``. :func:`parse_frame` turns raw text into one of the models
below or raises :class:`FrameError` with a short, payload-free reason; the receiver answers with
:func:`error_frame` and carries on. Commands that change state carry an ``id``; the receiver answers
:class:`Ack` with ``ref`` set to that id, and deduplicates retries by id.

Session addressing: between daemon and server a session is its tmux-level ``session`` name; between browser and
server it is ``machine`` + ``session``. The server fills ``machine`` in when relaying to browsers.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1
MAX_TEXT_FRAME_BYTES = 1024 * 1024 + 4096  # a 1 MiB message body plus its envelope
MAX_INPUT_BYTES = 256 * 1024  # one terminal.input (a large paste)
MAX_PROMPT_CHARS = 64 * 1024  # one session.prompt (stored in the timeline as the user's prompt)

INT32_MAX = 2**31 - 1  # epochs and seqs are stored in 32-bit columns


def _storable(value: Any) -> Any:
    """Refuse what PostgreSQL's text and jsonb cannot hold (NUL, lone surrogates), anywhere inside ``value``.

    Applied to the fields the server stores (labels, folders, timeline data), never to terminal input, where NUL is a
    real key (Ctrl-Space).
    """
    if isinstance(value, str):
        if "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value):
            raise ValueError("text contains NUL or a lone surrogate")
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)
    elif isinstance(value, list):
        for item in value:
            _storable(item)
    return value


StoredText = Annotated[str, AfterValidator(_storable)]
StoredData = Annotated[dict[str, Any], AfterValidator(_storable)]
Epoch = Annotated[int, Field(ge=1, le=INT32_MAX)]
Seq = Annotated[int, Field(ge=0, le=INT32_MAX)]

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")]
FrameId = Annotated[str, Field(min_length=1, max_length=64)]
# an agent's conversation id ends up as a CLI argument (``--resume ID``): no leading "-" (it would read as a flag),
# no whitespace or control characters
ConversationId = Annotated[
    StoredText, Field(min_length=1, max_length=256, pattern=r"^[^-\s\x00-\x1f\x7f][^\s\x00-\x1f\x7f]*$")
]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    id: FrameId | None = None


# --- shared -----------------------------------------------------------------------------------------------------


class Ping(_Frame):
    type: Literal["ping"] = "ping"
    t: float = 0.0


class Pong(_Frame):
    type: Literal["pong"] = "pong"
    t: float = 0.0


class Ack(_Frame):
    type: Literal["ack"] = "ack"
    ref: FrameId
    ok: bool = True
    error: str | None = None
    result: dict[str, Any] | None = None


class ErrorFrame(_Frame):
    type: Literal["error"] = "error"
    code: str
    message: str
    ref: FrameId | None = None


class SessionInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    driver: Name
    label: StoredText = Field(default="", max_length=128)
    cwd: StoredText = Field(default="", max_length=4096)
    state: StoredText = Field(default="unknown", max_length=64)
    state_reason: StoredData | None = None  # a StateVerdict.to_dict(): why the session is in its state
    epoch: Epoch = 1
    seq: Seq = 0  # the last timeline seq the daemon produced
    cols: int = Field(default=120, ge=2, le=1000)
    rows: int = Field(default=40, ge=2, le=1000)
    created_at: float = 0.0
    # the agent's own conversation id (as its machine channel reported it): what session.start's resume takes
    conversation: ConversationId | None = None


class TimelineEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session: Name
    epoch: Epoch
    seq: Annotated[int, Field(ge=1, le=INT32_MAX)]
    at: float
    kind: Annotated[StoredText, Field(min_length=1, max_length=64)]
    data: StoredData = Field(default_factory=dict)


class DriverInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    title: str = ""
    kind: str = "process"
    installed: bool = True


# --- daemon -> server -------------------------------------------------------------------------------------------


class DaemonHello(_Frame):
    type: Literal["daemon.hello"] = "daemon.hello"
    machine: Name
    hostname: StoredText = Field(default="", max_length=255)
    version: str = Field(default="", max_length=64)
    capabilities: list[str] = Field(default_factory=list, max_length=64)
    drivers: list[DriverInfo] = Field(default_factory=list, max_length=256)


class SessionsSync(_Frame):
    """The daemon's full list of sessions (after hello, and whenever it is unsure the server is in step)."""

    type: Literal["sessions.sync"] = "sessions.sync"
    sessions: list[SessionInfo] = Field(max_length=1000)
    machine: Name | None = None


class SessionUpdated(_Frame):
    type: Literal["session.updated"] = "session.updated"
    session: SessionInfo
    machine: Name | None = None


class SessionRemoved(_Frame):
    type: Literal["session.removed"] = "session.removed"
    session: Name
    machine: Name | None = None


class TimelineAppended(_Frame):
    type: Literal["timeline.event"] = "timeline.event"
    event: TimelineEvent
    machine: Name | None = None


# --- server -> daemon -------------------------------------------------------------------------------------------


class HelloAccepted(_Frame):
    """The server's answer to ``daemon.hello``: the last persisted seq per session, so the daemon resends the rest."""

    type: Literal["hello.ok"] = "hello.ok"
    server_version: str = ""
    persisted: dict[str, list[int]] = Field(default_factory=dict)  # session -> [epoch, seq]


# --- browser <-> server and server -> daemon (commands) -----------------------------------------------------------


class SessionStart(_Frame):
    type: Literal["session.start"] = "session.start"
    machine: Name | None = None
    driver: Name = "shell"
    cwd: StoredText = Field(default="", max_length=4096)
    label: StoredText = Field(default="", max_length=128)
    name: Name | None = None
    resume: ConversationId | None = None  # an earlier conversation of the agent to continue (its driver's id)


class SessionStop(_Frame):
    type: Literal["session.stop"] = "session.stop"
    machine: Name | None = None
    session: Name


class SessionRename(_Frame):
    type: Literal["session.rename"] = "session.rename"
    machine: Name | None = None
    session: Name
    label: StoredText = Field(max_length=128)


class TerminalSubscribe(_Frame):
    type: Literal["terminal.subscribe"] = "terminal.subscribe"
    machine: Name | None = None
    session: Name


class TerminalUnsubscribe(_Frame):
    type: Literal["terminal.unsubscribe"] = "terminal.unsubscribe"
    machine: Name | None = None
    session: Name


class TerminalInput(_Frame):
    """Raw input as xterm.js produced it (text and escape sequences); the daemon maps it to tmux keys."""

    type: Literal["terminal.input"] = "terminal.input"
    machine: Name | None = None
    session: Name
    data: str = Field(max_length=MAX_INPUT_BYTES)


class TerminalResize(_Frame):
    type: Literal["terminal.resize"] = "terminal.resize"
    machine: Name | None = None
    session: Name
    cols: int = Field(ge=2, le=1000)
    rows: int = Field(ge=2, le=1000)


class SessionPrompt(_Frame):
    """A prompt for the agent, submitted the way the session's driver takes input (typed text, then Enter)."""

    type: Literal["session.prompt"] = "session.prompt"
    machine: Name | None = None
    session: Name
    text: StoredText = Field(min_length=1, max_length=MAX_PROMPT_CHARS)


class PermissionAnswer(_Frame):
    """Pick one choice of the permission question on the session's screen (the key its driver shows for it)."""

    type: Literal["permission.answer"] = "permission.answer"
    machine: Name | None = None
    session: Name
    choice: StoredText = Field(min_length=1, max_length=64)


class SessionInterrupt(_Frame):
    """Stop the agent's current turn (the driver's interrupt keys, Ctrl-C by default)."""

    type: Literal["session.interrupt"] = "session.interrupt"
    machine: Name | None = None
    session: Name


class TimelineReplay(_Frame):
    """A client asks for every event after ``after_seq`` of ``epoch`` (0 = from the start)."""

    type: Literal["timeline.replay"] = "timeline.replay"
    machine: Name
    session: Name
    epoch: Annotated[int, Field(ge=0, le=INT32_MAX)] = 0
    after_seq: Seq = 0
    limit: int = Field(default=1000, ge=1, le=5000)


# --- server -> browser ------------------------------------------------------------------------------------------


class MachineInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    machine: Name
    hostname: str = ""
    online: bool = False
    role: str = "owner"  # owner | participant | viewer
    drivers: list[DriverInfo] = Field(default_factory=list)
    sessions: list[SessionInfo] = Field(default_factory=list)


class MachinesList(_Frame):
    type: Literal["machines"] = "machines"
    machines: list[MachineInfo]


class LinkStatus(_Frame):
    """Which hop is up: the server tells browsers whether each machine's daemon is linked."""

    type: Literal["link.status"] = "link.status"
    machine: Name
    daemon_online: bool


class ReplayDone(_Frame):
    type: Literal["timeline.replayed"] = "timeline.replayed"
    machine: Name
    session: Name
    epoch: int
    last_seq: int
    more: bool = False


AnyFrame = Annotated[
    Ping
    | Pong
    | Ack
    | ErrorFrame
    | DaemonHello
    | SessionsSync
    | SessionUpdated
    | SessionRemoved
    | TimelineAppended
    | HelloAccepted
    | SessionStart
    | SessionStop
    | SessionRename
    | TerminalSubscribe
    | TerminalUnsubscribe
    | TerminalInput
    | TerminalResize
    | SessionPrompt
    | PermissionAnswer
    | SessionInterrupt
    | TimelineReplay
    | MachinesList
    | LinkStatus
    | ReplayDone,
    Field(discriminator="type"),
]
Frame = _Frame
_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyFrame)
FRAME_TYPES: frozenset[str] = frozenset(
    m.model_fields["type"].default
    for m in _Frame.__subclasses__()  # every concrete frame model
)


class FrameError(ValueError):
    """A frame that cannot be accepted. ``code`` is machine-readable; the message never echoes the payload."""

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.ref = ref


def parse_frame(raw: str | bytes, *, allowed: frozenset[str] | None = None) -> _Frame:
    """Validate one text frame. ``allowed`` restricts the types a given peer may send."""
    if len(raw) > MAX_TEXT_FRAME_BYTES:
        raise FrameError("too_large", f"frame of {len(raw)} bytes exceeds {MAX_TEXT_FRAME_BYTES}")
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise FrameError("malformed", "frame is not valid JSON") from None
    if not isinstance(obj, dict):
        raise FrameError("malformed", "frame must be a JSON object")
    ref = obj.get("id") if isinstance(obj.get("id"), str) and len(obj["id"]) <= 64 else None
    if obj.get("v") != PROTOCOL_VERSION:
        raise FrameError("bad_version", f"unsupported protocol version (expected {PROTOCOL_VERSION})", ref)
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in FRAME_TYPES:
        raise FrameError("unknown_type", "unknown frame type", ref)
    if allowed is not None and kind not in allowed:
        raise FrameError("not_allowed", f"frame type {kind!r} is not accepted here", ref)
    try:
        frame: _Frame = _ADAPTER.validate_python(obj)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"][1:]) or "frame" for e in exc.errors()})
        raise FrameError("invalid", f"invalid {kind} frame: bad field(s) {', '.join(fields)[:200]}", ref) from None
    return frame


def encode_frame(frame: _Frame) -> str:
    return frame.model_dump_json(exclude_none=True)


def error_frame(code: str, message: str, ref: str | None = None) -> str:
    return encode_frame(ErrorFrame(code=code, message=message, ref=ref))
