"""The report sites: static pages built from results, that work from disk.

Two sites of the same shape. A run's pages go to the local one, ``results/site/``, ignored by
git like the results beside it, so running never changes the checkout. ``blockbench publish``
copies chosen runs into the published one, ``reports/``, which is committed:

    index.html                 every run with a page here, newest first
    runs/<run>/index.html      one run: verdict, HTTP clients, method, environment
    runs/<run>/scenario-<n>.html  one scenario of it: charts, caps, memory, every level
    runs/<run>/map.html        its decision map, where it measured one
    runs/<run>/replications.html  the peers' benchmarks replayed, where it measured them
    runs/<run>/open_loop.html  latency against arrival rate, where it has open-loop levels
    runs/<run>/claims.html     the essay's claims, each with the figure that tests it
    runs/<run>/run.json        its results, so anyone can check a number
    compare/<a>--vs--<b>/      two runs side by side (blockbench compare)
    assets/                    plotly.min.js (and its licence), the stylesheet, the script

Links are relative and nothing is fetched from elsewhere, so a folder can be published as
it is or opened from disk. Pages hold no build time: the same results give the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from blockbench import formats
from blockbench.errors import BlockbenchError
from blockbench.report import (
    claims,
    decision_map,
    map_charts,
    open_loop,
    open_loop_charts,
    replications,
    run_page,
    verdict,
)
from blockbench.results import RUN_FILE, ResultsError, Run, load_run

RESULTS_DIR = Path("results")
# Where a run's pages go unless told otherwise: beside the results, ignored by git.
LOCAL_SITE = RESULTS_DIR / "site"
# The committed site; only `blockbench publish` writes here.
PUBLISHED_SITE = Path("reports")
RUNS = "runs"
COMPARE = "compare"
ASSETS = "assets"
PAGE = "index.html"
# A run's scenario pages (run_page.Section.page), beside its index.html; a rebuild removes
# those of scenarios the run no longer has.
SCENARIO_PAGES = "scenario-*.html"
# A run's pages beyond its scenarios, each built only where the run has what it shows (and
# removed on a rebuild where it no longer has); claims.html is built by blockbench.report.claims.
MAP_PAGE, REPLICATIONS_PAGE, CLAIMS_PAGE = decision_map.PAGE, replications.PAGE, claims.PAGE
OPEN_LOOP_PAGE = open_loop.PAGE
EXTRA_PAGES = {
    MAP_PAGE: "The decision map",
    REPLICATIONS_PAGE: "The peers' benchmarks, replicated",
    OPEN_LOOP_PAGE: "Latency against arrival rate",
    CLAIMS_PAGE: "The claims, measured",
}
# The stylesheet, the page script, and plotly.js: not the 4.8 MB bundle of every trace type
# that the plotly package ships, but the cartesian one (a third of it), vendored with a note
# of where it came from and its licence (assets/plotly.min.js.LICENSE.txt); still named
# plotly.min.js, so the pages built before keep drawing.
ASSET_SOURCES = Path(__file__).with_name("assets")


class ReportError(BlockbenchError):
    """Results that cannot be reported: which, why, and what there is instead."""


def build_site(results_dir: Path, out_dir: Path, runs: Sequence[str] | None = None) -> Path:
    """Build the pages of ``runs`` (ids or folders; default: every run in ``results_dir``).

    Then the index, of every run with a page in ``out_dir``. Returns the last run's page:
    the run's own page when one run is given.
    """
    folders = find_runs(results_dir, runs)
    pages = [build_run_page(folder, out_dir) for folder in folders]
    index = build_index(out_dir)
    return pages[-1] if pages else index


def publish(results_dir: Path, site_dir: Path, runs: Sequence[str]) -> list[Path]:
    """Copy the pages of ``runs`` (ids or folders) into the published site, and rebuild its
    index from the runs published there: nothing else of the results goes in."""
    if not runs:
        raise ReportError("name the runs to publish: `blockbench publish RUN...`")
    pages = [build_run_page(folder, site_dir) for folder in find_runs(results_dir, runs)]
    build_index(site_dir)
    return pages


def find_runs(results_dir: Path, names: Sequence[str] | None) -> list[Path]:
    """Run folders by id (a folder of ``results_dir``) or by path, in the order given."""
    available = sorted(path.parent.name for path in results_dir.glob(f"*/{RUN_FILE}"))
    if not names:
        if not available:
            raise ReportError(
                f"no runs in {results_dir}/: run `blockbench run` first, or give --results"
            )
        return [results_dir / name for name in available]
    folders = []
    for name in names:
        path = Path(name)
        if (path / RUN_FILE).is_file() or (path.is_file() and path.name == RUN_FILE):
            folders.append(path if path.is_dir() else path.parent)
        elif (results_dir / name / RUN_FILE).is_file():
            folders.append(results_dir / name)
        else:
            raise ReportError(
                f"no run {name!r} in {results_dir}/; the runs there: "
                f"{', '.join(available) or 'none'}"
            )
    return folders


def build_run_page(folder: Path, out_dir: Path) -> Path:
    run = load_run(folder)
    page_dir = out_dir / RUNS / slug(run.run_id)
    copy_assets(out_dir)
    # The results beside the page, byte for byte, so a published number can be checked; the
    # copy gets ordinary permissions, not the private ones results files are written with.
    page_dir.mkdir(parents=True, exist_ok=True)
    # A published page's own folder may be given as the run (compare reports/runs/<id> ...):
    # it already holds the file.
    if not (page_dir / RUN_FILE).exists() or not (folder / RUN_FILE).samefile(page_dir / RUN_FILE):
        shutil.copyfile(folder / RUN_FILE, page_dir / RUN_FILE)
    shown = run_page.context(run)
    # A page per scenario keeps each page and what it loads light (issue 12: under 2 MB with
    # plotly.js) however many targets and levels a run has; the overview links them all.
    pages = {section.page: section for section in shown["sections"]}
    for stale in page_dir.glob(SCENARIO_PAGES):
        if stale.name not in pages:
            stale.unlink()
    for name, section in pages.items():
        render("scenario.html", page_dir / name, base="../../", section=section, **shown)
    extras = extra_pages(run)
    built = {name for name, _ in extras}
    maps = decision_map.views(run)
    if MAP_PAGE in built:
        drawn = [(view, map_charts.charts(view, f"map-{index}")) for index, view in enumerate(maps)]
        render("map.html", page_dir / MAP_PAGE, base="../../", maps=drawn, extras=extras, **shown)
    if REPLICATIONS_PAGE in built:
        found = replications.views(run, maps)
        render(
            "replications.html",
            page_dir / REPLICATIONS_PAGE,
            base="../../",
            replications=found,
            disagreement=replications.disagreement(found),
            extras=extras,
            **shown,
        )
    if OPEN_LOOP_PAGE in built:
        looks = shown["looks"]
        drawn_open = [
            (view, open_loop_charts.charts(view, looks, f"open-loop-{index}"))
            for index, view in enumerate(open_loop.views(run))
        ]
        render(
            "open_loop.html",
            page_dir / OPEN_LOOP_PAGE,
            base="../../",
            scenarios=drawn_open,
            objective=formats.duration(open_loop.OBJECTIVE_MS),
            percentiles=open_loop.PERCENTILES,
            offered=open_loop.rate_words,
            extras=extras,
            **shown,
        )
    for name in (MAP_PAGE, REPLICATIONS_PAGE, OPEN_LOOP_PAGE):
        if name not in built:
            (page_dir / name).unlink(missing_ok=True)
    # After the other pages beside it, which it links when they are there; gone when the run
    # holds a figure for no claim.
    claims.build(run, page_dir, render, {s.results.name: s.page for s in shown["sections"]})
    return render("run.html", page_dir / PAGE, base="../../", extras=extras, **shown)


def extra_pages(run: Run) -> list[tuple[str, str]]:
    """The run's pages beyond its scenarios, as (file, title), where it has what they show."""
    present = {
        MAP_PAGE: decision_map.present,
        REPLICATIONS_PAGE: replications.present,
        OPEN_LOOP_PAGE: open_loop.present,
        CLAIMS_PAGE: claims.present,
    }
    return [(name, title) for name, title in EXTRA_PAGES.items() if present[name](run)]


