"""The claims page: each claim's figure and verdict on synthetic runs with known answers (and the
verdict flipping when the figures do), claims without data, and the page of the published run."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from blockbench import formats
from blockbench.report import claims, evidence, findings, site
from blockbench.report.findings import Finding
from blockbench.results import Cell, LevelResult, Run, load_run, save_run
from blockbench.results.aggregates import aggregate
from tests.blockbench.report import pages
from tests.blockbench.synthetic import make_run

# Every run published in the committed site: the real data the page is for.
PUBLISHED = sorted(
    path.parent for path in Path(__file__).parents[3].glob("reports/runs/*/run.json")
)
LEVELS = (1, 100, 1000)
WAIT = {"io-sleep": 0.0}
BOTH = {"io-sleep": 0.0, "cpu": 13.0}

Served = Mapping[tuple[str, str, int], float]


def run_of(
    targets: Sequence[str], scenarios: Mapping[str, float], served: Served | None = None
) -> Run:
    """A synthetic run in which each (scenario, target, users) of ``served`` served exactly that.

    Efficiency 0.5 keeps every level under the synthetic generator's saturation: every level is
    valid, so the answers are the numbers given here.
    """
    run = make_run(
        "20250501-101500-claims",
        targets=targets,
        scenarios=scenarios,
        efficiency=defaultdict(lambda: 0.5),
        levels=LEVELS,
        repeats=1,
    )

    def update(cell: Cell, level: LevelResult) -> dict[str, Any]:
        rps = (served or {}).get((cell.scenario, cell.target, level.users))
        return {} if rps is None else {"rps": rps}

    return changed(run, update)


def changed(run: Run, update: Callable[[Cell, LevelResult], dict[str, Any]]) -> Run:
    """The run with its levels updated, and its aggregates made again from them."""
    cells = [
        cell.model_copy(
            update={
                "levels": [level.model_copy(update=update(cell, level)) for level in cell.levels]
            }
        )
        for cell in run.cells
    ]
    return run.model_copy(update={"cells": cells, "aggregates": aggregate(cells)})


def renamed(run: Run, old: str, new: str) -> Run:
    """The run with a scenario under another name (the peers' scenarios are not in the
    catalogue the synthetic runs are made from)."""
    cells = [
        cell.model_copy(
            update={
                "scenario": new,
                "levels": [level.model_copy(update={"scenario": new}) for level in cell.levels],
            }
        )
        if cell.scenario == old
        else cell
        for cell in run.cells
    ]
    names = [new if name == old else name for name in run.scenarios]
    return run.model_copy(
        update={"scenarios": names, "cells": cells, "aggregates": aggregate(cells)}
    )


def finding(run: Run, key: str) -> Finding | None:
    found = evidence.evidence(
        run, {name: f"scenario-{n}.html" for n, name in enumerate(run.scenarios, 1)}
    )
    (judged,) = [judged for judged in claims.judge(found) if judged.claim.key == key]
    return judged.finding


def measured(run: Run, key: str) -> Finding:
    found = finding(run, key)
    assert found is not None, f"{key}: no figure"
    return found


# Web apps mostly wait, so ASGI avoids WSGI's blocking.


@pytest.mark.parametrize(
    ("threads_100", "threads_1000", "verdict", "closest"),
    [
        (300.0, 300.0, "holds", "at 100 users, 3.0×"),
        # The threads keep up at 100 users: blocking costs only past their number.
        (850.0, 300.0, "holds only when", "at 100 users, 1.06×"),
        # And at 1,000 too: nothing left of the claim
        # (where 1,000 users come closest, the figure names that level alone).
        (850.0, 1900.0, "does not hold here", None),
    ],
)
@pytest.mark.parametrize("threads", ["flask-gthread", "flask-granian"])
def test_waiting_compares_the_best_of_each_kind_from_100_users_up(
    threads: str, threads_100: float, threads_1000: float, verdict: str, closest: str | None
) -> None:
    served = {
        ("io-sleep", "starlette-uvicorn", 100): 900.0,
        ("io-sleep", "starlette-uvicorn", 1000): 2000.0,
        ("io-sleep", threads, 100): threads_100,
        ("io-sleep", threads, 1000): threads_1000,
        # At 1 user the blocking target leads; the claim is about many waiting requests.
        ("io-sleep", threads, 1): 50.0,
    }
    # flask-sync, blocking too, serves less: the best blocking target is the threads one.
    found = measured(run_of(["flask-sync", threads, "starlette-uvicorn"], WAIT, served), "waiting")
    assert found.verdict == verdict
    top = formats.ratio(2000.0 / threads_1000)
    assert "at 1,000 users, the best non-blocking target, starlette-uvicorn" in found.figure
    assert f"served {top} the best blocking one, {threads}" in found.figure
    if closest is None:
        assert "; at" not in found.figure
    else:
        assert f"; {closest}" in found.figure
    if verdict == "holds only when" and threads == "flask-granian":
        # 512 threads for 100 waiting requests: the condition is the threads' number.
        assert found.reason.startswith("more requests wait at once than the blocking targets")
        assert "flask-granian, which holds 512 requests in flight" in found.reason
    elif verdict == "holds only when":
        # 32 threads kept up with 100 waiting requests: no number of threads to blame.
        assert found.reason.startswith("more than 100 users wait at once: at 100 users,")
        assert "flask-gthread, which holds 32 requests in flight" in found.reason
    assert found.links[0].href == "scenario-1.html#scenario-1-throughput-figure"


def test_the_best_target_is_the_one_that_served_most_at_a_valid_level() -> None:
    served = {("io-sleep", "flask-gthread", 100): 300.0, ("io-sleep", "flask-sync", 100): 29.0}
    run = run_of(["flask-sync", "flask-gthread"], WAIT, served)
    results = evidence.evidence(run).results["io-sleep"]
    pick = evidence.best(results, 100, evidence.blocking)
    assert pick is not None and pick[0].target == "flask-gthread"

    def invalid(cell: Cell, level: LevelResult) -> dict[str, Any]:
        flagged = cell.target == "flask-gthread" and level.users == 100
        return {"flags": ["failures_above_threshold"]} if flagged else {}

    results = evidence.evidence(changed(run, invalid)).results["io-sleep"]
    pick = evidence.best(results, 100, evidence.blocking)
    assert pick is not None and pick[0].target == "flask-sync"
    assert evidence.shared_levels(results, evidence.of_model("threads")) == [1, 1000]


# Threads suit I/O-bound work and processes CPU-bound work.


@pytest.mark.parametrize(
    ("threads_wait", "processes_cpu", "verdict", "words"),
    [
        # One core: processes gain nothing on CPU work, and the reason says why.
        (300.0, 70.0, "holds only when", "the targets ran on 1 core"),
        (300.0, 150.0, "holds", "threads led on waiting and processes on CPU work"),
        (30.0, 150.0, "holds only when", "the work is CPU-bound"),
        (30.0, 70.0, "does not hold here", "the targets ran on 1 core"),
    ],
)
def test_threads_for_waiting_processes_for_cpu(
    threads_wait: float, processes_cpu: float, verdict: str, words: str
) -> None:
    served = {
        ("io-sleep", "flask-gthread", 1000): threads_wait,
        ("io-sleep", "flask-sync", 1000): 29.0,
        ("cpu", "flask-gthread", 1000): 75.0,
        ("cpu", "flask-sync", 1000): processes_cpu,
        ("cpu", "starlette-uvicorn", 1000): 77.0,
    }
    run = run_of(["flask-sync", "flask-gthread", "starlette-uvicorn"], BOTH, served)
    found = measured(run, "threads-processes")
    assert found.verdict == verdict
    assert words in found.reason
    assert f"served {formats.ratio(threads_wait / 29.0)} the best processes target" in found.figure
    assert f"processes served {formats.ratio(processes_cpu / 75.0)} threads" in found.figure
    # CPU-bound throughput per model, on cpu.
    assert f"processes {formats.rps(processes_cpu)}, threads 75.0, event loop 77.0" in found.figure


def test_processes_on_cpu_are_judged_plainly_with_more_cores() -> None:
    served = {("cpu", "flask-sync", 1000): 70.0, ("cpu", "flask-gthread", 1000): 75.0}
    run = run_of(["flask-sync", "flask-gthread"], BOTH, served)
    run = run.model_copy(
        update={"environment": run.environment.model_copy(update={"target_cpus": [0, 1]})}
    )
    found = measured(run, "threads-processes")
    assert "core" not in found.reason
    assert f"processes were not more than {formats.percent(findings.TIE)} ahead" in found.reason


# async/await is not faster by itself.


def test_async_def_is_set_beside_the_same_code_as_def() -> None:
    run = run_of(["flask-gthread", "starlette-uvicorn", "starlette-threadpool"], {"cpu": 13.0})
    results = evidence.evidence(run).results["cpu"]
    # Same app, same server command, endpoint style apart; flask-gthread has no such twin.
    assert [(a.target, d.target) for a, d in evidence.style_twins(results)] == [
        ("starlette-uvicorn", "starlette-threadpool")
    ]


@pytest.mark.parametrize(
    ("async_rps", "verdict"),
    [(76.0, "holds"), (85.0, "holds"), (100.0, "does not hold here")],
)
def test_async_by_itself(async_rps: float, verdict: str) -> None:
    served = {
        ("cpu", "starlette-uvicorn", 1000): async_rps,
        ("cpu", "starlette-threadpool", 1000): 80.0,
    }
    run = run_of(["starlette-uvicorn", "starlette-threadpool"], {"cpu": 13.0}, served)
    found = measured(run, "async-by-itself")
    assert found.verdict == verdict
    expected = formats.ratio(async_rps / 80.0)
    assert f"{expected} (starlette-uvicorn against starlette-threadpool at 1,000 users)" in (
        found.figure
    )
    if async_rps < 80:
        assert "1 of 1 were slower" in found.reason


# FastAPI runs plain def endpoints on a thread pool.


@pytest.mark.parametrize(("plateau", "verdict"), [(396.0, "holds"), (200.0, "does not hold here")])
def test_fastapi_def_routes_plateau_at_their_thread_tokens(plateau: float, verdict: str) -> None:
    served = {
        ("io-sleep", "fastapi-threadpool", 100): plateau - 5,
        ("io-sleep", "fastapi-threadpool", 1000): plateau,
        ("io-sleep", "fastapi-uvicorn", 1000): 1400.0,
    }
    run = run_of(["fastapi-uvicorn", "fastapi-threadpool"], WAIT, served)
    found = measured(run, "fastapi-def")
    assert found.verdict == verdict
    # 40 tokens over a 100 ms wait: 400 req/s.
    assert f"reached {formats.rps(plateau)} req/s at 1,000 users" in found.figure
    assert f"{formats.percent(plateau / 400)} of what 40 threads allow" in found.figure
    assert "400 req/s" in found.figure
    assert "its async def twin, fastapi-uvicorn, reached 1,400 at 1,000 users" in found.figure


def test_no_fastapi_def_target_no_figure() -> None:
    assert finding(run_of(["fastapi-uvicorn", "starlette-threadpool"], WAIT), "fastapi-def") is None


# Green threads are threads in user space.


@pytest.mark.parametrize(
    ("os_threads", "served", "verdict"),
    [
        (None, 700.0, "holds"),
        # A thread per request serves no more than the threads allow.
        (900, 700.0, "does not hold here"),
        # More than it could serve blocked, but on 15% as many OS threads as requests: not few.
        (150, 3000.0, "does not hold here"),
    ],
)
def test_green_threads_hold_many_requests_on_few_os_threads(
    os_threads: int | None, served: float, verdict: str
) -> None:
    run = run_of(["flask-gevent"], WAIT, {("io-sleep", "flask-gevent", 1000): served})
    if os_threads is not None:

        def update(cell: Cell, level: LevelResult) -> dict[str, Any]:
            assert level.target_resources
            resources = level.target_resources.model_copy(update={"threads_max": os_threads})
            return {"target_resources": resources}

        run = changed(run, update)
    found = measured(run, "green-threads")
    point = evidence.evidence(run).results["io-sleep"].series[0].at(1000)
    assert point is not None and point.threads
    assert found.verdict == verdict
    assert (
        f"held 1,000 requests in flight with {formats.count(point.threads)} OS threads"
        in found.figure
    )
    # Each OS thread blocked for 100 ms serves 10 a second.
    assert f"could serve {formats.rps(point.threads * 10.0)} req/s" in found.figure
    assert found.links[0].href == "scenario-1.html#scenario-1-resources-figure"


# Memory: processes > OS threads > green threads.


def grown(run: Run, target: str, per_request: float) -> Run:
    """The target's memory growing by ``per_request`` MiB per request in flight."""

    def update(cell: Cell, level: LevelResult) -> dict[str, Any]:
        if cell.target != target or not level.target_resources:
            return {}
        held = min(level.users, cell.capacity or level.users)
        rss = 100.0 + held * per_request
        return {"target_resources": level.target_resources.model_copy(update={"rss_mib_max": rss})}

    return changed(run, update)


