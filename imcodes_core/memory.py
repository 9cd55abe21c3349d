"""Shared memory: backends that store and recall past work, embedders, and context providers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    project: str
    session: str
    summary: str
    created_at: float
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MemoryQuery:
    text: str
    project: str | None = None
    limit: int = 3


@dataclass(frozen=True, slots=True)
class RecalledMemory:
    record: MemoryRecord
    score: float


@dataclass(frozen=True, slots=True)
class OutgoingPrompt:
    session: str
    driver: str
    project: str
    text: str


@dataclass(frozen=True, slots=True)
class ContextBlock:
    source: str
    text: str
    meta: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Embedder(Protocol):
    name: str
    dimensions: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@runtime_checkable
class MemoryBackend(Protocol):
    name: str

    async def store(self, record: MemoryRecord) -> None: ...

    async def recall(self, query: MemoryQuery) -> list[RecalledMemory]: ...


@runtime_checkable
class ContextProvider(Protocol):
    name: str

    async def context_for(self, prompt: OutgoingPrompt) -> list[ContextBlock]: ...
