"""The pages in a real browser: Debian's headless Chromium opens them from disk.

Skipped where Chromium is not installed, except on CI (CI set), where that is a failure.
Screenshots and a printed PDF are kept in test-artifacts/report/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from blockbench.report import claims, open_loop
from blockbench.report import site as report
from blockbench.results import Run, save_run
from tests.blockbench.report.browser import Browser, Page
from tests.blockbench.report.map_runs import OURS, DecisionMap, known, make_map_run
from tests.blockbench.report.open_loop_runs import HOCKEY, make_open_loop_run
from tests.blockbench.synthetic import make_client_run, make_run

ARTIFACTS = Path(__file__).parents[3] / "test-artifacts" / "report"
CHROMIUM = os.environ.get("BLOCKBENCH_CHROMIUM", "/usr/bin/chromium")
# True once every chart holds a drawn SVG with at least one trace in it.
CHARTS_DRAWN = """
document.body.dataset.charts === "drawn" &&
Array.from(document.querySelectorAll(".chart")).every(chart => {
  const svg = chart.querySelector("svg.main-svg");
  const box = svg && svg.getBoundingClientRect();
  return box && box.width > 0 && box.height > 0 &&
    chart.querySelectorAll(".scatterlayer .trace").length > 0;
})
"""

# Hovers over the first point of the first chart's first line; returns the label's text.
HOVER = """
(() => {
  const chart = document.querySelector(".chart");
  Plotly.Fx.hover(chart, [{curveNumber: 0, pointNumber: 0}]);
  return chart.querySelector(".hoverlayer").textContent;
})()
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which(CHROMIUM)
    if executable is None:
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with Browser(Path(executable)) as opened:
        yield opened


def problems(page: Page, site: Path) -> list[str]:
    """The page's console errors, then every URL it requested from outside ``site``."""
    # So that requests are seen at all; a request never carries the URL's #fragment.
    assert page.page.url.partition("#")[0] in page.requested()
    inside = (site.resolve().as_uri(), "data:")
    return page.console_errors() + [u for u in page.requested() if not u.startswith(inside)]


def assert_clean(page: Page, site: Path) -> None:
    assert problems(page, site) == []


# A page that does each thing assert_clean must catch: it logs an error, throws, loads a missing
# file, breaks its own Content-Security-Policy, and fetches from outside its folder.
NOISY = """<!doctype html>
<meta http-equiv="Content-Security-Policy" content="script-src 'self'">
<script src="noisy.js"></script>
<script>window.inline = 1</script>
<img src="missing.png">
<img src="{outside}">
"""
NOISY_SCRIPT = "console.error('logged on purpose'); throw new Error('thrown on purpose');"


def test_what_a_page_does_wrong_is_seen(browser: Browser, tmp_path: Path, closed_port: int) -> None:
    outside = f"http://127.0.0.1:{closed_port}/outside.png"
    (tmp_path / "noisy.js").write_text(NOISY_SCRIPT)
    path = tmp_path / "noisy.html"
    path.write_text(NOISY.format(outside=outside))
    page = browser.open(path.as_uri())
    found = problems(page, tmp_path)
    errors = "\n".join(found[:-1])
    assert "logged on purpose" in errors
    assert "thrown on purpose" in errors
    assert "missing.png" in errors
    assert "Content Security Policy" in errors
    assert page.evaluate("typeof window.inline") == "undefined"
    assert found[-1] == outside


def test_the_index_opens_without_errors(browser: Browser, site: Path) -> None:
    page = browser.open((site / "index.html").as_uri())
    assert page.evaluate("document.querySelectorAll('a[href^=\"runs/\"]').length") > 0
    assert_clean(page, site)
    page.screenshot(ARTIFACTS / "index.png")


def test_a_run_page_draws_every_chart(browser: Browser, site: Path, runs: list[Run]) -> None:
    run = max(runs, key=lambda run: run.created)
    path = site / "runs" / report.slug(run.run_id) / "index.html"
    # The overview: verdict, method, environment, and no chart (nor plotly.js) to draw.
    overview = browser.open(path.as_uri())
    overview.wait_until(CHARTS_DRAWN)
    assert overview.evaluate("document.querySelectorAll('.chart').length") == 0
    assert overview.evaluate("typeof window.Plotly") == "undefined"
    assert_clean(overview, site)
    overview.screenshot(ARTIFACTS / "run.png")
    # Each scenario's page: its four charts.
    for number in range(len(run.scenarios), 0, -1):
        page = browser.open((path.parent / f"scenario-{number}.html").as_uri())
        page.wait_until(CHARTS_DRAWN)
        assert page.evaluate("document.querySelectorAll('.chart').length") == 4
        assert "req/s" in page.evaluate(HOVER)
        assert_clean(page, site)
    page.screenshot(ARTIFACTS / "run-scenario-1.png")
    page.screenshot(ARTIFACTS / "run-full.png", full_page=True)
    # On paper: the script opens the tables and fits the charts to the page.
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.evaluate("Array.from(document.querySelectorAll('details')).every(d => d.open)")
    assert page.pdf(ARTIFACTS / "run.pdf").stat().st_size > 10_000
    assert page.console_errors() == []