@dataclass(frozen=True)
class Listed:
    """A run on the index; ``problem`` says why a stored page's results cannot be read."""

    href: str
    run: Run | None
    headline: str
    problem: str | None = None
    # The run's pages beyond its overview and scenarios: (href from the index, title).
    pages: tuple[tuple[str, str], ...] = ()


def build_index(out_dir: Path) -> Path:
    listed = []
    for page in sorted((out_dir / RUNS).glob(f"*/{PAGE}")):
        href = f"{RUNS}/{page.parent.name}/{PAGE}"
        try:
            run = load_run(page.parent)
        except ResultsError as exc:
            listed.append(Listed(href, None, "", problem=str(exc)))
            continue
        # The pages its build wrote (it removes those the run has no data for), not judged
        # again here: the claims alone would recompute every figure of every run listed.
        pages = tuple(
            (f"{RUNS}/{page.parent.name}/{name}", title)
            for name, title in EXTRA_PAGES.items()
            if (page.parent / name).is_file()
        )
        listed.append(Listed(href, run, verdict.headline(run), pages=pages))
    # Newest first; a run without readable results last, by name.
    listed.sort(key=lambda item: (item.run.created if item.run else "", item.href), reverse=True)
    comparisons = [
        (f"{COMPARE}/{page.parent.name}/{PAGE}", page.parent.name.replace("--vs--", " vs "))
        for page in sorted((out_dir / COMPARE).glob(f"*/{PAGE}"))
    ]
    copy_assets(out_dir)
    return render("index.html", out_dir / PAGE, base="", runs=listed, comparisons=comparisons)


def copy_assets(out_dir: Path) -> None:
    """The stylesheet, the page script and plotly.js, each copied only when it changed."""
    assets = out_dir / ASSETS
    for source in sorted(ASSET_SOURCES.iterdir()):
        target = assets / source.name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            assets.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def slug(text: str) -> str:
    """A file and URL name for a run id; an id that needed changes gets its hash, to stay unique."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80]
    if safe == text:
        return safe
    return f"{safe or 'run'}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def render(template: str, path: Path, **context: Any) -> Path:
    write(path, _templates().get_template(template).render(**context))
    return path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@functools.cache
def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("blockbench.report", "templates"),
        # Every run id, target name and message is shown as text, never read as markup.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # Figures go in <script type="application/json"> through |tojson, which escapes < > & ';
    # sorted keys keep the bytes the same from build to build, and NaN is no JSON at all.
    environment.policies["json.dumps_kwargs"] = {
        "sort_keys": True,
        "separators": (",", ":"),
        "allow_nan": False,
    }
    environment.filters.update(
        rps=formats.rps,
        ms=formats.ms,
        duration=formats.duration,
        ratio=formats.ratio,
        percent=formats.percent,
        change=formats.change,
        mib=formats.mib,
        cpu=formats.cpu,
        count=formats.count,
        number=formats.number,
        users=formats.users,
        moment=formats.moment,
    )
    environment.globals.update(slug=slug)
    return environment
