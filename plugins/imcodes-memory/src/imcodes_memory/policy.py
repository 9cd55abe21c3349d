"""What imcodes remembers and how it ranks what it recalls: the rules of DESIGN §9, as pure functions.

No backend and no embedder live here yet (they need the server's PostgreSQL + pgvector and a MiniLM model, both
issue work still to come); a backend computes each candidate's cosine similarity and hands the candidates to
:func:`rank`, which applies the same scoring everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from imcodes_core.memory import MemoryRecord, RecalledMemory

SUMMARY_SECTIONS = ("problem", "done", "decisions", "next", "risks")
SUMMARY_MAX_CHARS = 1_400
MIN_PROMPT_CHARS = 10  # shorter prompts ("yes", "go on") recall nothing
RECALL_BUDGET_SECONDS = 2.5
EMBEDDING_DIMENSIONS = 384  # multilingual MiniLM

WEIGHT_SIMILARITY = 0.40
WEIGHT_RECENCY = 0.25
WEIGHT_FREQUENCY = 0.15
WEIGHT_SAME_PROJECT = 0.20
RECENCY_HALF_LIFE_DAYS = 14.0
MIN_SCORE = 0.4
TOP = 3
TOP_WHEN_ALL_STRONG = 5
STRONG_SCORE = 0.6
_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored summary as a backend found it: its cosine similarity to the prompt and how often it was used,
    normalised by the backend to [0, 1]."""

    record: MemoryRecord
    similarity: float
    frequency: float = 0.0


def should_recall(prompt: str) -> bool:
    return len(prompt.strip()) >= MIN_PROMPT_CHARS


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


def score(candidate: Candidate, project: str | None, now: float) -> float:
    """0.40 similarity + 0.25 recency (half-life 14 days) + 0.15 frequency + 0.20 same project, in [0, 1]."""
    age_days = max(0.0, now - candidate.record.created_at) / _DAY
    recency: float = 0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS)
    same_project = 1.0 if project is not None and candidate.record.project == project else 0.0
    return (
        WEIGHT_SIMILARITY * _unit(candidate.similarity)
        + WEIGHT_RECENCY * recency
        + WEIGHT_FREQUENCY * _unit(candidate.frequency)
        + WEIGHT_SAME_PROJECT * same_project
    )


def rank(candidates: Iterable[Candidate], project: str | None, now: float) -> list[RecalledMemory]:
    """Keep scores >= 0.4, best first: the top 3, or the top 5 when all five score >= 0.6."""
    scored = sorted(
        (RecalledMemory(c.record, score(c, project, now)) for c in candidates),
        key=lambda r: (-r.score, -r.record.created_at),
    )
    kept = [r for r in scored if r.score >= MIN_SCORE]
    strong = kept[:TOP_WHEN_ALL_STRONG]
    if len(strong) == TOP_WHEN_ALL_STRONG and all(r.score >= STRONG_SCORE for r in strong):
        return strong
    return kept[:TOP]


def render_summary(sections: dict[str, str]) -> str:
    """A summary of one finished turn in the fixed section order, cut to 1,400 characters.

    Unknown section names are refused: every summary has the same shape, so recall can rely on it.
    """
    unknown = set(sections) - set(SUMMARY_SECTIONS)
    if unknown:
        raise ValueError(f"unknown summary sections {sorted(unknown)}; use {', '.join(SUMMARY_SECTIONS)}")
    text = "\n".join(
        f"{name}: {sections[name].strip()}" for name in SUMMARY_SECTIONS if sections.get(name, "").strip()
    )
    return text if len(text) <= SUMMARY_MAX_CHARS else text[: SUMMARY_MAX_CHARS - 1] + "…"
