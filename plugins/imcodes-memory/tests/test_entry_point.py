"""The distribution's entry point loads into a real plugin host without errors."""

from importlib import metadata

from imcodes_core.host import PluginSettings, PluginStatus, make_plugin_host


def test_entry_point_is_declared_and_loads() -> None:
    (entry_point,) = [ep for ep in metadata.entry_points(group="imcodes") if ep.name == "memory"]
    assert entry_point.value == "imcodes_memory.plugin"
    host = make_plugin_host(PluginSettings(strict=True), entry_points=[entry_point])
    record = host.plugin("memory")
    assert record is not None and record.status is PluginStatus.OK, record
    assert record.distribution == "imcodes-memory"


def test_registers_its_settings_and_nothing_it_cannot_do_yet() -> None:
    (entry_point,) = [ep for ep in metadata.entry_points(group="imcodes") if ep.name == "memory"]
    host = make_plugin_host(PluginSettings(strict=True), entry_points=[entry_point])
    assert host.plugin("memory").hooks == ["imcodes_settings"]  # type: ignore[union-attr]
    names = {s.name for s in host.settings_specs()}
    assert {"memory_enabled", "memory_backend", "memory_embedder", "memory_top", "memory_recall_budget_ms"} <= names
    assert host.memory_backends() == [] and host.embedders() == [] and host.context_providers() == []
