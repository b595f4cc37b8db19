"""Registers the suite's plugin and every step module, so every feature can use every phrase."""

pytest_plugins = [
    "fixtures.stack.plugin",
    "steps.common",
    "steps.identity",
    "fixtures.reporting.allure_labels",
    "fixtures.reporting.calls_plugin",
    "fixtures.drivers.lakebase",
    "steps.preferences",
    "steps.lifecycle",
    "fixtures.drivers.workspace_admin",
    "steps.catalog",
    "steps.faults",
    "steps.monitoring",
    "steps.flows",
    "steps.serving",
    "fixtures.drivers.permissions",
    "steps.access",
    "steps.operations",
    "fixtures.drivers.recordings",
    "steps.parity",
    "steps.live_safety",
]