@pytest.mark.parametrize(
    ("green_mib", "threads_mib", "verdict"),
    [
        (0.02, 0.5, "holds"),
        (1.0, 0.5, "holds only when"),
        (50.0, 45.0, "does not hold here"),
    ],
)
def test_memory_per_request_by_model(green_mib: float, threads_mib: float, verdict: str) -> None:
    run = run_of(["flask-sync", "flask-gthread", "flask-gevent"], WAIT)
    run = grown(grown(run, "flask-gevent", green_mib), "flask-gthread", threads_mib)
    found = measured(run, "memory")
    sync = evidence.evidence(run).results["io-sleep"].series[0]
    point = sync.valid_points[-1]
    assert point.rss_mib is not None
    # A process's slot: the whole tree over its 3 workers' requests.
    processes = point.rss_mib / 3
    assert found.verdict == verdict
    assert f"processes {formats.mib(processes)} (a worker each)" in found.figure
    assert f"OS threads {formats.mib(threads_mib)}" in found.figure
    assert f"green threads {formats.mib(green_mib)}" in found.figure
    if verdict == "holds only when":
        assert found.reason.startswith("comparing OS threads with processes")


def test_memory_needs_all_three_models() -> None:
    assert finding(run_of(["flask-sync", "flask-gthread"], WAIT), "memory") is None


