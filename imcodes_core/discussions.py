"""Discussion modes: a step API the core runs.

A mode never does I/O. The core asks it for the next :class:`DiscussionStep` given the :class:`DiscussionState`
so far, sends the prompts, collects the replies into the transcript and asks again, until the mode answers
:class:`Finished`. A third-party mode is therefore a few dozen lines of pure Python that is easy to test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Utterance:
    speaker: str
    round: int
    text: str


@dataclass(frozen=True, slots=True)
class DiscussionState:
    topic: str
    initiator: str
    participants: tuple[str, ...]
    max_rounds: int = 6
    round: int = 0
    transcript: tuple[Utterance, ...] = ()

    def said_in(self, round_: int) -> tuple[Utterance, ...]:
        return tuple(u for u in self.transcript if u.round == round_)


@dataclass(frozen=True, slots=True)
class Hop:
    """One prompt for one participant."""

    participant: str
    prompt: str


@dataclass(frozen=True, slots=True)
class Speak:
    """Run these hops (in parallel when ``parallel``), append the replies to the transcript, then ask again."""

    hops: tuple[Hop, ...]
    parallel: bool = True
    next_round: bool = False  # the replies open a new round


@dataclass(frozen=True, slots=True)
class Finished:
    outcome: str
    notes: dict[str, str] = field(default_factory=dict)


DiscussionStep = Speak | Finished


@runtime_checkable
class DiscussionMode(Protocol):
    name: str
    description: str

    def next_step(self, state: DiscussionState) -> DiscussionStep: ...
