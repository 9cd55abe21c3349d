"""Migrations and the database helpers against a real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from imcodes_server import db

pytestmark = pytest.mark.postgres


async def test_migrations_apply_on_an_empty_database_and_are_idempotent(pg_server: db.PgTarget) -> None:
    target = pg_server.with_database(f"imcodes_empty_{uuid.uuid4().hex[:8]}")
    await db.ensure_database(target)
    try:
        applied = await db.migrate(target)
        assert applied == [version for version, _ in db.migration_files()]
        assert applied[0] == "0001_accounts"
        assert await db.migrate(target) == []
        conn = await target.connect()
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = {row["tablename"] for row in rows}
            vector = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        finally:
            await conn.close()
        assert {"users", "web_sessions", "login_links", "machines", "ws_tickets", "schema_migrations"} <= tables
        assert vector is not None and vector.startswith("0.8")
    finally:
        await db.drop_database(target)


def test_database_url_parsing_keeps_socket_dirs_and_passwords() -> None:
    socket = db.PgTarget.from_url("postgresql://postgres:@/imcodes?host=/tmp/pg&port=5433")
    assert (socket.host, socket.port, socket.database) == ("/tmp/pg", 5433, "imcodes")
    tcp = db.PgTarget.from_url("postgresql://me:s%40cret@db.internal:6543/app")
    assert (tcp.user, tcp.password, tcp.host, tcp.port, tcp.database) == ("me", "s@cret", "db.internal", 6543, "app")
    assert "s@cret" not in tcp.redacted()
    with pytest.raises(ValueError):
        db.PgTarget.from_url("mysql://x/y")


async def test_app_fixture_gives_each_test_its_own_database(app, database: db.PgTarget) -> None:
    from imcodes_server.models import User

    assert await User.all().count() == 0
    await User.create(name="someone")
    assert await User.all().count() == 1