# The peers, at 100 users.


@pytest.mark.parametrize(
    ("gevent", "uvicorn", "verdict"),
    [
        (700.0, 900.0, "holds"),
        (300.0, 900.0, "holds only when"),
        (300.0, 310.0, "does not hold here"),
    ],
)
def test_grinberg(gevent: float, uvicorn: float, verdict: str) -> None:
    served = {
        ("io-sleep", "flask-gthread", 100): 300.0,
        ("io-sleep", "flask-gevent", 100): gevent,
        ("io-sleep", "starlette-uvicorn", 100): uvicorn,
    }
    run = run_of(["flask-gthread", "flask-gevent", "starlette-uvicorn"], WAIT, served)
    assert finding(run, "grinberg") is None
    found = measured(renamed(run, "io-sleep", "grinberg"), "grinberg")
    assert found.verdict == verdict
    assert "On grinberg at 100 users, against the best blocking target, flask-gthread" in (
        found.figure
    )
    assert f"{formats.ratio(uvicorn / 300)} (starlette-uvicorn)" in found.figure
    assert f"{formats.ratio(gevent / 300)} (flask-gevent)" in found.figure
    if verdict == "holds only when":
        assert found.reason.startswith("the async server is starlette-uvicorn (1 of 2)")


@pytest.mark.parametrize(("uvicorn", "verdict"), [(320.0, "holds"), (340.0, "does not hold here")])
def test_paterson(uvicorn: float, verdict: str) -> None:
    served = {
        ("io-sleep", "flask-gthread", 100): 300.0,
        ("io-sleep", "starlette-uvicorn", 100): uvicorn,
    }
    run = run_of(["flask-gthread", "starlette-uvicorn"], WAIT, served)
    found = measured(renamed(run, "io-sleep", "paterson"), "paterson")
    assert found.verdict == verdict
    assert f"served {formats.ratio(uvicorn / 300)} the best blocking one, flask-gthread" in (
        found.figure
    )


