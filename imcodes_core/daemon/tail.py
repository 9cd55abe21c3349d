"""The last lines of an agent's JSON-lines file (a transcript, a chat file), read without reading it all."""

from __future__ import annotations

import os
from pathlib import Path


def tail_lines(jsonl_file: str, tail_bytes: int) -> list[bytes]:
    """The complete lines among the last ``tail_bytes`` of a JSON-lines file (agents' transcripts grow without end:
    never read a whole one); [] when the name is empty, not ``.jsonl``, or the file cannot be read."""
    path = Path(jsonl_file)
    if not jsonl_file or path.suffix != ".jsonl":
        return []
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - tail_bytes))
            tail = file.read(tail_bytes)
    except OSError:
        return []
    lines = tail.split(b"\n")
    return lines[1:] if size > len(tail) else lines  # the first line was cut by the bounded read
