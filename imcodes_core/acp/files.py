"""The client side of ACP's ``fs/read_text_file`` and ``fs/write_text_file``, confined to the session's project.

An agent may only read and write text files inside the folder its session was opened in: a path outside it (also
through ``..`` or a symlink that leads out) is refused with a JSON-RPC error, never silently clamped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imcodes_core.acp.connection import INTERNAL_ERROR, INVALID_PARAMS, AcpRpcError

MAX_READ_BYTES = 16 * 1024 * 1024


class ProjectFiles:
    """Text file access for one session, rooted at ``root`` (resolved once, symlinks included).

    Blocking: the session runs these in a worker thread.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def confine(self, raw: Any) -> Path:
        """The resolved path for ``raw`` if it is an absolute path inside the project, else a JSON-RPC error."""
        if not isinstance(raw, str) or not raw:
            raise AcpRpcError(INVALID_PARAMS, "path must be a non-empty string")
        if "\0" in raw:
            raise AcpRpcError(INVALID_PARAMS, "path must not contain NUL")
        path = Path(raw)
        if not path.is_absolute():
            raise AcpRpcError(INVALID_PARAMS, "path must be absolute")
        resolved = Path(os.path.realpath(path))
        if resolved != self.root and self.root not in resolved.parents:
            raise AcpRpcError(INVALID_PARAMS, f"path is outside the session's project folder {self.root}")
        return resolved

    def read_text_file(self, params: Mapping[str, Any]) -> dict[str, Any]:
        path = self.confine(params.get("path"))
        line, limit = params.get("line"), params.get("limit")
        try:
            if path.stat().st_size > MAX_READ_BYTES:
                raise AcpRpcError(INVALID_PARAMS, f"file larger than {MAX_READ_BYTES} bytes")
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise AcpRpcError(INVALID_PARAMS, "no such file") from None
        except IsADirectoryError:
            raise AcpRpcError(INVALID_PARAMS, "is a directory") from None
        except OSError as exc:
            raise AcpRpcError(INTERNAL_ERROR, f"cannot read: {exc.strerror or type(exc).__name__}") from None
        if isinstance(line, int) or isinstance(limit, int):
            lines = text.splitlines(keepends=True)
            start = max(int(line) - 1, 0) if isinstance(line, int) else 0  # ACP lines are 1-based
            end = start + int(limit) if isinstance(limit, int) and limit >= 0 else None
            text = "".join(lines[start:end])
        return {"content": text}

    def write_text_file(self, params: Mapping[str, Any]) -> None:
        path = self.confine(params.get("path"))
        content = params.get("content")
        if not isinstance(content, str):
            raise AcpRpcError(INVALID_PARAMS, "content must be a string")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.imcodes-tmp")
            temporary.write_text(content, encoding="utf-8")
            temporary.replace(path)  # atomic: the agent's edit is all there or not at all
        except OSError as exc:
            raise AcpRpcError(INTERNAL_ERROR, f"cannot write: {exc.strerror or type(exc).__name__}") from None
        return None
