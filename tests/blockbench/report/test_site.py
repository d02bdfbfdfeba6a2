from __future__ import annotations

import hashlib
import html
import json
import re
import shlex
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import markupsafe
import plotly
import pytest
from typer.testing import CliRunner

from blockbench.apps import upstream_clients
from blockbench.cli import app
from blockbench.load import scenarios
from blockbench.report import claims
from blockbench.report import site as report
from blockbench.report.verdict import verdicts
from blockbench.results import Run, save_run
from blockbench.targets import catalogue
from tests import recorded
from tests.blockbench.report.pages import broken_links, parse, parse_run, run_pages
from tests.blockbench.synthetic import (
    make_client_run,
    make_large_run,
    make_run,
    without_bounds,
)

CHARTS = ("throughput", "latency", "failures", "resources")
# What a run page and everything it loads may weigh, all told (issue 12: a lighter site).
PAGE_WEIGHT = 2_000_000
BUNDLE = report.ASSET_SOURCES / "plotly.min.js"
BUNDLE_NOTE = report.ASSET_SOURCES / "plotly.min.js.LICENSE.txt"


def page_of(site: Path, run: Run) -> Path:
    return site / "runs" / report.slug(run.run_id) / "index.html"


def scenario_page(overview: Path, number: int = 1) -> Path:
    return overview.parent / f"scenario-{number}.html"


def test_every_run_has_a_page_and_its_results_beside_it(
    site: Path, runs: list[Run], results_dir: Path
) -> None:
    for run in runs:
        page = page_of(site, run)
        assert page.is_file()
        stored = (results_dir / run.run_id / "run.json").read_bytes()
        assert (page.parent / "run.json").read_bytes() == stored


def test_the_verdict_comes_first_with_a_sentence_per_scenario(site: Path, runs: list[Run]) -> None:
    for run in runs:
        parsed = parse(page_of(site, run))
        assert parsed.sections[0] == "verdict"
        for item in verdicts(run):
            assert " ".join(item.sentence.split()) in parsed.text
        assert {"method", "environment"} <= set(parsed.sections)


def test_every_scenario_has_every_chart(site: Path, runs: list[Run]) -> None:
    for run in runs:
        for number in range(1, len(run.scenarios) + 1):
            # On the scenario's own page, and no other.
            parsed = parse(scenario_page(page_of(site, run), number))
            assert parsed.sections == [f"scenario-{number}"]
            assert {name.split("-")[1] for name in parsed.figures} == {str(number)}
            for kind in CHARTS:
                chart = f"scenario-{number}-{kind}"
                assert chart in parsed.ids
                figure = parsed.figures[f"{chart}-data"]
                assert figure["data"], f"{chart} has no traces"
                assert any(trace.get("y") for trace in figure["data"])


def test_the_page_says_how_to_reproduce(site: Path, runs: list[Run]) -> None:
    for run in runs:
        text = parse(page_of(site, run)).text
        assert shlex.join(run.command) in text
        assert run.environment.cpu_model in text
        assert "coordinated omission" in text.lower()


def test_links_resolve_and_stay_inside_the_site(site: Path) -> None:
    assert broken_links(site) == []


def test_a_runs_overview_and_scenario_pages_link_each_other(site: Path, runs: list[Run]) -> None:
    for run in runs:
        overview = page_of(site, run)
        pages = [scenario_page(overview, n) for n in range(1, len(run.scenarios) + 1)]
        assert run_pages(overview) == [overview, *pages]
        # Links made when the run was one page still land on each scenario, in its verdict.
        assert {f"scenario-{n}" for n in range(1, len(run.scenarios) + 1)} <= parse(overview).ids
        for page in pages:
            hrefs = {value for tag, _, value in parse(page).links if tag == "a"}
            assert {"index.html", "index.html#method-bounds", "run.json"} <= hrefs
            assert {other.name for other in pages} <= hrefs


def test_a_rebuilt_run_keeps_no_page_of_a_scenario_it_lost(tmp_path: Path) -> None:
    run = make_run()
    overview = built_page(tmp_path, run)
    assert scenario_page(overview, 2).is_file()
    fewer = run.model_copy(
        update={
            "scenarios": run.scenarios[:1],
            "cells": [cell for cell in run.cells if cell.scenario == run.scenarios[0]],
            "aggregates": [a for a in run.aggregates if a.scenario == run.scenarios[0]],
        }
    )
    built_page(tmp_path, fewer)
    assert scenario_page(overview, 1).is_file()
    assert not scenario_page(overview, 2).exists()
    assert broken_links(tmp_path / "reports") == []


