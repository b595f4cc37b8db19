"""Makes the single-file Allure report declare its data before its app starts, so it always renders.

    python -m tools.single_file_report reports/allure-report/single/index.html    # scripts/report.sh runs it

Allure 3.18's single-file template (``@allurereport/plugin-awesome``, ``generators.js``) puts the app's
script before the inline script that declares ``window.allureReportData``. The app reads its data from that
object when it exists, else fetches ``widgets/*.json`` beside the page. A browser parses a large page in
slices and may run the app's first effects between the two scripts, typically on a busy machine (a cold
first start in CI); the app then fetches files that a single-file report does not have, from file://, and
shows an empty tree for good. Measured with the browser check pinned to one busy CPU: without this
fix 3 of 5 opens showed no tree within 60 s (the CI failure); with it, 16 of 16 rendered.
Declaring the (empty) object ahead of the app makes it wait for the data's ready flag, which the template's
deferred data script sets. Idempotent; exits 1 if the page no longer has the shape this relies on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MARK = "<!-- single_file_report: data declared before the app -->"
DECLARE = f"{MARK}\n    <script>window.allureReportData = window.allureReportData || {{}};</script>\n    "
APP_SCRIPT = 'src="data:text/javascript;base64,'  # the app bundle, inlined by the single-file mode
DATA_SCRIPT = "window.allureReportData = window.allureReportData || {};"


class UnexpectedReport(ValueError):
    """The page does not look like the Allure single-file report this fix was written for."""


def declare_data_first(html: str) -> str:
    if MARK in html:
        return html
    app = html.find(APP_SCRIPT)
    data = html.find(DATA_SCRIPT)
    if app < 0 or data < 0:
        raise UnexpectedReport("no inlined app script or no data declaration: not a single-file report")
    if data < app:
        return html  # a template that already declares the data first needs nothing
    tag = html.rfind("<script", 0, app)
    return html[:tag] + DECLARE + html[tag:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path, help="the single-file report's index.html")
    args = parser.parse_args(argv)
    html = args.report.read_text(encoding="utf-8")
    try:
        fixed = declare_data_first(html)
    except UnexpectedReport as error:
        print(f"{args.report}: {error}; check the Allure version (see tools/single_file_report.py)")
        return 1
    if fixed != html:
        args.report.write_text(fixed, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
