"""The app factory: security headers, error pages without stack traces, the web client behind sign-in."""

from __future__ import annotations

import pytest
from imcodes_server.app import create_app
from imcodes_web import static_dir
from quart import Blueprint

from imcodes_core.specs import BlueprintSpec

pytestmark = pytest.mark.postgres


async def test_security_headers_on_every_response(client) -> None:
    for path in ("/api/health", "/", "/api/me", "/no-such-page"):
        response = await client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "connect-src 'self' ws://127.0.0.1:8787" in csp
        script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
        assert script_src.strip() == "script-src 'self'"  # no inline or eval'd scripts, ever
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_errors_have_no_stack_traces(config, database) -> None:
    broken = Blueprint("broken", __name__)

    @broken.get("/api/boom")
    async def boom() -> str:
        raise RuntimeError("secret internals")

    class Host:
        def server_blueprints(self) -> list[BlueprintSpec]:
            return [BlueprintSpec(name="broken", factory=lambda: broken)]

    app = create_app(config, Host(), database=database)  # type: ignore[arg-type]
    async with app.test_app():
        response = await app.test_client().get("/api/boom")
        body = await response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in body and "secret internals" not in body
    assert (await response.get_json())["error"]["code"] == "internal_error"


async def test_not_found_is_json_for_api_and_html_for_pages(client) -> None:
    api = await client.get("/api/nothing-here")
    assert api.status_code == 404 and (await api.get_json())["error"]["code"] == "not_found"
    page = await client.get("/nothing-here")
    assert page.status_code == 404 and "text/html" in page.headers["Content-Type"]


async def test_index_only_for_signed_in_users(client, sign_in) -> None:
    anonymous = await client.get("/")
    assert anonymous.status_code == 401
    assert "imcodes up" in await anonymous.get_data(as_text=True)
    me = await sign_in()
    page = await me.client.get("/")
    body = await page.get_data(as_text=True)
    if page.status_code == 503:
        pytest.fail("apps/web has no static/index.html yet")
    assert page.status_code == 200 and body == (static_dir() / "index.html").read_text("utf-8")
    assert page.headers["Cache-Control"] == "no-store"


async def test_static_assets_are_public_but_index_is_not(client) -> None:
    assert (await client.get("/static/index.html")).status_code == 404
    assert (await client.get("/static/../../etc/passwd")).status_code == 404


def test_create_app_needs_a_database(config) -> None:
    with pytest.raises(ValueError):
        create_app(config)