def test_nothing_is_fetched_from_elsewhere(site: Path) -> None:
    for page in site.rglob("*.html"):
        for tag, attribute, value in parse(page).links:
            external = re.match(r"^[a-z][a-z0-9+.-]*:|^//", value) and not value.startswith("data:")
            assert not external, f"{page}: <{tag} {attribute}={value!r}>"
    for own in ("report.css", "report.js"):
        text = (site / "assets" / own).read_text()
        assert "://" not in text and "@import" not in text


def loaded(page: Path) -> set[Path]:
    """The page and every file a browser fetches to show it: scripts, stylesheets, images."""
    fetched = {("script", "src"), ("link", "href"), ("img", "src")}
    return {page.resolve()} | {
        (page.parent / unquote(urlsplit(value).path)).resolve()
        for tag, attribute, value in parse(page).links
        if (tag, attribute) in fetched and not value.startswith("data:")
    }


def test_a_run_page_with_what_it_loads_weighs_under_two_megabytes(
    site: Path, runs: list[Run], tmp_path: Path
) -> None:
    # The recorded runs, and a quick profile's five targets with bounds and plateau labels.
    quick = report.build_site(recorded.BOUNDS, tmp_path / "quick")
    for overview in (*(page_of(site, run) for run in runs), quick):
        assert_light(overview)


def assert_light(overview: Path) -> None:
    """Each page of the run, with what it loads, under PAGE_WEIGHT; plotly.js where it draws."""
    pages = run_pages(overview)
    assert len(pages) > 1, f"{overview} links no scenario page"
    for page in pages:
        files = loaded(page)
        names = {path.name for path in files}
        assert {"report.js", "report.css"} <= names
        assert ("plotly.min.js" in names) == bool(parse(page).figures), page
        weight = sum(path.stat().st_size for path in files)
        assert weight < PAGE_WEIGHT, f"{page}: {weight} bytes with {sorted(map(str, files))}"


def test_every_page_of_a_run_larger_than_the_full_profile_weighs_under_two_megabytes(
    tmp_path: Path,
) -> None:
    # Every scenario at the full profile's levels on 20 targets (the catalogue's 13 and 7 more,
    # as issue 13's will be), two repeats (the published run has one), the httpx variants set
    # beside their targets: what grows with targets must not outgrow a page.
    run = make_large_run(targets=20)
    overview = built_page(tmp_path, run)
    assert_light(overview)
    whole = parse_run(overview)
    assert {f"scenario-{n}-{kind}" for n in range(1, 10) for kind in CHARTS} <= whole.ids
    for target in run.targets:
        assert target in parse(scenario_page(overview, 1)).text
    assert broken_links(tmp_path / "reports") == []


def test_the_plotly_bundle_is_the_version_plotly_checks_the_figures_against() -> None:
    version = plotly.offline.get_plotlyjs_version()
    header = re.search(r"plotly\.js \(cartesian - minified\) v(\S+)", BUNDLE.read_text()[:200])
    assert header is not None and header[1] == version
    # Where it came from, byte for byte, and its licence, which travels with it to the site.
    note = BUNDLE_NOTE.read_text()
    assert f"plotly.js-cartesian-dist-min, version {version}, unmodified" in note
    assert (
        f"sha256 of plotly-cartesian.min.js: {hashlib.sha256(BUNDLE.read_bytes()).hexdigest()}"
        in note
    )
    assert "Permission is hereby granted, free of charge" in note


def test_the_plotly_bundle_draws_every_trace_type_the_pages_use(site: Path, tmp_path: Path) -> None:
    registered = set(re.findall(r'moduleType:"trace",name:"(\w+)"', BUNDLE.read_text()))
    # A heatmap too, which the scaling charts of issue 14 will draw.
    assert {"scatter", "heatmap"} <= registered
    clients = make_client_run()
    save_run(tmp_path / "results" / clients.run_id, clients)
    report.build_site(tmp_path / "results", tmp_path / "site")
    pages = [*site.rglob("*.html"), *(tmp_path / "site").rglob("*.html")]
    used = {
        trace.get("type", "scatter")
        for page in pages
        for figure in parse(page).figures.values()
        for trace in figure["data"]
    }
    assert used and used <= registered


