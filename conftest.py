"""Registers the suite's plugin, its drivers' fixtures and every step module, so every feature can use every
phrase."""

pytest_plugins = [
    "fixtures.stack.worker_exit",  # first: its exit handler runs after every other one
    "fixtures.stack.garbage_collection",
    "fixtures.stack.scheduling",
    "fixtures.stack.plugin",
    "fixtures.reporting.allure_labels",
    "fixtures.reporting.calls_plugin",
    # Drivers: the domain operations steps call, and their fixtures.
    "fixtures.drivers.workspace_admin",  # first: other drivers import it
    "fixtures.drivers.app_variants",
    "fixtures.drivers.catalog",
    "fixtures.drivers.lakebase",
    "fixtures.drivers.live_run",
    "fixtures.drivers.permissions",
    "fixtures.drivers.pipeline",
    "fixtures.drivers.preferences",
    "fixtures.drivers.recordings",
    "fixtures.drivers.serving",
    # Phrases.
    "steps.common",
    "steps.identity",
    "steps.preferences",
    "steps.lifecycle",
    "steps.catalog",
    "steps.warehouse",
    "steps.faults",
    "steps.monitoring",
    "steps.flows",
    "steps.serving",
    "steps.access",
    "steps.operations",
    "steps.parity",
    "steps.live_safety",
]