# An event loop holds 10,000 requests at once.


def c10k_run(efficiency: float) -> Run:
    """c10k at 10,000 users, each target at ``efficiency`` of its bound and every level valid
    (the synthetic generator would call a level this fast saturated)."""
    run = make_run(
        "20250501-101500-c10k",
        targets=["flask-gthread", "starlette-uvicorn"],
        scenarios={"c10k": 0.0},
        efficiency=defaultdict(lambda: efficiency),
        levels=(10_000,),
        repeats=1,
    )

    def valid(cell: Cell, level: LevelResult) -> dict[str, Any]:
        generator = level.generator.model_copy(update={"cpu_percent_max": 50.0, "saturated": False})
        return {"generator": generator, "flags": []}

    return changed(run, valid)


@pytest.mark.parametrize(("efficiency", "verdict"), [(0.95, "holds"), (0.85, "does not hold here")])
def test_c10k_holds_when_an_event_loop_reaches_its_bound(efficiency: float, verdict: str) -> None:
    found = measured(c10k_run(efficiency), "c10k")
    assert found.verdict == verdict
    assert found.figure.startswith("On c10k at 10,000 users, starlette-uvicorn (")
    served = re.search(r"served (\d+)% of its bound \(1,000 req/s\)", found.figure)
    assert served and abs(int(served.group(1)) / 100 - efficiency) < 0.03
    assert "holding 10,000 requests at once" in found.figure
    assert "per request in flight" in found.figure
    assert "the best blocking target, flask-gthread" in found.figure


