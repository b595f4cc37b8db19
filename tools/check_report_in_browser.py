"""Opens the single-file Allure report in headless Chromium and checks what a stakeholder would see.

    python -m tools.check_report_in_browser [--report reports/allure-report/single/index.html]

The behaviours tree must list every user story that has a feature (e.g. "US0 Identity") and, once
expanded, a known scenario ("A signed-in user sees her own profile"). Drives Debian's ``chromium`` over
the DevTools protocol (no extra browser download), expands the tree like a reader clicking it, saves a
screenshot next to the report, and exits 1 naming whatever is missing.

Each step has its own deadline, so a failure says which one was slow: Chromium's start (a first start on a
fresh machine sets up more than later ones), the report's loading (until the page's DOMContentLoaded event:
its data is parsed), the tree's rendering (awaited in the page, on DOM changes) and its expansion. The check
opens the report in a tab it creates itself, so nothing Chromium does with its start-up tab interferes.
Chromium's own output goes to ``reports/report-in-browser.log``.
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
from pathlib import Path
from typing import IO, Any

from websockets.sync.client import ClientConnection, connect

from fixtures.reporting import stories
from fixtures.reporting.allure_labels import epic_name
from tools.gherkin_index import ROOT, parse_all

REPORT = ROOT / "reports" / "allure-report" / "single" / "index.html"
KNOWN_SCENARIO = "A signed-in user sees her own profile"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# A fresh profile and nothing a browser does besides showing the page: no first-run UI, no network
# fetches, component or extension updates, no sync, no keyring over D-Bus (a basic password store), and
# shared memory in /tmp rather than /dev/shm (small in containers).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-sync",
    "--password-store=basic",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--window-size=1400,1000",
]
STARTUP_SECONDS = 120  # a first start on a fresh machine: cold binary and libraries, font and NSS set-up
LOAD_SECONDS = 60  # navigation to DOMContentLoaded: the report (megabytes of inlined data) is parsed
RENDER_SECONDS = 90  # DOMContentLoaded to a tree with text: the report decodes its data and renders
EXPAND_SECONDS = 60
TREE = "document.querySelector('[data-testid=tree-content]')"
TREE_TEXT = f"({TREE} || {{}}).innerText || ''"
# Resolves true once the tree shows text (checked on every DOM change), false after the given milliseconds.
AWAIT_TREE = f"""new Promise(resolve => {{
  const done = value => {{ observer.disconnect(); clearTimeout(timer); resolve(value); }};
  const check = () => {{ if (({TREE_TEXT}).trim()) done(true); }};
  const observer = new MutationObserver(check);
  const timer = setTimeout(() => done(false), %d);
  observer.observe(document, {{childList: true, subtree: true, characterData: true}});
  check();
}})"""
# Clicks every subtree toggle not clicked yet until two rounds in a row find none; false after the budget.
EXPAND = """(async budget => {
  const end = Date.now() + budget;
  for (let quiet = 0; quiet < 2; ) {
    if (Date.now() > end) return false;
    const toggles = [...document.querySelectorAll(
      '[data-testid=tree-subtree-toggle]:not([data-check-open])')];
    toggles.forEach(t => { t.setAttribute('data-check-open', '1'); t.click(); });
    quiet = toggles.length ? 0 : quiet + 1;
    await new Promise(next => setTimeout(next, 200));
  }
  return true;
})(%d)"""
PAGE_STATE = """JSON.stringify({
  readyState: document.readyState,
  dataDeclared: typeof window.allureReportData === 'object',
  dataReady: window.allureReportDataReady === true,
  text: (document.body ? document.body.innerText : '').slice(0, 300),
})"""


class CheckFailed(Exception):
    """The report could not be checked: the message says at which step and why."""


class Step:
    """One step of the check with its own deadline."""

    def __init__(self, what: str, seconds: float) -> None:
        self.what = what
        self.seconds = seconds
        self.started = time.monotonic()
        self.end = self.started + seconds

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise CheckFailed(f"gave up after {self.seconds:.0f} s {self.what}")
        return left

    def took(self) -> float:
        return time.monotonic() - self.started


class DevTools:
    """A Chrome DevTools protocol connection to the browser; page commands go to the attached tab."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self.events: list[dict] = []  # events that arrived while waiting for something else
        self.session: str | None = None

    def _receive(self, step: Step) -> dict:
        try:
            return json.loads(self._socket.recv(timeout=step.remaining()))
        except TimeoutError:
            step.remaining()  # raises CheckFailed naming the step
            raise

    def call(self, method: str, step: Step, **params: Any) -> dict:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        self._socket.send(json.dumps(message))
        while True:
            reply = self._receive(step)
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise CheckFailed(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, step: Step) -> dict:
        while True:
            for event in self.events:
                if event["method"] == method:
                    self.events.remove(event)
                    return event
            reply = self._receive(step)
            if "method" in reply:
                self.events.append(reply)

    def evaluate(self, expression: str, step: Step) -> Any:
        result = self.call(
            "Runtime.evaluate", step, expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise CheckFailed(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def requested(self, fragment: str) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent" and fragment in e["params"]["request"]["url"]
        ]


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


def browser_endpoint(profile: Path, browser: subprocess.Popen, step: Step) -> str:
    """The browser's DevTools address, from the file Chromium writes once it listens (port, then path)."""
    port_file = profile / "DevToolsActivePort"
    while True:
        lines = port_file.read_text().split() if port_file.exists() else []
        if len(lines) >= 2:  # both lines: the file is complete
            return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        if browser.poll() is not None:
            raise CheckFailed(f"Chromium exited with code {browser.returncode} before it listened")
        step.remaining()
        time.sleep(0.05)  # Chromium signals readiness only through this file


def diagnose(tools: DevTools) -> str:
    """What the page shows and fetched, for a step that timed out."""
    try:
        state = tools.evaluate(PAGE_STATE, Step("reading the page's state", 10))
    except (CheckFailed, TimeoutError) as error:
        state = f"(unreadable: {error})"
    fetched = tools.requested("/widgets/")
    hint = (
        f"; the page fetched {len(fetched)} widgets/*.json files beside it ({fetched[0]}, ...): its app "
        "started before its data was declared: build the report with scripts/report.sh, which runs "
        "tools/single_file_report.py"
        if fetched
        else ""
    )
    return f"page state: {state}{hint}"


def read_tree(report: Path, screenshot: Path | None, log: IO[bytes]) -> tuple[str, dict[str, float]]:
    """The expanded tree's text, and how long each step took."""
    profile = Path(tempfile.mkdtemp(prefix="report-check-chromium-"))
    browser = subprocess.Popen(
        [find_browser(), *FLAGS, f"--user-data-dir={profile}", "about:blank"], stdout=log, stderr=log
    )
    timings: dict[str, float] = {}
    try:
        start = Step("waiting for Chromium to start and open a tab", STARTUP_SECONDS)
        endpoint = browser_endpoint(profile, browser, start)
        with connect(endpoint, max_size=None, open_timeout=start.remaining()) as socket:
            tools = DevTools(socket)
            tab = tools.call("Target.createTarget", start, url="about:blank")["targetId"]
            attached = tools.call("Target.attachToTarget", start, targetId=tab, flatten=True)
            tools.session = attached["sessionId"]
            tools.call("Page.enable", start)
            tools.call("Network.enable", start)
            timings["start"] = start.took()

            load = Step("waiting for the report to load (DOMContentLoaded)", LOAD_SECONDS)
            navigation = tools.call("Page.navigate", load, url=report.resolve().as_uri())
            if navigation.get("errorText"):
                raise CheckFailed(f"opening {report} failed: {navigation['errorText']}")
            try:
                tools.wait_event("Page.domContentEventFired", load)
            except CheckFailed as error:
                raise CheckFailed(f"{error}; {diagnose(tools)}") from None
            timings["load"] = load.took()

            render = Step("waiting for the behaviours tree to render", RENDER_SECONDS)
            if not tools.evaluate(
                AWAIT_TREE % (RENDER_SECONDS * 1000), Step(render.what, RENDER_SECONDS + 10)
            ):
                raise CheckFailed(f"gave up after {RENDER_SECONDS} s {render.what}; {diagnose(tools)}")
            timings["render"] = render.took()

            expand = Step("expanding the behaviours tree", EXPAND_SECONDS)
            if not tools.evaluate(EXPAND % (EXPAND_SECONDS * 1000), Step(expand.what, EXPAND_SECONDS + 10)):
                raise CheckFailed(f"gave up after {EXPAND_SECONDS} s {expand.what}")
            timings["expand"] = expand.took()
            if screenshot is not None:
                shot = tools.call("Page.captureScreenshot", expand, format="png")["data"]
                screenshot.write_bytes(base64.b64decode(shot))
            return tools.evaluate(TREE_TEXT, expand), timings
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
    parser.add_argument(
        "--browser-log",
        type=Path,
        default=ROOT / "reports" / "report-in-browser.log",
        help="Chromium's output",
    )
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"no report at {args.report}: build it with bash scripts/report.sh")
        return 1
    started = time.monotonic()
    args.browser_log.parent.mkdir(parents=True, exist_ok=True)
    with args.browser_log.open("wb") as log:
        try:
            tree, timings = read_tree(args.report, args.screenshot, log)
        except CheckFailed as error:
            print(f"browser check failed after {time.monotonic() - started:.1f} s: {error}")
            print(f"Chromium's output: {args.browser_log}")
            return 1
    lines = {line.strip() for line in tree.splitlines()}
    wanted = [*expected_epics(), args.scenario]
    missing = [name for name in wanted if name not in lines]
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    print(
        f"report in Chromium ({time.monotonic() - started:.1f} s: {steps}): the behaviours tree shows "
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
