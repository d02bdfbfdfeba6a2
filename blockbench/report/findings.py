"""The figures that test the essay's claims, each computed from a run's points, and the verdict
each one gets by a stated rule (blockbench/report/claims.py holds the claims' words and rules).

Each function returns None when the run lacks its data: a claim is never given a figure that
was not measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from blockbench import formats
from blockbench.report import decision_map, replications
from blockbench.report.evidence import (
    Evidence,
    Link,
    Pick,
    best,
    blocking,
    non_blocking,
    of_model,
    of_target,
    ratio,
    rps,
    shared_levels,
    slot_mib,
    style_twins,
    who,
)
from blockbench.report.points import ScenarioResults, catalogue_targets, median

# Pages built beside the claims by other modules; a finding links them when they are there.
MAP_PAGE = decision_map.PAGE
REPLICATIONS_PAGE = replications.PAGE
# Two throughputs within this share of each other are "about the same": wider than the spread
# of most repeated levels on the reference machine (a few percent).
TIE = 0.10
# The level both peers measured at (100 concurrent clients), and from which a waiting workload
# counts as many requests waiting at once.
PEER_USERS = 100
# The level of the green-thread figure: a thousand requests held at once.
HIGH_USERS = 1000
# A server whose OS threads number fewer than this share of the requests it holds at once is
# not giving each request a thread of its own.
FEW_THREADS = 0.1
# The scenarios the claims read, as the scenario catalogue names them.
WAITING = "io-sleep"
CPU = "cpu"
GRINBERG = "grinberg"
PATERSON = "paterson"
C10K = "c10k"
# The C10k level, and how near its bound a level must come to count as holding it: the rest is
# what the server's own overheads cost at that many requests in flight.
C10K_USERS = 10_000
AT_BOUND = 0.9

Kind = Literal["holds", "holds only when", "does not hold here"]


@dataclass(frozen=True)
class Finding:
    """The measured figure that tests a claim, in words with its numbers, and the verdict."""

    figure: str
    verdict: Kind
    # Why, in words: the rule applied to the figure. For "holds only when", it begins with
    # the condition.
    reason: str
    links: tuple[Link, ...]


def waiting(found: Evidence) -> Finding | None:
    results = found.results.get(WAITING)
    if results is None:
        return None
    levels = [u for u in shared_levels(results, non_blocking, blocking) if u >= PEER_USERS]
    if not levels:
        return None
    picks = {u: (best(results, u, non_blocking), best(results, u, blocking)) for u in levels}
    ratios = {u: ratio(fast, slow) for u, (fast, slow) in picks.items() if fast and slow}
    top, closest = levels[-1], min(levels, key=lambda u: ratios[u])
    fast, slow = picks[top]
    assert fast and slow
    figure = (
        f"On {WAITING} at {formats.users(top)}, the best non-blocking target, {who(fast)}, "
        f"served {formats.ratio(ratios[top])} the best blocking one, {who(slow)}"
    )
    if closest != top:
        figure += f"; at {formats.users(closest)}, {formats.ratio(ratios[closest])}"
    links = found.chart(WAITING) + found.page(MAP_PAGE, "the decision map")
    if ratios[top] <= 1 + TIE:
        return Finding(
            figure,
            "does not hold here",
            f"even at {formats.users(top)} the non-blocking targets were not more than "
            f"{formats.percent(TIE)} ahead of the best blocking one.",
            links,
        )
    if ratios[closest] > 1 + TIE:
        return Finding(
            figure,
            "holds",
            f"the non-blocking targets led by more than {formats.percent(TIE)} at every level "
            f"from {formats.users(PEER_USERS)} up.",
            links,
        )
    rival = picks[closest][1]
    assert rival
    kept_up = (
        f"at {formats.users(closest)}, {rival[0].target}, which holds "
        f"{formats.count(rival[0].capacity)} requests in flight, kept within "
        f"{formats.percent(TIE)} of the best non-blocking target or ahead of it"
    )
    # The condition in words only where the numbers show it: the blocking target that kept up
    # had a thread (or worker) for every request waiting there.
    if rival[0].capacity is not None and rival[0].capacity >= closest:
        condition = (
            f"more requests wait at once than the blocking targets have threads: {kept_up}; "
            "blocking costs only when the waits outnumber the threads."
        )
    else:
        condition = f"more than {formats.users(closest)} wait at once: {kept_up}."
    return Finding(figure, "holds only when", condition, links)


def threads_processes(found: Evidence) -> Finding | None:
    waits, work = found.results.get(WAITING), found.results.get(CPU)
    threads, processes = of_model("threads"), of_model("processes")
    io_levels = shared_levels(waits, threads, processes) if waits else []
    cpu_levels = shared_levels(work, threads, processes) if work else []
    if not waits or not work or not io_levels or not cpu_levels:
        return None
    io_top, cpu_top = io_levels[-1], cpu_levels[-1]
    io_threads, io_processes = best(waits, io_top, threads), best(waits, io_top, processes)
    cpu_threads, cpu_processes = best(work, cpu_top, threads), best(work, cpu_top, processes)
    assert io_threads and io_processes and cpu_threads and cpu_processes
    io_ratio, cpu_ratio = ratio(io_threads, io_processes), ratio(cpu_processes, cpu_threads)
    per_model = [
        f"{model.replace('-', ' ')} {formats.rps(rps(pick))}"
        for model in ("processes", "threads", "green-threads", "event-loop")
        if (pick := best(work, cpu_top, of_model(model)))
    ]
    figure = (
        f"On {WAITING} at {formats.users(io_top)}, the best threads target, {who(io_threads)}, "
        f"served {formats.ratio(io_ratio)} the best processes target, {who(io_processes)}. "
        f"On {CPU} at {formats.users(cpu_top)}, processes served {formats.ratio(cpu_ratio)} "
        f"threads; the best of each model there, in req/s: {', '.join(per_model)}"
    )
    links = found.chart(WAITING) + found.chart(CPU)
    io_holds, cpu_holds = io_ratio > 1 + TIE, cpu_ratio > 1 + TIE
    cpu_words = (
        f"the targets ran on {formats.count(found.cores)} core, where processes cannot run "
        "CPU work in parallel: this machine cannot show their advantage"
        if found.cores == 1
        else f"processes were not more than {formats.percent(TIE)} ahead"
    )
    if io_holds and cpu_holds:
        return Finding(
            figure,
            "holds",
            f"threads led on waiting and processes on CPU work, each by more than "
            f"{formats.percent(TIE)}.",
            links,
        )
    if io_holds:
        return Finding(
            figure,
            "holds only when",
            f"the work waits: threads led on waiting by more than {formats.percent(TIE)}; on "
            f"CPU work {cpu_words}.",
            links,
        )
    if cpu_holds:
        return Finding(
            figure,
            "holds only when",
            f"the work is CPU-bound: processes led on it by more than {formats.percent(TIE)}, "
            f"but threads were not more than {formats.percent(TIE)} ahead on waiting.",
            links,
        )
    return Finding(
        figure,
        "does not hold here",
        f"neither threads on waiting nor processes on CPU work led by more than "
        f"{formats.percent(TIE)}{'; ' + cpu_words if found.cores == 1 else ''}.",
        links,
    )


def async_by_itself(found: Evidence) -> Finding | None:
    results = found.results.get(CPU)
    if results is None:
        return None
    compared: list[tuple[str, float]] = []
    for written_async, written_def in style_twins(results):
        levels = shared_levels(results, of_target(written_async), of_target(written_def))
        if levels:
            fast = best(results, levels[-1], of_target(written_async))
            slow = best(results, levels[-1], of_target(written_def))
            assert fast and slow
            compared.append(
                (
                    f"{formats.ratio(ratio(fast, slow))} ({written_async.target} against "
                    f"{written_def.target} at {formats.users(levels[-1])})",
                    ratio(fast, slow),
                )
            )
    if not compared:
        return None
    figure = (
        f"On {CPU}, where there is no wait to overlap, the same endpoints written async def "
        f"served {'; '.join(words for words, _ in compared)} what they served written def"
    )
    faster = [value for _, value in compared if value > 1 + TIE]
    slower = sum(1 for _, value in compared if value < 1)
    links = found.chart(CPU)
    if not faster:
        return Finding(
            figure,
            "holds",
            f"no async def version was more than {formats.percent(TIE)} faster than its def "
            f"twin; {slower} of {len(compared)} were slower.",
            links,
        )
    if len(faster) == len(compared):
        return Finding(
            figure,
            "does not hold here",
            f"every async def version was more than {formats.percent(TIE)} faster than its "
            "def twin.",
            links,
        )
    return Finding(
        figure,
        "holds only when",
        f"the app is not one of the {len(faster)} of {len(compared)} pairs whose async def "
        f"version was more than {formats.percent(TIE)} faster.",
        links,
    )


def fastapi_def(found: Evidence) -> Finding | None:
    results = found.results.get(WAITING)
    if results is None:
        return None
    known = catalogue_targets()
    pools = [
        series
        for series in results.series
        if (target := known.get(series.target))
        and target.app == "fastapi"
        and not target.endpoints_async
        and series.peak
        and series.capacity
        and series.cell.service_time_ms > 0
    ]
    if not pools:
        return None
    pool = pools[0]
    peak = pool.peak
    assert peak is not None and pool.capacity
    bound = pool.capacity / (pool.cell.service_time_ms / 1000)
    share = peak.aggregate.rps / bound
    figure = (
        f"On {WAITING} ({formats.ms(pool.cell.service_time_ms)} per request), {pool.target}'s "
        f"plain def routes reached {formats.rps(peak.aggregate.rps)} req/s at "
        f"{formats.users(peak.users)} (limited by {peak.binding or 'an unnamed bound'}): "
        f"{formats.percent(share)} of what {formats.count(pool.capacity)} threads allow over "
        f"that wait, {formats.rps(bound)} req/s"
    )
    twins = [a for a, d in style_twins(results) if d.target == pool.target and a.peak]
    if twins and (twin := twins[0].peak):
        figure += (
            f"; its async def twin, {twins[0].target}, reached "
            f"{formats.rps(twin.aggregate.rps)} at {formats.users(twin.users)}"
        )
    links = found.chart(WAITING)
    if 1 - TIE <= share <= 1 + TIE:
        return Finding(
            figure,
            "holds",
            f"its plateau is within {formats.percent(TIE)} of what {pool.capacity} threads "
            "allow: the def routes run on a pool of that many threads.",
            links,
        )
    return Finding(
        figure,
        "does not hold here",
        f"its plateau is not within {formats.percent(TIE)} of what its {pool.capacity} "
        "threads allow, so something other than the thread pool sets it.",
        links,
    )


def green_threads(found: Evidence) -> Finding | None:
    results = found.results.get(WAITING)
    if results is None:
        return None
    for series in results.series:
        held = [p for p in series.valid_points if p.threads and p.users <= HIGH_USERS]
        if series.model != "green-threads" or not held or series.cell.service_time_ms <= 0:
            continue
        point = held[-1]
        assert point.threads
        blocking_rps = point.threads / (series.cell.service_time_ms / 1000)
        figure = (
            f"On {WAITING} at {formats.users(point.users)}, {series.target} held "
            f"{formats.count(point.in_flight)} requests in flight with "
            f"{formats.count(point.threads)} OS threads in "
            f"{formats.count(point.processes)} processes and served "
            f"{formats.rps(point.aggregate.rps)} req/s; those threads, each blocked for the "
            f"{formats.ms(series.cell.service_time_ms)} wait, could serve "
            f"{formats.rps(blocking_rps)} req/s"
        )
        links = found.chart(WAITING, "resources")
        few = point.threads < FEW_THREADS * point.in_flight
        if few and point.aggregate.rps > blocking_rps * (1 + TIE):
            return Finding(
                figure,
                "holds",
                "the requests were switched in user space: far fewer OS threads than requests "
                "in flight, and more served than those threads could serve blocked. (That "
                "they are cooperative, yielding only where the code waits, is not measured "
                "here.)",
                links,
            )
        return Finding(
            figure,
            "does not hold here",
            f"its OS threads were not under {formats.percent(FEW_THREADS)} of the requests in "
            f"flight, or it served no more than they could blocked.",
            links,
        )
    return None


MEMORY_MODELS = ("processes", "threads", "green-threads")


def memory(found: Evidence) -> Finding | None:
    results = found.results.get(WAITING)
    if results is None:
        return None
    slots = {
        model: median(slot_mib(s) for s in results.series if s.model == model)
        for model in MEMORY_MODELS
    }
    processes, threads, green = (slots[model] for model in MEMORY_MODELS)
    if processes is None or threads is None or green is None:
        return None
    figure = (
        f"On {WAITING}, memory per request held, the median of each model's targets: "
        f"processes {formats.mib(processes)} (a worker each), OS threads {formats.mib(threads)}, "
        f"green threads {formats.mib(green)}"
    )
    links = found.chart(WAITING, "resources")
    threads_less = processes > threads * (1 + TIE)
    green_less = threads > green * (1 + TIE)
    if threads_less and green_less:
        return Finding(
            figure,
            "holds",
            f"each is more than {formats.percent(TIE)} below the one before: a process's "
            f"slot is {formats.ratio(processes / threads)} a thread's, a thread's "
            f"{formats.ratio(threads / green)} a green thread's.",
            links,
        )
    if threads_less or green_less:
        which = "OS threads with processes" if threads_less else "green threads with OS threads"
        return Finding(
            figure,
            "holds only when",
            f"comparing {which}: the other step was not more than {formats.percent(TIE)} smaller.",
            links,
        )
    return Finding(
        figure,
        "does not hold here",
        f"neither threads nor green threads used more than {formats.percent(TIE)} less.",
        links,
    )


def _peers(found: Evidence, scenario: str) -> tuple[list[Pick], Pick, ScenarioResults] | None:
    """The non-blocking targets, fastest first, and the best blocking one, at the peers' level."""
    results = found.results.get(scenario)
    if results is None or PEER_USERS not in shared_levels(results, non_blocking, blocking):
        return None
    rival = best(results, PEER_USERS, blocking)
    assert rival
    found_async = [
        (s, p) for s in results.series if non_blocking(s) and (p := s.at(PEER_USERS)) and p.valid
    ]
    return sorted(found_async, key=rps, reverse=True), rival, results