def test_hostile_names_stay_text_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    run = make_run(
        "<script>window.pwned=1</script>",
        rename={"flask-sync": "<img src=x onerror=window.pwned=2>"},
    )
    save_run(tmp_path / "results" / "hostile", run)
    path = report.build_site(tmp_path / "results", tmp_path / "reports")
    overview = browser.open(path.as_uri())
    assert overview.evaluate("typeof window.pwned") == "undefined"
    assert overview.evaluate("document.querySelector('h1 .id').textContent") == run.run_id
    assert_clean(overview, tmp_path / "reports")
    page = browser.open((path.parent / "scenario-1.html").as_uri())
    page.wait_until(CHARTS_DRAWN)
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.evaluate("document.querySelector('h1 .id').textContent") == run.run_id
    legend = page.evaluate(
        "Array.from(document.querySelectorAll('.legendtext')).map(t => t.textContent)"
    )
    assert "<img src=x onerror=window.pwned=2>" in legend
    assert page.evaluate(HOVER).startswith("<img src=x onerror=window.pwned=2>")
    assert_clean(page, tmp_path / "reports")


def _drawn(browser: Browser, tmp_path: Path, run: Run, name: str = "scenario-1.html") -> Page:
    """A page of the run (its first scenario's) built and opened, once its charts are drawn."""
    save_run(tmp_path / "results" / run.run_id, run)
    path = report.build_site(tmp_path / "results", tmp_path / "reports")
    page = browser.open((path.parent / name).as_uri())
    page.wait_until(CHARTS_DRAWN)
    return page


def test_the_client_section_draws_its_chart(browser: Browser, tmp_path: Path) -> None:
    run = make_client_run()
    page = _drawn(browser, tmp_path, run)
    # The scenario's four, and the one of its target beside its httpx variant.
    assert page.evaluate("document.querySelectorAll('.chart').length") == 4 * len(run.scenarios) + 1
    drawn = page.evaluate(
        "document.querySelectorAll('#scenario-1-http-client .chart .scatterlayer .trace').length"
    )
    assert drawn >= 2
    assert_clean(page, tmp_path / "reports")
    page.screenshot(ARTIFACTS / "run-http-client.png", element="#scenario-1-http-client")


def test_each_plateau_is_labelled_on_the_drawn_chart(browser: Browser, tmp_path: Path) -> None:
    run = make_run()
    page = _drawn(browser, tmp_path, run)
    labels = page.evaluate(
        "Array.from(document.querySelectorAll('#scenario-1-throughput .annotation-text'))"
        ".map(t => t.textContent)"
    )
    assert "limited by worker processes" in labels
    assert "limited by gunicorn --threads" in labels
    assert_clean(page, tmp_path / "reports")
    page.screenshot(ARTIFACTS / "run-bounds.png", element="#scenario-1-throughput-figure")


def test_an_old_link_to_a_chart_goes_on_to_its_scenario_page(
    browser: Browser, tmp_path: Path
) -> None:
    # A link from when a run was one page: index.html#scenario-2-throughput.
    overview = _drawn(browser, tmp_path, make_run(), "index.html")
    page = browser.open(overview.evaluate("location.href") + "#scenario-2-throughput")
    page.wait_until("location.pathname.endsWith('/scenario-2.html')")
    page.wait_until(CHARTS_DRAWN)
    assert page.evaluate("location.hash") == "#scenario-2-throughput"
    assert page.evaluate("document.getElementById('scenario-2-throughput') !== null")
    assert_clean(page, tmp_path / "reports")
    # An id still on the overview stays there.
    kept = browser.open(overview.evaluate("location.href") + "#scenario-2")
    kept.wait_until(CHARTS_DRAWN)
    assert kept.evaluate("location.pathname").endswith("/index.html")


