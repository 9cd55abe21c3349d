"""The permission prompt Claude Code draws, parsed into a question and its choices for the phone."""

from __future__ import annotations

import re
from dataclasses import dataclass

# "❯ 1. Yes" (the selected one) or "  2. Yes, and always allow ..." below the question.
_CHOICE = re.compile(r"^\s*(❯)?\s*(\d)\.\s+(\S.*?)\s*$")
_QUESTION = re.compile(r"^\s*(Do you want to (?:proceed|make this edit to .+|create .+)\?)\s*$")
_RULE = re.compile(r"^[\s─╌━]+$")


@dataclass(frozen=True, slots=True)
class Choice:
    key: str  # what to type to pick it
    label: str
    selected: bool = False


@dataclass(frozen=True, slots=True)
class PermissionPrompt:
    question: str
    choices: tuple[Choice, ...]
    tool: str = ""  # "Bash command"
    detail: str = ""  # the command or file the tool wants to touch


def parse_permission_prompt(lines: list[str]) -> PermissionPrompt | None:
    """Read the last permission dialog on screen; None when there is none (or it has no choices)."""
    start, question = -1, ""
    for index in range(len(lines) - 1, -1, -1):
        if found := _QUESTION.match(lines[index]):
            start, question = index, found.group(1)
            break
    if start < 0:
        return None
    choices = []
    for line in lines[start + 1 :]:
        match = _CHOICE.match(line)
        if match:
            choices.append(Choice(match.group(2), match.group(3), bool(match.group(1))))
        elif choices:
            break
    if not choices:
        return None
    # Above the question: a rule, the tool's title, a tip, a description, then the command between dashed rules.
    above = [line.strip() for line in lines[max(0, start - 10) : start]]
    tool, detail = "", ""
    dashed = [n for n, line in enumerate(above) if line and _RULE.match(line) and "╌" in line]
    if len(dashed) >= 2:
        detail = " ".join(line for line in above[dashed[-2] + 1 : dashed[-1]] if line)
    solid = [n for n, line in enumerate(above) if line and _RULE.match(line) and "─" in line]
    if solid:
        tool = next((line for line in above[solid[-1] + 1 :] if line), "")
    return PermissionPrompt(question, tuple(choices), tool, detail)
