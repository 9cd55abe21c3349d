"""Shared by the test_sharing_*.py modules: the bridge fixtures (real Hypercorn, real `websockets` clients, from
server/tests/bridge/conftest.py) and an owner's HTTP calls to the served app with a real browser-session cookie.

With --import-mode=importlib this folder is no package, so the test modules load this file by path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from imcodes_server import auth
from imcodes_server.models import User


def load_bridge_conftest() -> ModuleType:
    """The bridge tests' conftest as a plain module (the same name ws_security_support uses, so it loads once)."""
    name = "imcodes_server_tests_bridge_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "bridge" / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class Account:
    """A signed-in user talking HTTP to the served app (cookie + CSRF header, our own Origin)."""

    def __init__(self, origin: str, user: User, session_token: str, csrf: str) -> None:
        self.origin = origin
        self.user = user
        self._cookie = f"{auth.SESSION_COOKIE}={session_token}"
        self._csrf = csrf

    @classmethod
    async def sign_in(cls, origin: str, user: User) -> Account:
        token, csrf = await auth.start_web_session(user)
        return cls(origin, user, token, csrf)

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Cookie": self._cookie, "X-CSRF-Token": self._csrf, "Origin": self.origin}
        async with httpx.AsyncClient(base_url=self.origin, trust_env=False) as http:
            return await http.request(method, path, json=body, headers=headers)

    async def share(self, machine: str, user: User, role: str, session: str | None = None) -> int:
        body: dict[str, Any] = {"machine": machine, "user_id": user.id, "role": role}
        if session is not None:
            body["session"] = session
        response = await self.call("POST", "/api/shares", body)
        assert response.status_code == 200, response.text
        return int(response.json()["share"]["id"])
