"""Session states, state readings and the arbiter that combines them.

A *state detector* is a pure function from an :class:`Observation` (a screen snapshot plus recent structured
events) to a :class:`StateReading`. Several detectors may read the same session; :func:`arbitrate` combines their
readings into one :class:`StateVerdict` that keeps every reading as evidence, so the UI can say *why* a session is
shown in its state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
                }
                for r in self.readings
            ],
        }


UNKNOWN_VERDICT = StateVerdict(SessionState.UNKNOWN, 0.0, None, "no detector had a reading", ())


def arbitrate(readings: Iterable[StateReading | None]) -> StateVerdict:
    """Combine readings into one verdict.

    The process source is authoritative (a dead pane is exited whatever the screen says). Otherwise the reading
    with the highest ``confidence x source weight`` wins, and ties go to the more trustworthy source, so a hook
    event beats a screen pattern of equal confidence.
    """
    kept = tuple(r for r in readings if r is not None)
    if not kept:
        return UNKNOWN_VERDICT
    process = [r for r in kept if r.source is SignalSource.PROCESS]
    pool = process or list(kept)
    best = max(pool, key=lambda r: (r.confidence * (1 + r.source / 100), r.source))
    ordered = (best, *(r for r in kept if r is not best))
    return StateVerdict(best.state, best.confidence, best.detail, f"{best.detector}: {best.evidence}", ordered)


class StateDetector:
    """Base for detectors; any object with ``name`` and ``read(observation)`` is accepted.

    ``read`` must be pure and cheap: it runs on every screen change.
    """

    name = "detector"
    drivers: frozenset[str] = frozenset()  # the drivers this detector reads; empty means every driver

    def applies_to(self, driver: str) -> bool:
        return not self.drivers or driver in self.drivers

    def read(self, observation: Observation) -> StateReading | None:
        raise NotImplementedError
