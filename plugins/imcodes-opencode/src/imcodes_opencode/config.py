"""The ``~/.config/opencode/opencode.json`` that runs OpenCode 1.18.33 against an OpenAI-compatible endpoint."""

from __future__ import annotations

from typing import Any


def offline_config(base_url: str, model: str = "fake-model", provider: str = "fake") -> dict[str, Any]:
    """A provider through the bundled ``@ai-sdk/openai-compatible`` at ``base_url`` (ending in ``/v1``), used for
    both the main and the small (title) model; no auto-update, no sharing, and shell commands and edits that
    ask first, so permission prompts reach imcodes."""
    return {
        "provider": {
            provider: {
                "npm": "@ai-sdk/openai-compatible",
                "options": {"baseURL": base_url},
                "models": {model: {}},
            }
        },
        "model": f"{provider}/{model}",
        "small_model": f"{provider}/{model}",
        "autoupdate": False,
        "share": "disabled",
        "permission": {"bash": "ask", "edit": "ask"},
    }
