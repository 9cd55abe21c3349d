"""Server test fixtures: one real PostgreSQL per session, a fresh database per test, the app and a client.

- `pg_server` (session): the embedded PostgreSQL in a temp dir (stopped at the end), or DATABASE_URL if set.
- `pg_template` (session): a database with every migration applied; each test copies it (CREATE DATABASE ...
  TEMPLATE, a few ms) so tests never see each other's rows.
- `database` (function): the PgTarget of this test's fresh database, dropped afterwards.
- `config`, `app` (serving: ORM open, bridge started), `client` (app.test_client()).
- `sign_in(client, name=..., owner=...)`: a signed-in user through the real one-time link; returns SignedIn.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imcodes_server import auth, db
from imcodes_server.app import create_app
from imcodes_server.config import ServerConfig, load_secret_key
from imcodes_server.models import User
from quart import Quart
from quart.testing import QuartClient


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[db.PgTarget]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield db.PgTarget.from_url(external)
        return
    embedded = db.EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "postgres")
    try:
        yield embedded.start()
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: db.PgTarget) -> Iterator[db.PgTarget]:
    template = pg_server.with_database(f"imcodes_template_{uuid.uuid4().hex[:8]}")

    async def build() -> None:
        await db.ensure_database(template)
        await db.migrate(template)

    asyncio.run(build())
    yield template
    asyncio.run(db.drop_database(template))


@pytest.fixture
async def database(pg_template: db.PgTarget) -> AsyncIterator[db.PgTarget]:
    target = pg_template.with_database(f"imcodes_test_{uuid.uuid4().hex[:12]}")
    await db.ensure_database(target, template=pg_template.database)
    yield target
    await db.drop_database(target)


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    data = tmp_path / "server"
    return ServerConfig(host="127.0.0.1", port=8787, data_dir=data, secret_key=load_secret_key(data))


@pytest.fixture
async def app(config: ServerConfig, database: db.PgTarget) -> AsyncIterator[Quart]:
    application = create_app(config, database=database)
    async with application.test_app():  # runs the lifespan: ORM open, bridge start ... stop, ORM closed
        yield application


@pytest.fixture
def client(app: Quart) -> QuartClient:
    return app.test_client()


@dataclass
class SignedIn:
    user: User
    client: QuartClient
    csrf: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf, **extra}


def _cookie(client: QuartClient, name: str) -> str | None:
    jar: Any = client.cookie_jar
    for cookie in jar:
        if cookie.name == name:
            return str(cookie.value)
    return None


@pytest.fixture
def sign_in(app: Quart) -> Callable[..., Awaitable[SignedIn]]:
    async def make(client: QuartClient | None = None, *, name: str = "owner", owner: bool = True) -> SignedIn:
        client = client or app.test_client()
        user = await User.create(name=name, is_owner=owner)
        token = await auth.mint_login_link(user)
        response = await client.get(f"/auth/link/{token}")
        assert response.status_code == 302, await response.get_data(as_text=True)
        csrf = _cookie(client, auth.CSRF_COOKIE)
        assert csrf
        return SignedIn(user=user, client=client, csrf=csrf)

    return make
