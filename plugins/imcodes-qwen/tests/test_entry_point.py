"""The distribution's entry point loads into a real plugin host without errors."""

from importlib import metadata

from imcodes_core.host import PluginSettings, PluginStatus, make_plugin_host


def test_entry_point_is_declared_and_loads() -> None:
    (entry_point,) = [ep for ep in metadata.entry_points(group="imcodes") if ep.name == "qwen"]
    assert entry_point.value == "imcodes_qwen.plugin"
    host = make_plugin_host(PluginSettings(strict=True), entry_points=[entry_point])
    record = host.plugin("qwen")
    assert record is not None and record.status is PluginStatus.OK, record
    assert record.distribution == "imcodes-qwen"


def test_registers_the_driver_detectors_and_settings_it_declares() -> None:
    (entry_point,) = [ep for ep in metadata.entry_points(group="imcodes") if ep.name == "qwen"]
    host = make_plugin_host(PluginSettings(strict=True), entry_points=[entry_point])
    assert host.agent_driver("qwen").tested_versions == ("0.24.4",)
    acp = host.agent_driver("qwen-acp")
    assert str(acp.kind) == "transport" and acp.driver.name == "qwen-acp"
    assert {"qwen-screen", "qwen-events"} <= {d.name for d in host.state_detectors()}
    assert {"qwen_binary", "qwen_approval_mode", "qwen_base_url", "qwen_model"} <= {
        s.name for s in host.settings_specs()
    }
