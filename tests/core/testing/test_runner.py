"""run_discussion: the reference semantics the daemon's runner follows."""

from __future__ import annotations

import pytest

from imcodes_core.discussions import DiscussionState, DiscussionStep, Finished, Hop, Speak
from imcodes_core.testing.runner import DiscussionRunError, run_discussion


class Scripted:
    """A mode that returns prepared steps in order and remembers every state it was shown."""

    name = "scripted"
    description = "test double"

    def __init__(self, *steps: DiscussionStep) -> None:
        self.steps = list(steps)
        self.seen: list[DiscussionState] = []

    def next_step(self, state: DiscussionState) -> DiscussionStep:
        self.seen.append(state)
        return self.steps.pop(0)


def test_rounds_parallel_and_sequential_hops() -> None:
    mode = Scripted(
        Speak((Hop("a", "open"), Hop("b", "open")), parallel=True, next_round=True),
        Speak((Hop("a", "reply"), Hop("b", "reply")), parallel=False),
        Finished("agreed"),
    )
    replies: list[tuple[str, int, int]] = []

    def reply(hop: Hop, state: DiscussionState) -> str:
        replies.append((hop.participant, state.round, len(state.transcript)))
        return f"{hop.participant}-{len(state.transcript)}"

    run = run_discussion(mode, "topic", ["a", "b"], reply=reply)
    # parallel hops both saw an empty transcript; sequential ones each saw the replies before them
    assert replies == [("a", 1, 0), ("b", 1, 0), ("a", 1, 2), ("b", 1, 3)]
    assert [(u.speaker, u.round, u.text) for u in run.state.transcript] == [
        ("a", 1, "a-0"),
        ("b", 1, "b-0"),
        ("a", 1, "a-2"),
        ("b", 1, "b-3"),
    ]
    assert run.finished == Finished("agreed") and len(run.hops) == 4 and len(run.steps) == 3
    assert mode.seen[0].round == 0 and mode.seen[0].initiator == "a"


def test_initiator_and_max_rounds_reach_the_state() -> None:
    mode = Scripted(Finished("nothing to say"))
    run = run_discussion(mode, "t", ["a", "b"], initiator="b", max_rounds=2)
    assert (run.state.initiator, run.state.max_rounds, run.hops) == ("b", 2, ())


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (Speak(()), "without hops"),
        (Speak((Hop("zed", "hi"),)), "not a participant"),
        (Speak((Hop("a", "  "),)), "empty prompt"),
    ],
)
def test_bad_steps_are_refused(step: Speak, message: str) -> None:
    with pytest.raises(DiscussionRunError, match=message):
        run_discussion(Scripted(step), "t", ["a"])


def test_rounds_past_the_limit_and_endless_modes_are_stopped() -> None:
    opening = Speak((Hop("a", "x"),), next_round=True)
    with pytest.raises(DiscussionRunError, match="past max_rounds=1"):
        run_discussion(Scripted(opening, opening), "t", ["a"], max_rounds=1)
    endless = Scripted(*[Speak((Hop("a", "x"),))] * 20)
    with pytest.raises(DiscussionRunError, match="within 5 steps"):
        run_discussion(endless, "t", ["a"], max_steps=5)


def test_not_a_step_and_not_a_reply() -> None:
    class Wrong:
        name = "wrong"
        description = ""

        def next_step(self, state: DiscussionState) -> DiscussionStep:
            return "finished"  # type: ignore[return-value]

    with pytest.raises(DiscussionRunError, match="expected Speak or Finished"):
        run_discussion(Wrong(), "t", ["a"])
    with pytest.raises(TypeError, match="must return str"):
        run_discussion(Scripted(Speak((Hop("a", "x"),))), "t", ["a"], reply=lambda hop, state: None)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize(
    ("participants", "options", "message"),
    [
        ([], {}, "at least one"),
        (["a", "b", "c", "d", "e", "f"], {}, "at most 5"),
        (["a", "a"], {}, "distinct"),
        (["a"], {"initiator": "b"}, "not a participant"),
        (["a"], {"max_rounds": 0}, "at least 1"),
    ],
)
def test_bad_setup_is_a_clear_error(participants: list[str], options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_discussion(Scripted(Finished("x")), "t", participants, **options)  # type: ignore[arg-type]
