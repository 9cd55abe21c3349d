"""The web client's files and the server-rendered sign-in page (no inline script, so the CSP stays strict)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from quart import Blueprint, Response, send_from_directory
from werkzeug.exceptions import NotFound

from imcodes_server.routes_auth import current_user

_SIGN_IN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>imcodes: sign in</title></head>
<body>
<h1>imcodes</h1>
<p>{message}</p>
<p>To sign in, open the one-time link printed by <code>imcodes up</code>, or run
<code>imcodes login-link</code> on the server and open the link it prints.</p>
<p><button type="button" id="passkey-sign-in" hidden>Sign in with a passkey</button></p>
<p id="passkey-status" role="status" aria-live="polite" hidden></p>
<script type="module" src="/static/js/sign-in.js"></script>
</body></html>
"""


def render_sign_in(message: str = "You are not signed in.", *, status: int = 401) -> Response:
    body = _SIGN_IN.format(message=html.escape(message))
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def _static_dir() -> Path | None:
    try:
        from imcodes_web import static_dir  # type: ignore[import-untyped]
    except ImportError:
        return None
    folder = static_dir()
    return folder if folder.is_dir() else None


def make_web_blueprint() -> Blueprint:
    blueprint = Blueprint("web", __name__)

    @blueprint.get("/")
    async def index() -> Any:
        if await current_user() is None:
            return render_sign_in()
        folder = _static_dir()
        if folder is None or not (folder / "index.html").is_file():
            return render_sign_in("The web client is not installed on this server.", status=503)
        response = await send_from_directory(folder, "index.html")
        response.headers["Cache-Control"] = "no-store"
        return response

    @blueprint.get("/static/<path:filename>")
    async def static_file(filename: str) -> Any:
        # Public on purpose: the client's code and icons hold no secrets.
        folder = _static_dir()
        if folder is None or filename == "index.html":
            raise NotFound()
        return await send_from_directory(folder, filename)

    @blueprint.get("/sw.js")
    async def service_worker() -> Any:
        # Served from / (not /static/) so the worker's scope covers the app shell for an offline start.
        folder = _static_dir()
        if folder is None or not (folder / "sw.js").is_file():
            raise NotFound()
        response = await send_from_directory(folder, "sw.js")
        response.headers["Cache-Control"] = "no-cache"
        return response

    return blueprint
