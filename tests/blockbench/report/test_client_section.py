from __future__ import annotations

import json
from pathlib import Path

import pytest

from blockbench import formats
from blockbench.report import client_section, palette
from blockbench.report import site as report
from blockbench.report.points import scenarios
from blockbench.results import Run, save_run
from tests.blockbench.report.pages import broken_links, parse, parse_run
from tests.blockbench.synthetic import CLIENTS, make_client_run, make_run

SECTION = "http-client"


def pairs_of(run: Run) -> tuple[client_section.Pair, ...]:
    (upstream,) = scenarios(run)
    return client_section.pairs(upstream, palette.styles(run.targets), "s1")


def rps(run: Run, target: str, users: int) -> float:
    (found,) = [a.rps for a in run.aggregates if (a.target, a.users) == (target, users)]
    return found


def build(tmp_path: Path, run: Run) -> Path:
    save_run(tmp_path / "results" / run.run_id, run)
    return report.build_site(tmp_path / "results", tmp_path / "reports")


def test_a_target_and_its_variant_make_the_only_pair() -> None:
    (pair,) = pairs_of(make_client_run())
    assert (pair.base.target, pair.variant.target) == (
        "starlette-uvicorn",
        "starlette-uvicorn-httpx",
    )
    assert (pair.base.client, pair.variant.client) == ("aiohttp 3.14.5", "httpx 0.28.1")


def test_the_ratio_is_taken_at_the_highest_level_both_measured_validly() -> None:
    run = make_client_run()
    (pair,) = pairs_of(run)
    # The base's 100 users saturated the generator: 20 is the highest level valid on both.
    assert pair.reference_users == 20
    expected = rps(run, "starlette-uvicorn", 20) / rps(run, "starlette-uvicorn-httpx", 20)
    assert 2.5 < expected < 3.5
    assert pair.faster is pair.base
    assert pair.ratio == pytest.approx(expected)
    assert (
        f"At 20 users, the highest level both measured validly, starlette-uvicorn with "
        f"aiohttp 3.14.5 served {formats.ratio(expected)} what starlette-uvicorn-httpx with "
        f"httpx 0.28.1 did"
    ) in pair.lead
    assert "the same concurrency model (event loop), capacity and caps" in pair.lead


def test_the_faster_client_is_named_first_whichever_it_is() -> None:
    efficiency = {
        ("upstream", "flask-gthread"): 0.94,
        ("upstream", "starlette-uvicorn"): 0.2,
        ("upstream", "starlette-uvicorn-httpx"): 0.6,
    }
    run = make_client_run(efficiency=efficiency)
    (pair,) = pairs_of(run)
    assert pair.faster is pair.variant
    # Neither saturates the generator now: they are compared at 100 users.
    assert pair.reference_users == 100
    expected = rps(run, "starlette-uvicorn-httpx", 100) / rps(run, "starlette-uvicorn", 100)
    assert f"starlette-uvicorn-httpx with httpx 0.28.1 served {formats.ratio(expected)}" in (
        pair.lead
    )


def test_no_pair_without_two_clients() -> None:
    same = {**CLIENTS, "starlette-uvicorn-httpx": CLIENTS["starlette-uvicorn"]}
    assert pairs_of(make_client_run(clients=same)) == ()
    # Results that record no client at all (older ones) make no pair either.
    assert pairs_of(make_client_run(clients={})) == ()
    without_variant = ("flask-gthread", "starlette-uvicorn")
    assert pairs_of(make_client_run(targets=without_variant)) == ()


def test_the_page_sets_the_variant_beside_its_base(tmp_path: Path) -> None:
    run = make_client_run()
    page = build(tmp_path, run)
    # On the run's overview, after the verdict; the scenario's own charts on its page.
    assert parse(page).sections[:2] == ["verdict", SECTION]
    assert parse(page.parent / "scenario-1.html").sections == ["scenario-1"]
    parsed = parse_run(page)
    (pair,) = pairs_of(run)
    assert " ".join(pair.lead.split()) in parsed.text
    assert "The HTTP client matters" in parsed.text
    figure = parsed.figures["scenario-1-client-1-throughput-data"]
    lines = {trace["name"]: trace for trace in figure["data"] if trace.get("mode") != "markers"}
    base = lines["starlette-uvicorn: aiohttp 3.14.5"]
    variant = lines["starlette-uvicorn-httpx: httpx 0.28.1"]
    assert base["line"]["dash"] == "solid" and variant["line"]["dash"] == "dot"
    assert base["line"]["color"] != variant["line"]["color"]
    # The scenario's own charts leave the variant out: it is no concurrency model.
    main = parsed.figures["scenario-1-throughput-data"]
    assert not [t for t in main["data"] if "httpx" in t.get("name", "")]
    assert broken_links(tmp_path / "reports") == []


def test_the_table_marks_levels_that_are_not_results(tmp_path: Path) -> None:
    # On the scenario's page, where the pair is set out.
    page = build(tmp_path, make_client_run()).parent / "scenario-1.html"
    text = page.read_text()
    start = text.index('<table class="clients">')
    base, variant = text[start : text.index("</table>", start)].split("<tbody>")[1:]
    # The base's 100 users: req/s, efficiency and CPU greyed, and the reason under the table.
    assert base.count('class="num invalid"') == 3
    assert 'class="num invalid"' not in variant
    assert "Not a result: starlette-uvicorn at 100 users: load generator saturated" in (
        parse(page).text
    )


def test_each_cell_shows_its_client(tmp_path: Path) -> None:
    text = parse_run(build(tmp_path, make_client_run())).text
    # In the verdict and the caps table, for the targets drawn there.
    assert text.count("client: urllib3 2.5.0") == 2
    assert text.count("client: aiohttp 3.14.5") == 2
    # The variant is drawn in the client section only, its client beside its name.
    assert "client: httpx" not in text
    assert "starlette-uvicorn-httpx httpx 0.28.1 req/s" in text


def test_no_section_without_a_pair(tmp_path: Path) -> None:
    parsed = parse_run(build(tmp_path, make_run()))
    assert SECTION not in parsed.ids
    assert "The HTTP client matters" not in parsed.text
    assert "client:" not in parsed.text


def test_old_results_without_the_client_fields_still_render(tmp_path: Path) -> None:
    run = make_client_run(targets=("flask-gthread", "starlette-uvicorn"), clients={})
    data = json.loads(run.model_dump_json())
    # As a blockbench from before the client was a setting wrote it.
    del data["app_env"]
    for cell in data["cells"]:
        del cell["upstream_client"], cell["upstream_client_version"]
    folder = tmp_path / "results" / run.run_id
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(data))
    parsed = parse_run(report.build_site(tmp_path / "results", tmp_path / "reports"))
    assert SECTION not in parsed.ids
    assert "scenario-1-throughput-data" in parsed.figures
    assert "record no HTTP client" in parsed.text
    assert "every target called the upstream with httpx" in parsed.text
