"""Entry point of imcodes-memory (group ``imcodes``).

Today it declares the settings memory will read; no backend, embedder or context provider is registered until
they can really store and recall (they need the server's PostgreSQL + pgvector and an embedding model).
"""

from __future__ import annotations

from imcodes_core.hookspecs import hookimpl
from imcodes_core.specs import SettingSpec, SettingType
from imcodes_memory import policy


@hookimpl
def imcodes_settings() -> list[SettingSpec]:
    return [
        SettingSpec(
            name="memory_enabled",
            type=SettingType.BOOLEAN,
            default=False,
            description="share summaries of finished turns and inject recalled ones into prompts",
        ),
        SettingSpec(name="memory_backend", default="pgvector", description="memory backend to store and recall"),
        SettingSpec(name="memory_embedder", default="minilm", description="embedder for summaries and prompts"),
        SettingSpec(
            name="memory_top",
            type=SettingType.INTEGER,
            default=policy.TOP,
            description=f"summaries injected per prompt ({policy.TOP_WHEN_ALL_STRONG} when all score high)",
        ),
        SettingSpec(
            name="memory_recall_budget_ms",
            type=SettingType.INTEGER,
            default=int(policy.RECALL_BUDGET_SECONDS * 1000),
            description="time a recall may take before the prompt goes out without it",
        ),
    ]
