"""Loads the recorded captures copied into ``tests/fixtures``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def screen() -> Callable[[str], str]:
    def load(name: str) -> str:
        return (FIXTURES / f"{name}.txt").read_text(encoding="utf-8")

    return load


@pytest.fixture
def jsonl() -> Callable[[str], list[dict[str, Any]]]:
    def load(name: str) -> list[dict[str, Any]]:
        lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    return load