def _peer_links(found: Evidence, scenario: str) -> tuple[Link, ...]:
    return found.chart(scenario) + found.page(REPLICATIONS_PAGE, "the two replications")


def grinberg(found: Evidence) -> Finding | None:
    measured = _peers(found, GRINBERG)
    if measured is None:
        return None
    fast, rival, _ = measured
    ratios = [(pick, ratio(pick, rival)) for pick in fast]
    figure = (
        f"On {GRINBERG} at {formats.users(PEER_USERS)}, against the best blocking target, "
        f"{who(rival)}, the non-blocking targets served "
        + ", ".join(f"{formats.ratio(value)} ({pick[0].target})" for pick, value in ratios)
    )
    ahead = [pick[0].target for pick, value in ratios if value > 1 + TIE]
    links = _peer_links(found, GRINBERG)
    if len(ahead) == len(ratios):
        return Finding(
            figure,
            "holds",
            f"every non-blocking target was more than {formats.percent(TIE)} faster.",
            links,
        )
    if not ahead:
        return Finding(
            figure,
            "does not hold here",
            f"no non-blocking target was more than {formats.percent(TIE)} faster.",
            links,
        )
    return Finding(
        figure,
        "holds only when",
        f"the async server is {', '.join(ahead)} ({len(ahead)} of {len(ratios)}): the others "
        f"were not more than {formats.percent(TIE)} faster.",
        links,
    )