def test_c10k_without_a_valid_event_loop_level_says_why() -> None:
    run = c10k_run(0.95)
    flagged = changed(run, lambda cell, level: {"flags": ["failures_above_threshold"]})
    found = measured(flagged, "c10k")
    assert found.verdict == "does not hold here"
    assert "no event-loop target had a valid level" in found.figure
    assert "starlette-uvicorn: " in found.reason
    assert finding(run_of(["starlette-uvicorn"], WAIT), "c10k") is None


# The page.


def test_a_run_without_the_data_gets_no_page_and_loses_a_stale_one(tmp_path: Path) -> None:
    run = run_of(["flask-sync"], {"cpu": 13.0})
    assert not claims.present(run)
    page_dir = tmp_path / "page"
    page_dir.mkdir()
    (page_dir / claims.PAGE).write_text("stale")
    assert claims.build(run, page_dir, site.render, {}) is None
    assert not (page_dir / claims.PAGE).exists()


def test_the_site_builds_the_page_and_each_unmeasured_claim_names_its_scenario(
    tmp_path: Path,
) -> None:
    run = run_of(["flask-sync", "flask-gthread", "starlette-uvicorn"], BOTH)
    assert claims.present(run)
    save_run(tmp_path / "results" / run.run_id, run)
    overview = site.build_site(tmp_path / "results", tmp_path / "reports")
    page = pages.parse(overview.parent / claims.PAGE)
    for claim in claims.CLAIMS:
        assert f"claim-{claim.key}" in page.ids
    # No FastAPI target, no app's async def and def twins, no green threads, no peers' scenarios.
    for key in (
        "async-by-itself",
        "fastapi-def",
        "green-threads",
        "memory",
        "grinberg",
        "paterson",
    ):
        (claim,) = [claim for claim in claims.CLAIMS if claim.key == key]
        assert f"Not measured in this run: it needs {claim.needs}." in page.text
        assert claim.scenarios[0] in claim.needs
    assert "Holds only when the work waits" in page.text
    assert pages.broken_links(tmp_path / "reports") == []
    # A later run without the data removes the page.
    save_run(tmp_path / "results" / run.run_id, run_of(["flask-sync"], {"cpu": 13.0}))
    site.build_site(tmp_path / "results", tmp_path / "reports")
    assert not (overview.parent / claims.PAGE).exists()


