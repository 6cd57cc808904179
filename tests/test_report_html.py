"""The HTML report opened in headless Chromium: the charts render, offline, without errors.

One browser for the module. Skipped, saying why, where Debian's ``chromium`` or the
``playwright`` package is missing (``.ci/run`` installs chromium when absent).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import altair as alt
import pytest
from click.testing import CliRunner

import fulfilhub.cli as cli_mod
from fulfilhub import ReportSection, hookimpl
from fulfilhub.cli import main
from fulfilhub.cli import report as report_cli
from fulfilhub.plugins import PluginManager
from fulfilhub.store import Store

from . import kpi_world as w

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

# marks Vega draws in SVG: bars, lines, points, rules, ticks
MARKS = ".role-mark path, .role-mark line"  # a data mark: a bar, line, point, rule or tick (not an axis)


class _Refs(HTMLParser):
    """Every script src and link href in a document."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts += 1
            if found.get("src"):
                self.refs.append(found["src"] or "")
        if tag in ("link", "img", "iframe") and (found.get("href") or found.get("src")):
            self.refs.append(found.get("href") or found.get("src") or "")


def _section_chart(data):
    return [alt.Chart(alt.Data(values=[{"what": "spent", "usd": 12}, {"what": "budget", "usd": 100}]))
            .mark_bar().encode(x="what:N", y="usd:Q")]


def _write_report(folder: Path, store: Store, *args: str) -> Path:
    config = folder / "fulfilhub.toml"
    config.write_text(f'[store]\nurl = "{store.url}"\n', encoding="utf-8")
    out = folder / "report.html"
    result = CliRunner().invoke(main, ["-c", str(config), "report", *args, "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout
    return out


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """(the hand-built world's report with an extra section, an empty store's report)."""
    full_dir, empty_dir = tmp_path_factory.mktemp("full"), tmp_path_factory.mktemp("empty")
    full = Store.open("sqlite:///" + str(full_dir / "t.sqlite"), migrate=True)
    empty = Store.open("sqlite:///" + str(empty_dir / "t.sqlite"), migrate=True)
    try:
        w.build(full)
        class Budget:
            @hookimpl
            def register_report_sections(self, register):
                register(ReportSection(name="test_budget", title="Test budget <spent>",
                                       collect=lambda conn, window: {"spent": 12}, rows=lambda d: [("spent", "12 USD")],
                                       charts=_section_chart))

        before, cli_mod._MANAGER = cli_mod._MANAGER, PluginManager(load_installed=False, extra=[Budget()])
        try:
            full_html = _write_report(full_dir, full, "--since", "2026-03-01", "--until", "2026-03-20")
        finally:
            cli_mod._MANAGER = before
        empty_html = _write_report(empty_dir, empty)
    finally:
        full.close()
        empty.close()
    return full_html, empty_html


def test_the_file_references_nothing_outside_itself(reports):
    for path in reports:
        parser = _Refs()
        parser.feed(path.read_text(encoding="utf-8"))
        assert parser.scripts >= 2 and parser.refs == []
    text = reports[0].read_text(encoding="utf-8")
    assert "Test budget &lt;spent&gt;" in text and "66.7% (4 of 6)" in text and "10.75 USD" in text


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _open(browser, path: Path):
    """Load the file with every network request refused; return (page, errors, requests off the file)."""
    page = browser.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def refuse(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", refuse)
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-charts]", timeout=30_000)
    return page, errors, outside


def _marks(page, chart_id: str, selector: str = MARKS) -> int:
    return page.eval_on_selector_all(
        f"#{chart_id} svg", f"svgs => svgs.reduce((n, s) => n + s.querySelectorAll({json.dumps(selector)}).length, 0)")


def test_the_charts_render_in_chromium_offline_without_errors(browser, reports):
    page, errors, outside = _open(browser, reports[0])
    try:
        assert page.get_attribute("body", "data-charts") == "6"
        assert (errors, outside) == ([], [])
        ids = page.eval_on_selector_all("div.chart", "els => els.map(e => e.id)")
        assert ids == ["chart-weekly", "chart-lateness", "chart-carriers", "chart-backtest-0",
                       "chart-accuracy-0", "chart-test_budget-0"]
        assert _marks(page, "chart-accuracy-0", ".mark-rect.role-mark path") >= 1  # a bar per warehouse
        # two weeks due: one line through two points
        assert _marks(page, "chart-weekly", ".mark-line.role-mark path") == 1
        assert _marks(page, "chart-weekly", ".mark-symbol.role-mark path") == 2
        # days -2, -1, 0, +2 and "not delivered"
        assert _marks(page, "chart-lateness", ".mark-rect.role-mark path") == 5
        # bars: two carriers x (on time, within stated, exceptions), and each carrier's stated-days tick
        # (Vega draws a tick as a rect); its transit p50-p90 a rule, its p50 a point
        assert _marks(page, "chart-carriers", ".mark-rect.role-mark path") == 2 * 3 + 2
        assert _marks(page, "chart-carriers", ".mark-rule.role-mark line") == 2
        assert _marks(page, "chart-carriers", ".mark-symbol.role-mark path") == 2
        # three targets and the promises made
        assert _marks(page, "chart-backtest-0", ".mark-symbol.role-mark path") == 4
        assert _marks(page, "chart-test_budget-0", ".mark-rect.role-mark path") == 2
        assert "UPS (easypost)" in page.inner_text("#chart-carriers")
    finally:
        page.close()


def test_an_empty_store_says_there_is_nothing_to_chart(browser, reports):
    page, errors, outside = _open(browser, reports[1])
    try:
        assert page.get_attribute("body", "data-charts") == "0"
        assert (errors, outside) == ([], [])
        text = page.inner_text("body")
        assert "No promise was due in this window: no weekly trend." in text
        assert "No shipment was handed to a carrier in this window." in text
    finally:
        page.close()
