"""The distribution's entry point loads into a real plugin host without errors."""

from importlib import metadata

from imcodes_core.host import PluginSettings, PluginStatus, make_plugin_host


def test_entry_point_is_declared_and_loads() -> None:
    (entry_point,) = [ep for ep in metadata.entry_points(group="imcodes") if ep.name == "claude"]
    assert entry_point.value == "imcodes_claude.plugin"
    host = make_plugin_host(PluginSettings(strict=True), entry_points=[entry_point])
    record = host.plugin("claude")
    assert record is not None and record.status is PluginStatus.OK, record
    assert record.distribution == "imcodes-claude"