def test_the_index_lists_every_run_newest_first(site: Path, runs: list[Run]) -> None:
    parsed = parse(site / "index.html")
    hrefs = [value for _, name, value in parsed.links if value.startswith("runs/")]
    newest_first = sorted(runs, key=lambda run: run.created, reverse=True)
    # Each run's page, then its other pages (here: its claims) where it has them.
    pages = [href for href in hrefs if href.endswith("/index.html")]
    assert pages == [f"runs/{report.slug(run.run_id)}/index.html" for run in newest_first]
    for href in hrefs:
        assert href.rsplit("/", 1)[1] in {
            "index.html",
            "map.html",
            "replications.html",
            "claims.html",
        }


def test_the_index_keeps_runs_whose_results_are_elsewhere(tmp_path: Path) -> None:
    # Two machines' results, reported one after the other into the same site.
    for run_id in ("20250101-000000-a", "20250102-000000-b"):
        save_run(tmp_path / f"results-{run_id}" / run_id, make_run(run_id))
        report.build_site(tmp_path / f"results-{run_id}", tmp_path / "reports")
    hrefs = [value for _, _, value in parse(tmp_path / "reports" / "index.html").links]
    assert "runs/20250101-000000-a/index.html" in hrefs
    assert "runs/20250102-000000-b/index.html" in hrefs


