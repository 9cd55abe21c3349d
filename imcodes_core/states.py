"""Session states, state readings and the arbiter that combines them.

A *state detector* is a pure function from an :class:`Observation` (a screen snapshot plus recent structured
events) to a :class:`StateReading`. Several detectors may read the same session; :func:`arbitrate` combines their
readings into one :class:`StateVerdict` that keeps every reading as evidence, so the UI can say *why* a session is
shown in its state.

Staleness: a machine-channel reading is authoritative about the moment its event happened, not about now. A
reading carries ``at``, the time what it says became true as far as its source knows (the event's time; for a
screen reading, when the screen first showed it, stamped by :class:`SessionArbiter`). A confident reading that
became true *after* a disagreeing one supersedes it, whatever their sources: the screen that shows the approved
tool running beats the PermissionRequest hook from before the approval, and a hook event newer than the screen's
change still beats the screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import Any


class SessionState(StrEnum):
    STARTING = "starting"
    SETUP = "setup"  # onboarding, login or trust screen: a human must answer before the agent can work
    IDLE = "idle"
    WORKING = "working"
    WAITING_PERMISSION = "waiting_permission"
    ERROR = "error"
    EXITED = "exited"
    UNKNOWN = "unknown"


class WorkDetail(StrEnum):
    """What a ``working`` session is doing, when a detector can tell."""

    THINKING = "thinking"
    TOOL_RUNNING = "tool_running"
    STREAMING = "streaming"


class SignalSource(IntEnum):
    """Where a reading came from. Higher values are more trustworthy and win ties."""

    SCREEN = 10
    TRANSCRIPT = 20
    STRUCTURED = 30  # hooks, stream-json, ACP, SSE, app-server
    PROCESS = 40  # the pane or process itself (death, exit status)


PERMISSION_ANSWERED = "imcodes.permission_answered"  # the event the daemon adds when it answered a question


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """One structured event an agent reported through a machine channel (hook, stream, transcript line)."""

    kind: str
    at: float
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Observation:
    """What detectors look at: the driver's name, the visible screen as plain text, recent structured events."""

    driver: str
    screen: str = ""
    events: Sequence[AgentEvent] = ()
    pane_dead: bool = False
    exit_status: int | None = None
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class StateReading:
    state: SessionState
    confidence: float
    evidence: str
    detector: str
    source: SignalSource = SignalSource.SCREEN
    detail: WorkDetail | None = None
    at: float | None = None  # wall-clock time what this says became true (the event's time); None: not known

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within [0, 1], got {self.confidence!r}")


@dataclass(frozen=True, slots=True)
class StateVerdict:
    state: SessionState
    confidence: float
    detail: WorkDetail | None
    reason: str
    readings: tuple[StateReading, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": str(self.state),
            "confidence": self.confidence,
            "detail": str(self.detail) if self.detail else None,
            "reason": self.reason,
            "readings": [
                {
                    "state": str(r.state),
                    "confidence": r.confidence,
                    "evidence": r.evidence,
                    "detector": r.detector,
                    "source": r.source.name.lower(),
                    **({"at": r.at} if r.at is not None else {}),
                }
                for r in self.readings
            ],
        }


UNKNOWN_VERDICT = StateVerdict(SessionState.UNKNOWN, 0.0, None, "no detector had a reading", ())


GUESS_CONFIDENCE = 0.3  # below this a fallback detector's reading is a guess (see StateDetector.fallback)
FRESH_CONFIDENCE = 0.75  # a reading must be at least this sure to supersede an older one that disagrees


def _supersedes(newer: StateReading, older: StateReading) -> bool:
    return (
        newer.state != older.state
        and newer.confidence >= FRESH_CONFIDENCE
        and newer.at is not None
        and older.at is not None
        and newer.at > older.at
    )


def arbitrate(readings: Iterable[StateReading | None]) -> StateVerdict:
    """Combine readings into one verdict.

    The process source is authoritative (a dead pane is exited whatever the screen says). Otherwise readings
    superseded by a newer confident reading of another state are set aside (see the module's docstring), and of
    the rest the reading with the highest ``confidence x source weight`` wins; ties go to the more trustworthy
    source, so a hook event beats a screen pattern of equal confidence. Readings without ``at`` are never stale.
    """
    kept = tuple(r for r in readings if r is not None)
    if not kept:
        return UNKNOWN_VERDICT
    process = [r for r in kept if r.source is SignalSource.PROCESS]
    pool = process or [r for r in kept if not any(_supersedes(other, r) for other in kept)]
    best = max(pool, key=_weight)
    reason = f"{best.detector}: {best.evidence}"
    kept_ids = {id(r) for r in pool}
    outranked = [r for r in kept if id(r) not in kept_ids and _weight(r) > _weight(best)]
    if outranked and best.at is not None:
        stale = max(outranked, key=_weight)
        later = best.at - (stale.at or 0.0)
        reason += (
            f" (the {best.source.name.lower()} changed {later:.2f} s after the last {stale.source.name.lower()} "
            f"reading, {stale.detector}: {stale.evidence})"
        )
    ordered = (best, *(r for r in kept if r is not best))
    return StateVerdict(best.state, best.confidence, best.detail, reason, ordered)


def _weight(reading: StateReading) -> tuple[float, int]:
    return (reading.confidence * (1 + reading.source / 100), reading.source)


class SessionArbiter:
    """Arbitrates one session's readings over time: stamps each reading that has no ``at`` with when it began.

    A screen reading's ``at`` is when its detector first read this state (a spinner's ticking does not renew it,
    and a frame with no opinion does not end it). A machine-channel reading without an event time gets the time
    the daemon first saw it (its evidence names the event), which is later than the event: the honest direction,
    it can only keep that reading authoritative for longer.
    """

    def __init__(self) -> None:
        self._since: dict[tuple[str, SignalSource], tuple[object, float]] = {}

    def stamp(self, reading: StateReading | None, now: float) -> StateReading | None:
        if reading is None or reading.source is SignalSource.PROCESS:
            return reading
        if reading.at is not None and reading.at > 0:
            return reading
        key = (reading.detector, reading.source)
        what: object = reading.state if reading.source is SignalSource.SCREEN else (reading.state, reading.evidence)
        previous = self._since.get(key)
        since = previous[1] if previous is not None and previous[0] == what else now
        self._since[key] = (what, since)
        return replace(reading, at=since)

    def arbitrate(self, readings: Iterable[StateReading | None], now: float) -> StateVerdict:
        return arbitrate(self.stamp(r, now) for r in readings)


class StateDetector:
    """Base for detectors; any object with ``name`` and ``read(observation)`` is accepted.

    ``read`` must be pure and cheap: it runs on every screen change.
    """

    name = "detector"
    drivers: frozenset[str] = frozenset()  # the drivers this detector reads; empty means every driver
    # A generic fallback (any driver): its guesses (confidence below GUESS_CONFIDENCE) are left out for a session
    # whose driver has detectors of its own, once it has started: their silence means "cannot tell from this
    # screen" (a prompt being typed, a redraw), not "whatever the generic patterns guess".
    fallback = False

    def applies_to(self, driver: str) -> bool:
        return not self.drivers or driver in self.drivers

    def read(self, observation: Observation) -> StateReading | None:
        raise NotImplementedError
