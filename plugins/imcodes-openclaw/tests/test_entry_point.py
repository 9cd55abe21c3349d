"""The distribution's entry point loads into a real plugin host without errors."""

from importlib import metadata

from imcodes_core.host import PluginSettings, PluginStatus, make_plugin_host


def test_entry_point_is_declared_and_loads() -> None:
    (entry_point,) = [ep for ep in metadata.entry_points(group="imcodes") if ep.name == "openclaw"]
    assert entry_point.value == "imcodes_openclaw.plugin"
    host = make_plugin_host(PluginSettings(strict=True), entry_points=[entry_point])
    record = host.plugin("openclaw")
    assert record is not None and record.status is PluginStatus.OK, record
    assert record.distribution == "imcodes-openclaw"


def test_registers_the_driver_detector_and_setting_it_declares() -> None:
    (entry_point,) = [ep for ep in metadata.entry_points(group="imcodes") if ep.name == "openclaw"]
    host = make_plugin_host(PluginSettings(strict=True), entry_points=[entry_point])
    assert host.agent_driver("openclaw").tested_versions == ("2026.9.6",)
    assert str(host.agent_driver("openclaw-acp").kind) == "transport"
    assert "openclaw-screen" in {d.name for d in host.state_detectors()}
    assert {"openclaw_binary", "openclaw_gateway", "openclaw_gateway_port"} <= {s.name for s in host.settings_specs()}