def test_the_same_results_give_the_same_bytes(results_dir: Path, tmp_path: Path) -> None:
    report.build_site(results_dir, tmp_path / "one")
    report.build_site(results_dir, tmp_path / "two")
    one, two = (
        {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
        for root in (tmp_path / "one", tmp_path / "two")
    )
    assert one == two


def test_text_from_results_is_shown_as_text(tmp_path: Path) -> None:
    hostile_run = "<script>window.pwned=1</script>"
    hostile_target = '<img src=x onerror="window.pwned=2">'
    run = make_run(hostile_run, rename={"flask-sync": hostile_target})
    save_run(tmp_path / "results" / "hostile", run)
    page = report.build_site(tmp_path / "results", tmp_path / "reports")
    for built in (*run_pages(page), tmp_path / "reports" / "index.html"):
        text = built.read_text()
        assert "<script>window" not in text and "<img src=x" not in text
        assert html.escape(hostile_run, quote=False) in text
    # As Jinja escapes it: quotes too.
    assert str(markupsafe.escape(hostile_target)) in page.read_text()
    assert str(markupsafe.escape(hostile_target)) in scenario_page(page).read_text()
    assert page.parent.name == report.slug(hostile_run)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", page.parent.name)


def test_an_unfinished_run_still_gets_a_page(tmp_path: Path) -> None:
    run = make_run("20250101-000000-unfinished")
    cells = [
        cell.model_copy(update={"levels": [], "error": "target did not start: port in use"})
        if cell.target == "flask-gthread"
        else cell
        for cell in run.cells
    ]
    run = run.model_copy(update={"status": "running", "finished": None, "cells": cells})
    save_run(tmp_path / "results" / run.run_id, run.model_copy(update={"aggregates": []}))
    text = parse(report.build_site(tmp_path / "results", tmp_path / "reports")).text
    assert "This run is running" in text
    assert "no aggregates yet" in text
    assert "target did not start: port in use" in text


def test_an_unknown_run_names_the_runs_there(results_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(report.ReportError, match="the runs there: 2") as caught:
        report.build_site(results_dir, tmp_path, ["no-such-run"])
    assert "no-such-run" in str(caught.value)


def test_slugs_are_file_names_and_stay_apart() -> None:
    assert report.slug("20250301-101500-quick") == "20250301-101500-quick"
    assert report.slug("a/b") != report.slug("a b")
    assert "/" not in report.slug("../../etc")


def test_the_report_command(results_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["report", "--results", str(results_dir), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "index.html").is_file()
    assert "Report:" in result.output


def test_the_report_command_explains_an_unknown_run(results_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["report", "nope", "--results", str(results_dir), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "no run 'nope'" in result.output
    assert not (tmp_path / "index.html").exists()


def test_the_http_client_note_appears_only_with_upstream_scenarios(tmp_path: Path) -> None:
    plain = make_run("20250301-101500-plain")
    upstream = make_client_run("20250301-101500-upstream")
    for run in (plain, upstream):
        save_run(tmp_path / "results" / run.run_id, run)
    report.build_site(tmp_path / "results", tmp_path / "site")
    note = "The HTTP client of the upstream scenarios"
    assert note not in parse(tmp_path / "site/runs/20250301-101500-plain/index.html").text
    text = parse(tmp_path / "site/runs/20250301-101500-upstream/index.html").text
    assert note in text
    # Each model's default as upstream_clients has it, not as the page was once written.
    for name in upstream_clients.DEFAULTS.values():
        assert f"{name} for " in text
    assert "In this run: aiohttp 3.14.5 : starlette-uvicorn httpx 0.28.1 :" in text
    # The http-client profile's targets, by name, as its tags select them from the catalogue.
    profile = scenarios.load().profile("http-client")
    chosen = profile.targets.pick(catalogue.load(cores=1).targets)
    assert "flask-gthread-httpx" in chosen
    assert f"on the targets {', '.join(chosen)}, each default next to a variant" in text
    # The caveat it replaces, with its numbers from one machine, is gone.
    assert "also measure the HTTP client" not in text


def test_a_merged_run_says_how_to_reproduce_each_of_its_scenarios(tmp_path: Path) -> None:
    from blockbench.engine import merge

    base = make_run("20250101-000000-base")
    scenario = base.scenarios[-1]
    again = base.model_copy(
        update={
            "run_id": "20250102-000000-again",
            "scenarios": [scenario],
            "cells": [cell for cell in base.cells if cell.scenario == scenario],
            "command": ["blockbench", "run", "--scenarios", scenario, "--repeat", "3"],
        }
    )
    merged = merge.merge(base, [again], "20250103-000000-merged")
    save_run(tmp_path / "results" / merged.run_id, merged)
    text = parse(report.build_site(tmp_path / "results", tmp_path / "reports")).text
    assert "This run was merged" in text
    assert "each part of it was measured by its own run" in text
    assert shlex.join(base.command) in text
    assert f"blockbench run --scenarios {scenario} --repeat 3" in text


def built_page(tmp_path: Path, run: Run) -> Path:
    save_run(tmp_path / "results" / run.run_id, run)
    return report.build_site(tmp_path / "results", tmp_path / "reports")


def caps_rows(page: Path) -> dict[str, str]:
    """Each target's row of the first scenario's caps table, as text."""
    rows = _Rows("caps")
    rows.feed(page.read_text())
    return rows.found


def test_the_caps_table_names_what_limits_each_target_at_its_peak(tmp_path: Path) -> None:
    page = scenario_page(built_page(tmp_path, make_run()))
    assert "Plateau the caps allow" not in page.read_text()
    rows = caps_rows(page)
    sync = rows["flask-sync"]
    assert "worker processes: 29.7 req/s" in sync
    assert "= 3 in flight / 100 ms waiting + 0.9 ms of CPU" in sync
    assert "gunicorn --threads: 317 req/s" in rows["flask-gthread"]
    # Its 100 users were no result: its peak, and what limited it there, is at 20.
    assert "users: 199 req/s" in rows["starlette-uvicorn"]


def test_a_run_whose_levels_have_no_bounds_still_gets_a_page(tmp_path: Path) -> None:
    page = scenario_page(built_page(tmp_path, without_bounds(make_run())))
    rows = caps_rows(page)
    assert rows["flask-sync"].endswith("—")
    throughput = parse(page).figures["scenario-1-throughput-data"]
    assert "limited by" not in json.dumps(throughput)


def test_the_method_explains_the_bounds_in_plain_words(tmp_path: Path) -> None:
    text = parse(built_page(tmp_path, make_run())).text
    assert "Little's-law ceiling" not in text
    for words in (
        "The bounds on throughput, and efficiency",
        "N users whose requests take at least R0",
        "The target's cores.",
        "The CPU a request costs is measured at every level",
        "The utilisation law, checked on every level",
        "differ by more than 15%",
        "A plateau below its bound",
        "the asymptotic bounds of a closed system are known to be loosest",
    ):
        assert words in text


class _Rows(HTMLParser):
    """The rows of the first table of a class: target name to the row's text."""

    def __init__(self, table_class: str) -> None:
        super().__init__(convert_charrefs=True)
        self.table_class = table_class
        self.found: dict[str, str] = {}
        self._state = "before"
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and self._state == "before" and ("class", self.table_class) in attrs:
            self._state = "in"
        elif tag == "tr" and self._state == "in":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._state == "in":
            self._state = "after"
        elif tag == "tr" and self._row is not None:
            text = " ".join("".join(self._row).split())
            name = text.split(" ")[0] if text else ""
            self.found[name] = text
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is not None:
            self._row.append(data)


def test_the_claims_page_is_linked_only_where_the_run_has_claims(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = make_run()
    for answer in (True, False):
        monkeypatch.setattr(claims, "present", lambda run, answer=answer: answer)
        assert ("claims.html" in dict(report.extra_pages(run))) is answer