def test_the_claims_page_opens_without_errors(browser: Browser, tmp_path: Path) -> None:
    run = make_run()
    save_run(tmp_path / "results" / run.run_id, run)
    overview = report.build_site(tmp_path / "results", tmp_path / "reports")
    page = browser.open((overview.parent / "claims.html").as_uri())
    # One block per claim, each with a verdict or what would measure it.
    shown = page.evaluate("document.querySelectorAll('article.claim').length")
    assert shown == len(claims.CLAIMS)
    assert page.evaluate("document.querySelectorAll('article.claim .verdict').length") > 0
    assert_clean(page, tmp_path / "reports")
    page.screenshot(ARTIFACTS / "claims.png", full_page=True)


# Every chart of a page drawn, with at least one heatmap in it (the decision map's charts).
HEATMAPS_DRAWN = """
document.body.dataset.charts === "drawn" &&
Array.from(document.querySelectorAll(".chart")).every(chart => {
  const svg = chart.querySelector("svg.main-svg");
  const box = svg && svg.getBoundingClientRect();
  return box && box.width > 0 && box.height > 0 &&
    chart.querySelectorAll(".heatmaplayer image").length > 0;
})
"""


def test_the_decision_map_draws_its_heatmaps_and_finds_an_endpoint(
    browser: Browser, tmp_path: Path, map_catalogue: DecisionMap
) -> None:
    invalid = {("map-20ms-0ms", "starlette-uvicorn", 100)}
    run = make_map_run(map_catalogue, known, invalid=invalid, replications=OURS)
    save_run(tmp_path / "results" / run.run_id, run)
    overview = report.build_site(tmp_path / "results", tmp_path / "reports")
    page = browser.open((overview.parent / "map.html").as_uri())
    page.wait_until(HEATMAPS_DRAWN)
    # Per level: the margins, the event loop's (with its boundary), the targets' surfaces.
    assert page.evaluate("document.querySelectorAll('.chart').length") == 6
    assert (
        page.evaluate(
            "document.querySelectorAll('#map-0-100-event-loop .scatterlayer .trace').length"
        )
        == 1
    )
    hover = page.evaluate(
        """(() => {
          const chart = document.getElementById("map-0-100-margin");
          Plotly.Fx.hover(chart, {xval: 2, yval: 0});
          return chart.querySelector(".hoverlayer").textContent;
        })()"""
    )
    assert "20 ms wait" in hover and "not compared: starlette-uvicorn" in hover
    # A reader's endpoint: 30 ms of wait, 2 ms of CPU; the nearest cell is 20 ms, 2 ms.
    page.page.fill("[data-finder-wait]", "30")
    page.page.fill("[data-finder-cpu]", "2")
    found = page.evaluate(
        "Array.from(document.querySelectorAll('td.found'))"
        ".map(c => c.dataset.wait + '/' + c.dataset.cpu)"
    )
    assert found == ["20/2", "20/2"]
    result = page.evaluate("document.querySelector('[data-finder-result]').textContent")
    assert result.startswith("Nearest measured cell: 20 ms of wait, 2 ms of CPU.")
    assert "At 100 users: event loop flask-gthread 2.0×" in result
    assert_clean(page, tmp_path / "reports")
    page.screenshot(ARTIFACTS / "map.png", full_page=True)
    replicated = browser.open((overview.parent / "replications.html").as_uri())
    replicated.wait_until("document.body.dataset.charts === 'drawn'")
    assert_clean(replicated, tmp_path / "reports")
    replicated.screenshot(ARTIFACTS / "replications.png", full_page=True)


def test_the_open_loop_page_draws_its_hockey_sticks(browser: Browser, tmp_path: Path) -> None:
    run = make_open_loop_run(HOCKEY)
    page = _drawn(browser, tmp_path, run, open_loop.PAGE)
    # Per scenario: the p99 chart (with the objective and the crossings), the p50 one.
    assert page.evaluate("document.querySelectorAll('.chart').length") == 2
    legend = page.evaluate(
        "Array.from(document.querySelectorAll('#open-loop-0-p99 .legendtext'))"
        ".map(t => t.textContent)"
    )
    assert "the objective: p99 under 1 s" in legend
    assert "tick: where p99 crosses the objective" in legend
    # The first point of the first line: flask-sync at 10 req/s.
    hover = page.evaluate(HOVER)
    assert "offered 10 req/s" in hover and "p99 from the intended send 110 ms" in hover
    assert_clean(page, tmp_path / "reports")
    page.screenshot(ARTIFACTS / "open-loop.png", full_page=True)
