"""The ``~/.gemini`` files that let Gemini CLI 0.61.0 start straight into a session with an API key, offline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def offline_settings() -> dict[str, Any]:
    """``settings.json``: API-key auth chosen (no auth picker), no auto-update, no usage statistics or telemetry."""
    return {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"disableAutoUpdate": True},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
    }


def trusted_folders(projects: Iterable[str]) -> dict[str, str]:
    """``trustedFolders.json``: these folders trusted, so no trust prompt is shown for them."""
    return {project: "TRUST_FOLDER" for project in projects}