@pytest.mark.parametrize("beside", [(), ("map.html", "replications.html")])
def test_the_map_and_replications_are_linked_when_built_beside(
    tmp_path: Path, beside: tuple[str, ...]
) -> None:
    served = {
        ("io-sleep", "flask-gthread", 100): 300.0,
        ("io-sleep", "starlette-uvicorn", 100): 900.0,
    }
    run = run_of(["flask-gthread", "starlette-uvicorn"], WAIT, served)
    grinberg = renamed(
        run_of(["flask-gthread", "starlette-uvicorn"], WAIT, served), "io-sleep", "grinberg"
    )
    both = run.model_copy(
        update={
            "scenarios": ["io-sleep", "grinberg"],
            "cells": run.cells + grinberg.cells,
            "aggregates": aggregate(run.cells + grinberg.cells),
        }
    )
    for name in beside:
        (tmp_path / name).write_text("built by another module")
    path = claims.build(both, tmp_path, site.render, {"io-sleep": "scenario-1.html"})
    assert path is not None
    links = {value for tag, _, value in pages.parse(path).links if tag == "a"}
    assert "scenario-1.html#scenario-1-throughput-figure" in links
    assert ("map.html" in links) == ("map.html" in beside)
    assert ("replications.html" in links) == ("replications.html" in beside)


def test_there_is_a_published_run() -> None:
    assert PUBLISHED


@pytest.fixture(scope="module", params=PUBLISHED, ids=[path.name for path in PUBLISHED])
def published(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Run, Path]:
    """A published run's pages, built again from its run.json."""
    folder: Path = request.param
    out = tmp_path_factory.mktemp("published")
    site.build_run_page(folder, out)
    site.build_index(out)
    return load_run(folder), out / "runs" / folder.name


def test_every_claim_the_published_run_has_data_for_has_a_number(
    published: tuple[Run, Path],
) -> None:
    run, page_dir = published
    found = evidence.evidence(run)
    judged = claims.judge(found)
    # The scenarios measured in closed loops: a scenario measured at arrival rates alone (the
    # open-loop profile's) has no number of users to test a claim at.
    measured = set(found.results)
    expected = [j for j in judged if set(j.claim.scenarios) <= measured]
    if not measured:
        assert all(j.finding is None for j in judged)
        assert not (page_dir / claims.PAGE).exists()
        return
    # The full profile's scenarios test the essay's six claims at least.
    assert len(expected) >= 6
    page = pages.parse(page_dir / claims.PAGE)
    html = (page_dir / claims.PAGE).read_text(encoding="utf-8")
    articles = dict(
        re.findall(r'<article class="claim" id="claim-([\w-]+)">(.*?)</article>', html, re.S)
    )
    for item in expected:
        assert item.finding is not None, f"{item.claim.key}: its recipe found no data"
        assert re.search(r"\d", item.finding.figure), item.claim.key
        assert " ".join(item.finding.figure.split()) in page.text
        # Each measured claim links the chart that shows its figure.
        assert 'href="scenario-' in articles[item.claim.key], item.claim.key
    for item in judged:
        if item.finding is None:
            assert f"Not measured in this run: it needs {item.claim.needs}." in page.text
    # The machine's one core is said on the page.
    assert "The targets ran on one core" in page.text
    assert pages.broken_links(page_dir.parents[1]) == []
