"""Registers the suite's plugin and every step module, so every feature can use every phrase."""

pytest_plugins = [
    "fixtures.pytest_plugin",
    "steps.common",
    "steps.identity",
    "fixtures.allure_labels",
    "fixtures.lakebase",
    "steps.preferences",
    "steps.lifecycle",
    "fixtures.workspace_admin",
    "steps.catalog",
    "steps.faults",
    "steps.monitoring",
    "steps.flows",
    "steps.serving",
    "steps.operations",
]
