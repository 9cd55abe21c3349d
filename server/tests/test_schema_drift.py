"""The committed SQL migrations and the Tortoise models describe the same tables and columns.

When a model changes (or the bridge's models land) without a matching migration, this fails and names the difference.
"""

from __future__ import annotations

import uuid

import pytest
from imcodes_server import db
from tortoise import Tortoise

pytestmark = pytest.mark.postgres

COLUMNS = """
SELECT table_name, column_name, data_type, is_nullable
FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'schema_migrations'
"""


async def _columns(target: db.PgTarget) -> set[tuple[str, str, str, str]]:
    conn = await target.connect()
    try:
        return {
            (r["table_name"], r["column_name"], r["data_type"], r["is_nullable"]) for r in await conn.fetch(COLUMNS)
        }
    finally:
        await conn.close()


async def test_migrations_match_the_models(pg_template: db.PgTarget) -> None:
    generated = pg_template.with_database(f"imcodes_models_{uuid.uuid4().hex[:8]}")
    await db.ensure_database(generated)
    try:
        await db.open_orm(generated)
        try:
            await Tortoise.generate_schemas()
        finally:
            await db.close_orm()
        from_models = await _columns(generated)
        from_migrations = await _columns(pg_template)
    finally:
        await db.drop_database(generated)
    assert from_models - from_migrations == set(), "columns in the models but not in the migrations"
    assert from_migrations - from_models == set(), "columns in the migrations but not in the models"
