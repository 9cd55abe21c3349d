"""Shared by test_security_ws_matrix.py and test_protocol_fuzz.py: the bridge fixtures (real Hypercorn, real
`websockets` clients, from server/tests/bridge/conftest.py), frame models by type, sample frames, table counts and
hypothesis strategies that build valid frames from the pydantic models.

With --import-mode=importlib this folder is no package, so the test modules load this file by path (`load()`).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

from annotated_types import Ge, Le, MaxLen, MinLen
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from tortoise import connections

from imcodes_core.protocol import frames as protocol


def load_bridge_conftest() -> types.ModuleType:
    """The bridge tests' conftest as a plain module, so its fixtures (`served`, `peers`) can be re-exported."""
    name = "imcodes_server_tests_bridge_fixtures"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "bridge" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def frame_models() -> dict[str, type[protocol.Frame]]:
    """Every concrete frame model by its `type` (the same walk FRAME_TYPES is built from)."""
    found = {m.model_fields["type"].default: m for m in protocol.Frame.__subclasses__()}
    assert set(found) == set(protocol.FRAME_TYPES)
    return found


def sample_frame(kind: str, values: dict[str, Any], frame_id: str | None = None) -> dict[str, Any]:
    """A valid frame of `kind` with every field that `values` names filled in (required ones must be named)."""
    model = frame_models()[kind]
    body: dict[str, Any] = {"v": 1, "type": kind}
    for field_name, info in model.model_fields.items():
        if field_name in ("v", "type", "id"):
            continue
        if field_name in values:
            body[field_name] = values[field_name]
        else:
            assert not info.is_required(), f"no sample value for the required field {kind}.{field_name}: add one"
    if frame_id is not None:
        body["id"] = frame_id
    model.model_validate(body)  # the sample itself must be valid, or the test proves nothing
    return body


async def bridge_counts() -> dict[str, int]:
    """Row counts of the bridge's tables and the tables a frame could touch."""
    db = connections.get("default")
    counts = {}
    for table in ("bridge_sessions", "bridge_timeline", "bridge_command_queue", "machines", "ws_tickets"):
        _, rows = await db.execute_query(f"SELECT count(*) AS n FROM {table}")
        counts[table] = int(rows[0]["n"])
    return counts


async def bridge_snapshot() -> list[Any]:
    """The full content of the bridge's tables (for "nothing changed" checks stronger than counts)."""
    db = connections.get("default")
    snapshot: list[Any] = []
    for query in (
        "SELECT machine_id, name, info::text, removed_at IS NULL AS live FROM bridge_sessions ORDER BY id",
        "SELECT machine_id, session, epoch, seq, kind, data::text FROM bridge_timeline ORDER BY id",
        "SELECT machine_id, user_id, client_ref, frame::text FROM bridge_command_queue ORDER BY id",
    ):
        _, rows = await db.execute_query(query)
        snapshot.append([dict(row) for row in rows])
    return snapshot


def leaked(received: list[str | bytes], markers: list[str]) -> list[str]:
    """The markers found anywhere in what a peer received (text frames and binary frames alike)."""
    found = []
    for marker in markers:
        needle = marker.encode()
        for item in received:
            if (isinstance(item, str) and marker in item) or (isinstance(item, bytes) and needle in item):
                found.append(marker)
                break
    return found


# --- hypothesis: valid frames from the models -----------------------------------------------------------------

# Valid frames only carry text PostgreSQL can store: the models refuse U+0000 and lone surrogates in stored fields
# (test_protocol_fuzz.py checks those are refused as invalid, not crashed on).
STORABLE_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=40)
INT32 = 2**31 - 1  # bridge_timeline.epoch is a 32-bit column; the models cap epoch and seq there
FINITE = st.floats(allow_nan=False, allow_infinity=False)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), FINITE, STORABLE_TEXT)
JSON_VALUES = st.recursive(
    JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(STORABLE_TEXT, inner, max_size=3)
)


def _constraints(metadata: list[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, MinLen):
            found["min_len"] = item.min_length
        elif isinstance(item, MaxLen):
            found["max_len"] = item.max_length
        elif isinstance(item, Ge):
            found["ge"] = item.ge
        elif isinstance(item, Le):
            found["le"] = item.le
        elif getattr(item, "pattern", None):
            found["pattern"] = item.pattern
    return found


def _for_type(annotation: Any, metadata: list[Any], text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        extra = [m for a in args[1:] for m in (a.metadata if isinstance(a, FieldInfo) else [a])]
        return _for_type(args[0], [*metadata, *extra], text)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_for_type(a, metadata, text) for a in args))
    if origin is Literal:
        return st.sampled_from(args)
    limits = _constraints(metadata)
    if origin is list:
        return st.lists(_for_type(args[0], [], text), max_size=min(limits.get("max_len", 3), 3))
    if origin is dict:
        return st.dictionaries(STORABLE_TEXT, _for_type(args[1], [], text), max_size=3)
    if annotation is type(None):
        return st.none()
    if annotation is Any:
        return JSON_VALUES
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_dicts(annotation, text=text)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(limits.get("ge", -INT32), limits.get("le", INT32))
    if annotation is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if annotation is str:
        low, high = limits.get("min_len", 0), min(limits.get("max_len", 200), 200)
        if "pattern" in limits:
            return st.from_regex(limits["pattern"], fullmatch=True).filter(lambda s: low <= len(s) <= high)
        return text.filter(lambda s: low <= len(s) <= high)
    raise AssertionError(f"no strategy for {annotation!r}: teach ws_security_support._for_type")


def model_dicts(
    model: type[BaseModel],
    overrides: dict[str, st.SearchStrategy[Any]] | None = None,
    *,
    text: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid JSON-ready dicts of `model`: required fields always, optional ones sometimes."""
    text = text if text is not None else st.text(max_size=40)
    overrides = overrides or {}
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        strategy = overrides[name] if name in overrides else _for_type(info.annotation, list(info.metadata), text)
        (required if info.is_required() or name in ("type", "v") else optional)[name] = strategy
    return st.fixed_dictionaries(required, optional=optional)  # type: ignore[arg-type]


def encode(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)
