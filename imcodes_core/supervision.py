"""Supervisors judge a completed turn: is the user's request done, should the agent go on, or must a human look?"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable


class SupervisionDecision(StrEnum):
    COMPLETE = "complete"
    CONTINUE = "continue"
    ASK_HUMAN = "ask_human"


@dataclass(frozen=True, slots=True)
class CompletedTurn:
    session: str
    driver: str
    user_request: str
    final_message: str
    turn_index: int = 0


@dataclass(frozen=True, slots=True)
class SupervisionVerdict:
    decision: SupervisionDecision
    reason: str
    confidence: float = 0.0
    next_action: str | None = None  # the prompt to send when the decision is CONTINUE


@runtime_checkable
class Supervisor(Protocol):
    name: str

    async def judge(self, turn: CompletedTurn) -> SupervisionVerdict: ...
