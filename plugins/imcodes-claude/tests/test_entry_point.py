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


def test_registers_the_driver_detectors_and_settings_it_declares() -> None:
    from imcodes_core.drivers import Capability

    (entry_point,) = [ep for ep in metadata.entry_points(group="imcodes") if ep.name == "claude"]
    host = make_plugin_host(PluginSettings(strict=True), entry_points=[entry_point])
    spec = host.agent_driver("claude")
    assert spec.title == "Claude Code" and spec.tested_versions == ("2.1.331",)
    assert Capability.RESUME in spec.capabilities and Capability.APPROVE in spec.capabilities
    names = {d.name for d in host.state_detectors()}
    assert {"claude-screen", "claude-events"} <= names
    assert {s.name for s in host.settings_specs()} >= {"claude_binary", "claude_permission_mode", "claude_base_url"}
