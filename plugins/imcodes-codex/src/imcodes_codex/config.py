"""The ``config.toml`` that runs Codex against an OpenAI Responses endpoint of your choice, offline.

Every key is one the fixtures README lists as needed for Codex 0.169.0 to complete turns against a fake model
endpoint on loopback without asking anything first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable


def _quote(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def offline_config(base_url: str, trusted_projects: Iterable[str], model: str = "fake-model") -> str:
    """``model_provider = "fake"`` at ``base_url`` (ending in ``/v1``), its key read from ``FAKE_API_KEY``,
    the given project folders trusted, update checks and analytics off."""
    lines = [
        f"model = {_quote(model)}",
        'model_provider = "fake"',
        "check_for_update_on_startup = false",
        "",
        "[model_providers.fake]",
        'name = "fake"',
        f"base_url = {_quote(base_url)}",
        'env_key = "FAKE_API_KEY"',
        'wire_api = "responses"',
        "requires_openai_auth = false",
        "",
        "[analytics]",
        "enabled = false",
    ]
    for project in trusted_projects:
        lines += ["", f"[projects.{_quote(project)}]", 'trust_level = "trusted"']
    return "\n".join(lines) + "\n"
