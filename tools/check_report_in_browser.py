"""Opens the single-file Allure report in headless Chromium and checks what a stakeholder would see.

    python -m tools.check_report_in_browser [--report reports/allure-report/single/index.html]

The behaviours tree must list every user story that has a feature (e.g. "US0 Identity") and, once
expanded, a known scenario ("A signed-in user sees her own profile"). Drives Debian's ``chromium`` over
the DevTools protocol (no extra browser download), expands the tree like a reader clicking it, saves a
screenshot next to the report, and exits 1 naming whatever is missing.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from fixtures.reporting import stories
from fixtures.reporting.allure_labels import epic_name
from tools.gherkin_index import ROOT, parse_all

REPORT = ROOT / "reports" / "allure-report" / "single" / "index.html"
KNOWN_SCENARIO = "A signed-in user sees her own profile"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1400,1000",
]
TREE_TEXT = "(document.querySelector('[data-testid=tree-content]') || {}).innerText || ''"
# Clicks every subtree toggle not clicked yet; returns how many it clicked (0 = fully expanded).
EXPAND = """(() => {
  const toggles = [...document.querySelectorAll('[data-testid=tree-subtree-toggle]:not([data-check-open])')];
  toggles.forEach(t => { t.setAttribute('data-check-open', '1'); t.click(); });
  return toggles.length;
})()"""


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 30, interval: float = 0.2) -> Any:
    """Poll ``probe`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class DevTools:
    """A minimal Chrome DevTools protocol session on one page."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit(
        "no Chromium found: install Debian's package (apt-get install -y chromium); .ci/run does this"
    )


def expected_epics() -> list[str]:
    tags = {t for p in parse_all() if p.feature for t in p.feature.tags if t in stories.STORIES}
    return [epic_name(story) for story in stories.STORIES if story in tags]


def read_tree(report: Path, screenshot: Path | None) -> str:
    profile = tempfile.mkdtemp(prefix="report-check-chromium-")
    browser = subprocess.Popen(
        [find_browser(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        wait_for("Chromium to start", port_file.exists)
        port = wait_for("the DevTools port", lambda: port_file.read_text().split()[:1])[0]
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as socket:
            tools = DevTools(socket)
            tools.call("Page.navigate", url=report.resolve().as_uri())
            wait_for("the behaviours tree to render", lambda: tools.evaluate(TREE_TEXT), timeout=60)
            quiet = [0]

            def expanded() -> bool:  # two polls in a row with nothing left to open
                quiet[0] = quiet[0] + 1 if tools.evaluate(EXPAND) == 0 else 0
                return quiet[0] >= 2

            wait_for("the tree to expand", expanded, timeout=60)
            if screenshot is not None:
                shot = tools.call("Page.captureScreenshot", format="png")["data"]
                screenshot.write_bytes(base64.b64decode(shot))
            return tools.evaluate(TREE_TEXT)
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--report", type=Path, default=REPORT, help="the single-file report")
    parser.add_argument("--scenario", default=KNOWN_SCENARIO, help="a scenario the tree must list")
    parser.add_argument(
        "--screenshot", type=Path, default=ROOT / "reports" / "report-in-browser.png", help="where to save it"
    )
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"no report at {args.report}: build it with bash scripts/report.sh")
        return 1
    started = time.monotonic()
    tree = read_tree(args.report, args.screenshot)
    lines = {line.strip() for line in tree.splitlines()}
    wanted = [*expected_epics(), args.scenario]
    missing = [name for name in wanted if name not in lines]
    print(
        f"report in Chromium ({time.monotonic() - started:.1f} s): the behaviours tree shows "
        + ", ".join(f"{name!r}{'' if name in lines else ' MISSING'}" for name in wanted)
        + (f"; screenshot {args.screenshot}" if args.screenshot else "")
    )
    if missing:
        print("missing from the behaviours tree: " + ", ".join(missing))
        print("tree text was:\n" + tree[:3000])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
