"""The essay's claims, each set against a figure computed from a run and judged by a stated rule:
templates/claims.html lays them out as claims.html beside the run's other pages.

A claim is data (its words, its source, how its figure is computed, the rule of its verdict,
and what would measure it) and one function from the run's points to a finding
(blockbench/report/findings.py). A claim whose data the run lacks says so and names what would
measure it: no figure is written here, every one is computed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blockbench.report import evidence, findings
from blockbench.report.findings import (
    AT_BOUND,
    C10K,
    C10K_USERS,
    CPU,
    FEW_THREADS,
    GRINBERG,
    HIGH_USERS,
    PATERSON,
    PEER_USERS,
    TIE,
    WAITING,
)
from blockbench.results import Run

PAGE = "claims.html"


@dataclass(frozen=True)
class Claim:
    key: str
    text: str
    source: str
    # How the figure is computed, and the rule that turns it into a verdict, in words.
    recipe: str
    rule: str
    # The scenarios its figure reads, and in words the scenario and targets that would
    # measure it, for a run without them.
    scenarios: tuple[str, ...]
    needs: str
    test: Callable[[evidence.Evidence], findings.Finding | None]


@dataclass(frozen=True)
class Judged:
    claim: Claim
    finding: findings.Finding | None


def judge(found: evidence.Evidence) -> tuple[Judged, ...]:
    return tuple(Judged(claim, claim.test(found)) for claim in CLAIMS)


def present(run: Run) -> bool:
    """Whether the run holds a figure for at least one claim, and so gets a claims page."""
    return any(judged.finding for judged in judge(evidence.evidence(run)))


def page_context(
    run: Run, pages: Mapping[str, str] | None = None, beside: Collection[str] = ()
) -> dict[str, Any]:
    found = evidence.evidence(run, pages, beside)
    return {"run": run, "claims": judge(found), "cores": found.cores, "tie": TIE}


def build(
    run: Run,
    page_dir: Path,
    render: Callable[..., Path],
    pages: Mapping[str, str],
) -> Path | None:
    """Writes claims.html beside the run's pages, or removes a stale one when no claim has a
    figure. Called after the map and replication pages, which it links when they are there."""
    path = page_dir / PAGE
    beside = {
        name
        for name in (findings.MAP_PAGE, findings.REPLICATIONS_PAGE)
        if (page_dir / name).is_file()
    }
    context = page_context(run, pages, beside)
    if not any(judged.finding for judged in context["claims"]):
        path.unlink(missing_ok=True)
        return None
    return render("claims.html", path, base="../../", **context)


ESSAY = "the essay on Starlette and Python concurrency"
CLAIMS: tuple[Claim, ...] = (
    Claim(
        key="waiting",
        text="Web apps mostly wait on slow code, so ASGI avoids WSGI's blocking.",
        source=ESSAY,
        recipe=(
            f"On {WAITING}, the best non-blocking target's req/s over the best blocking "
            f"target's, at each level from {PEER_USERS} users up that both kinds measured "
            "validly: the highest such level, and the one where blocking came closest."
        ),
        rule=(
            f"holds when the non-blocking lead exceeds {TIE:.0%} at every such level; holds "
            "only when the waits outnumber the threads if it does at the highest level only; "
            "otherwise does not hold here."
        ),
        scenarios=(WAITING,),
        needs=f"{WAITING} at {PEER_USERS} users or more, on blocking and non-blocking targets",
        test=findings.waiting,
    ),
    Claim(
        key="threads-processes",
        text="Threads suit I/O-bound work and processes CPU-bound work.",
        source=ESSAY,
        recipe=(
            f"The best threads target's req/s over the best processes target's on {WAITING}, "
            f"and the other way round on {CPU}, each at the highest level both measured "
            f"validly; with every model's best on {CPU} there."
        ),
        rule=(
            f"each half holds when its lead exceeds {TIE:.0%}: both, holds; one, holds only "
            "for that kind of work; neither, does not hold here."
        ),
        scenarios=(WAITING, CPU),
        needs=f"{WAITING} and {CPU} on targets of the threads and the processes models",
        test=findings.threads_processes,
    ),
    Claim(
        key="async-by-itself",
        text="async/await does not make code faster by itself, and may make it a little slower.",
        source=ESSAY,
        recipe=(
            f"On {CPU}, for each app with the same server command run with async def and with "
            "def endpoints, the async def version's req/s over the def version's, at the "
            "highest level both measured validly."
        ),
        rule=(
            f"holds when no async def version is more than {TIE:.0%} faster; does not hold "
            "here when every one is; otherwise holds only for the others."
        ),
        scenarios=(CPU,),
        needs=f"{CPU} on an app's async def and def targets under one server command",
        test=findings.async_by_itself,
    ),
    Claim(
        key="fastapi-def",
        text="FastAPI runs plain def endpoints on a thread pool.",
        source=ESSAY,
        recipe=(
            f"On {WAITING}, the FastAPI def target's peak req/s over its thread tokens divided "
            "by the wait (the most that many threads can serve)."
        ),
        rule=f"holds when the peak is within {TIE:.0%} of that bound; else does not hold here.",
        scenarios=(WAITING,),
        needs=f"{WAITING} on the FastAPI target with def routes",
        test=findings.fastapi_def,
    ),
    Claim(
        key="green-threads",
        text="Green threads (greenlet, gevent, eventlet) are cooperative threads in user space.",
        source=ESSAY,
        recipe=(
            f"On {WAITING} at {HIGH_USERS:,} users (or the highest valid level below), the "
            "green-thread target's OS threads (the most sampled) against the requests it held, "
            "and its req/s against what those threads could serve if each blocked for the wait."
        ),
        rule=(
            f"holds when its OS threads are under {FEW_THREADS:.0%} of the requests in flight "
            f"and it served more than {TIE:.0%} above what they could serve blocked; else does "
            "not hold here."
        ),
        scenarios=(WAITING,),
        needs=f"{WAITING} on a green-threads target, up to {HIGH_USERS:,} users",
        test=findings.green_threads,
    ),
    Claim(
        key="memory",
        text="OS threads use less memory than processes, and green threads less than OS threads.",
        source=ESSAY,
        recipe=(
            f"On {WAITING}, memory per request held, the median over each model's targets: for "
            "processes, the whole tree's peak memory over the requests in flight at the "
            "highest valid level (each request holds a worker); for threads and green "
            "threads, the memory growth per added request in flight."
        ),
        rule=(
            f"holds when each model uses more than {TIE:.0%} less than the one before; holds "
            "only for the step that does if one does; otherwise does not hold here."
        ),
        scenarios=(WAITING,),
        needs=f"{WAITING} on targets of the processes, threads and green-threads models",
        test=findings.memory,
    ),
    Claim(
        key="grinberg",
        text=(
            "“In some benchmarks, all the async methods were generally faster than their "
            "sync counterparts.”"
        ),
        source=(
            "the essay, citing Miguel Grinberg, “Ignore all web performance benchmarks, "
            "including this one” (2020): pg_sleep(0.02) and a primary-key lookup"
        ),
        recipe=(
            f"On {GRINBERG} at {PEER_USERS} users, each non-blocking target's req/s over the "
            "best blocking target's."
        ),
        rule=(
            f"holds when every non-blocking target leads by more than {TIE:.0%}; holds only "
            "for those that do if some do; otherwise does not hold here."
        ),
        scenarios=(GRINBERG,),
        needs=(
            f"{GRINBERG} at {PEER_USERS} users on blocking and non-blocking targets (the "
            "replications profile)"
        ),
        test=findings.grinberg,
    ),
    Claim(
        key="paterson",
        text="Async Python is not faster: sync servers serve as much or more.",
        source="Cal Paterson, “Async Python is not faster” (2020): a primary-key lookup, no wait",
        recipe=(
            f"On {PATERSON} at {PEER_USERS} users, the best non-blocking target's req/s over "
            "the best blocking target's."
        ),
        rule=(
            f"holds when the non-blocking one is not more than {TIE:.0%} faster; else does not "
            "hold here."
        ),
        scenarios=(PATERSON,),
        needs=(
            f"{PATERSON} at {PEER_USERS} users on blocking and non-blocking targets (the "
            "replications profile)"
        ),
        test=findings.paterson,
    ),
    Claim(
        key="c10k",
        text="An event loop holds 10,000 requests at once (C10k): the reason ASGI exists.",
        source="Dan Kegel, “The C10K problem” (1999), the question ASGI servers answer",
        recipe=(
            f"On {C10K} at {C10K_USERS:,} users, each waiting the same long wait, the event-loop "
            "target nearest its bound: its req/s over the bound (users over the wait), its "
            "processes, OS threads and memory, and the best blocking target beside it."
        ),
        rule=(
            f"holds when an event-loop target's valid level reaches {AT_BOUND:.0%} of its bound; "
            "else does not hold here."
        ),
        scenarios=(C10K,),
        needs=f"{C10K} at {C10K_USERS:,} users on an event-loop target (the c10k profile)",
        test=findings.c10k,
    ),
)
