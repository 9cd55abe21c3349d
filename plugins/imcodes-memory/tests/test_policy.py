"""The recall scoring and selection rules of DESIGN §9, and the summary shape."""

import pytest
from imcodes_memory.policy import (
    SUMMARY_MAX_CHARS,
    Candidate,
    rank,
    render_summary,
    score,
    should_recall,
)

from imcodes_core.memory import MemoryRecord

NOW = 1_800_000_000.0
DAY = 86_400.0


def candidate(similarity: float, age_days: float = 0.0, project: str = "p", frequency: float = 0.0) -> Candidate:
    record = MemoryRecord(project=project, session="s", summary=f"sim {similarity}", created_at=NOW - age_days * DAY)
    return Candidate(record, similarity, frequency)


def test_score_weights() -> None:
    assert score(candidate(1.0, 0, "p", 1.0), "p", NOW) == pytest.approx(1.0)
    assert score(candidate(1.0, 0, "other"), "p", NOW) == pytest.approx(0.40 + 0.25)
    assert score(candidate(0.0, 14, "other"), "p", NOW) == pytest.approx(0.125)  # one half-life: half of 0.25
    assert score(candidate(0.5, 28, "p", 0.2), "p", NOW) == pytest.approx(0.20 + 0.0625 + 0.03 + 0.20)
    assert score(candidate(7.0, -5, "p", -3.0), None, NOW) == pytest.approx(0.40 + 0.25)  # clamped, no project


def test_rank_keeps_at_least_0_4_best_first_top_3() -> None:
    weak = candidate(0.0, 60, "other")  # ~0.013: dropped
    picked = rank([weak, candidate(0.2), candidate(0.9), candidate(0.5), candidate(0.1, 30)], "p", NOW)
    assert [r.record.summary for r in picked] == ["sim 0.9", "sim 0.5", "sim 0.2"]
    assert all(r.score >= 0.4 for r in picked)


def test_rank_gives_five_only_when_all_five_are_strong() -> None:
    strong = [candidate(s) for s in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4)]  # all >= 0.6 with recency and project
    assert len(rank(strong, "p", NOW)) == 5
    mixed = [candidate(s) for s in (0.9, 0.8, 0.7, 0.6)] + [candidate(0.0, 0, "other")]  # last scores 0.25
    assert len(rank(mixed, "p", NOW)) == 3


def test_short_prompts_recall_nothing() -> None:
    assert not should_recall("   yes   ")
    assert should_recall("fix the flaky login test")


def test_summary_has_a_fixed_order_and_a_length_cap() -> None:
    text = render_summary({"risks": "none", "problem": "login flakes", "next": ""})
    assert text == "problem: login flakes\nrisks: none"
    assert len(render_summary({"done": "x" * 5000})) == SUMMARY_MAX_CHARS
    with pytest.raises(ValueError, match="unknown summary sections"):
        render_summary({"mood": "good"})
