"""The reference semantics for running a discussion mode, with a scripted in-memory "agent" answering each hop.

The daemon's real runner sends each :class:`Hop` to a live session and waits for its reply; everything else it
does is what :func:`run_discussion` does here, so a mode that passes under this runner behaves the same there:

- the state starts at round 0 with an empty transcript; the initiator defaults to the first participant;
- a :class:`Speak` must hold at least one hop, each naming a participant, each with a non-empty prompt;
- when ``next_round`` is set the replies open round ``state.round + 1`` (a mode may not go past ``max_rounds``),
  otherwise they belong to the current round;
- parallel hops all see the same state; sequential hops (``parallel=False``) each see the replies before them;
- replies are appended in hop order; a :class:`Finished` ends the run;
- a mode that neither finishes nor advances within a bounded number of steps is stopped with an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from imcodes_core.discussions import DiscussionMode, DiscussionState, Finished, Hop, Speak, Utterance

Reply = Callable[[Hop, DiscussionState], str]

MAX_PARTICIPANTS = 5


class DiscussionRunError(RuntimeError):
    """The mode asked for something the runner refuses: an unknown participant, an empty prompt, too many rounds."""


@dataclass(frozen=True, slots=True)
class DiscussionRun:
    """What happened: every step the mode returned, every hop sent, the final state and the outcome."""

    state: DiscussionState
    steps: tuple[Speak | Finished, ...]
    hops: tuple[Hop, ...]
    finished: Finished


def scripted_reply(hop: Hop, state: DiscussionState) -> str:
    """The default reply: deterministic, names the speaker and the round so tests can trace the transcript."""
    return f"{hop.participant} (round {state.round}): I read {len(state.transcript)} earlier replies and agree."


def _check_participants(participants: Sequence[str]) -> tuple[str, ...]:
    names = tuple(participants)
    if not names:
        raise ValueError("a discussion needs at least one participant")
    if len(names) > MAX_PARTICIPANTS:
        raise ValueError(f"a discussion takes at most {MAX_PARTICIPANTS} participants, got {len(names)}")
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"participants must be distinct non-empty names, got {names!r}")
    return names


def _check_speak(step: Speak, state: DiscussionState) -> None:
    if not step.hops:
        raise DiscussionRunError("the mode returned a Speak step without hops (it would never make progress)")
    for hop in step.hops:
        if hop.participant not in state.participants:
            raise DiscussionRunError(
                f"hop for {hop.participant!r}, who is not a participant ({', '.join(state.participants)})"
            )
        if not isinstance(hop.prompt, str) or not hop.prompt.strip():
            raise DiscussionRunError(f"empty prompt for {hop.participant!r}")


def run_discussion(
    mode: DiscussionMode,
    topic: str,
    participants: Sequence[str],
    *,
    reply: Reply = scripted_reply,
    initiator: str | None = None,
    max_rounds: int = 6,
    max_steps: int | None = None,
) -> DiscussionRun:
    """Run ``mode`` to completion, answering each hop with ``reply(hop, state)``.

    ``max_steps`` bounds the number of ``next_step`` calls (by default generous: enough for every participant to
    speak alone several times per round); exceeding it raises :class:`DiscussionRunError`.
    """
    names = _check_participants(participants)
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
    lead = initiator if initiator is not None else names[0]
    if lead not in names:
        raise ValueError(f"the initiator {lead!r} is not a participant")
    limit = max_steps if max_steps is not None else 4 * (max_rounds + 1) * (len(names) + 2)
    state = DiscussionState(topic=topic, initiator=lead, participants=names, max_rounds=max_rounds)
    steps: list[Speak | Finished] = []
    hops: list[Hop] = []
    for _ in range(limit):
        step = mode.next_step(state)
        steps.append(step)
        if isinstance(step, Finished):
            return DiscussionRun(state, tuple(steps), tuple(hops), step)
        if not isinstance(step, Speak):
            raise DiscussionRunError(f"next_step returned {type(step).__name__}, expected Speak or Finished")
        _check_speak(step, state)
        round_ = state.round + 1 if step.next_round else state.round
        if round_ > state.max_rounds:
            raise DiscussionRunError(f"the mode opened round {round_}, past max_rounds={state.max_rounds}")
        state = replace(state, round=round_)
        seen = state
        for hop in step.hops:
            text = reply(hop, seen)
            if not isinstance(text, str):
                raise TypeError(f"reply() must return str, got {type(text).__name__}")
            hops.append(hop)
            state = replace(state, transcript=(*state.transcript, Utterance(hop.participant, round_, text)))
            if not step.parallel:
                seen = state
    raise DiscussionRunError(f"the mode did not finish within {limit} steps")