def paterson(found: Evidence) -> Finding | None:
    measured = _peers(found, PATERSON)
    if measured is None:
        return None
    fast, rival, _ = measured
    value = ratio(fast[0], rival)
    figure = (
        f"On {PATERSON} at {formats.users(PEER_USERS)}, the best non-blocking target, "
        f"{who(fast[0])}, served {formats.ratio(value)} the best blocking one, {who(rival)}"
    )
    links = _peer_links(found, PATERSON)
    if value <= 1 + TIE:
        return Finding(
            figure,
            "holds",
            f"no non-blocking target was more than {formats.percent(TIE)} faster.",
            links,
        )
    return Finding(
        figure,
        "does not hold here",
        f"the best non-blocking target was more than {formats.percent(TIE)} faster.",
        links,
    )


def c10k(found: Evidence) -> Finding | None:
    results = found.results.get(C10K)
    if results is None:
        return None
    loops = [
        (series, point)
        for series in results.series
        if series.model == "event-loop" and (point := series.at(C10K_USERS)) is not None
    ]
    if not loops:
        return None
    held = [pick for pick in loops if pick[1].valid and pick[1].aggregate.efficiency is not None]
    links = found.chart(C10K, "throughput") + found.chart(C10K, "resources")
    if not held:
        reasons = "; ".join(
            f"{series.target}: {', '.join(point.reasons)}" for series, point in loops
        )
        return Finding(
            f"On {C10K} at {formats.users(C10K_USERS)}, no event-loop target had a valid level",
            "does not hold here",
            f"none was measured validly ({reasons}).",
            links,
        )
    series, point = max(held, key=lambda pick: pick[1].aggregate.efficiency or 0.0)
    efficiency = point.aggregate.efficiency or 0.0
    memory = ""
    if point.rss_mib is not None:
        memory = (
            f", in {formats.count(point.processes)} process(es) with "
            f"{formats.count(point.threads)} OS threads and {formats.mib(point.rss_mib)} of "
            f"memory: at most {formats.mib(point.mib_per_request)} per request in flight"
        )
    figure = (
        f"On {C10K} at {formats.users(C10K_USERS)}, {who((series, point))} served "
        f"{formats.percent(efficiency)} of its bound ({formats.rps(point.aggregate.ceiling_rps)} "
        f"req/s) holding {formats.count(point.in_flight)} requests at once{memory}"
    )
    rival = best(results, C10K_USERS, blocking)
    if rival is not None:
        figure += (
            f"; the best blocking target, {who(rival)}, served "
            f"{formats.ratio(ratio((series, point), rival))} less"
        )
    if efficiency >= AT_BOUND:
        return Finding(
            figure,
            "holds",
            f"it reached {formats.percent(AT_BOUND)} of its bound or more with every request "
            "held at once.",
            links,
        )
    return Finding(
        figure,
        "does not hold here",
        f"no event-loop target reached {formats.percent(AT_BOUND)} of its bound at that level.",
        links,
    )
