"""The open-loop page of a run: per scenario, each target's latency against the arrival rate
offered (the "hockey stick"), and the rate at which its p99 from the intended send crosses the
objective. templates/open_loop.html lays it out, open_loop_charts.py draws it.

Only valid levels are read: a level whose schedule fell behind, or that failed, is drawn hollow
and listed with its reasons, never used for a crossing. Repeats of a rate are summarised by
their median, as the aggregates of closed-loop levels are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from blockbench import formats
from blockbench.report.points import catalogue_targets, median, open_loop, reasons
from blockbench.results import LevelResult, OpenLoop, Percentiles, Run
from blockbench.results.validity import LATENCY_OBJECTIVE_MS

# The page, beside the run's overview.
PAGE = "open_loop.html"
# The service-level objective the page reads each target against: p99 latency from the
# intended send time under one second; the rules' constant, which also sets when a sweep is
# far past saturation.
OBJECTIVE_MS = LATENCY_OBJECTIVE_MS
# HdrHistogram's resolution here; a p99 below it is read as it, so its logarithm exists.
LEAST_MS = 0.001
# Past the objective, the gap between the p99 from the intended send and the service time's
# p99 is called waiting to be sent once the first is this many times the second.
WAITED = 2.0

Value = Callable[[Percentiles], float]


@dataclass(frozen=True)
class Rate:
    """One target at one arrival rate: its repeats, judged and summarised."""

    # The level's key: the rate as whole requests per second.
    users: int
    repeats: tuple[LevelResult, ...]
    cores: int = 1

    @property
    def valid(self) -> bool:
        return any(level.valid for level in self.repeats)

    @property
    def counted(self) -> tuple[LevelResult, ...]:
        """The valid repeats, or all when none was."""
        return tuple(level for level in self.repeats if level.valid) or self.repeats

    @property
    def schedules(self) -> tuple[OpenLoop, ...]:
        return tuple(level.open_loop for level in self.counted if level.open_loop)

    @property
    def offered_rps(self) -> float:
        found = median(schedule.offered_rps for schedule in self.schedules)
        return float(self.users) if found is None else found

    @property
    def rps(self) -> float | None:
        return median(level.rps for level in self.counted)

    def corrected(self, value: Value) -> float | None:
        """From the intended send time: what a user arriving then waited."""
        return median(value(s.corrected) for s in self.schedules if s.corrected)

    def service(self, value: Value) -> float | None:
        """From the actual send: the server's time alone."""
        return median(value(s.service) for s in self.schedules if s.service)

    @property
    def late(self) -> int:
        """The most sends that left late in any repeat counted."""
        return max((schedule.late for schedule in self.schedules), default=0)

    @property
    def scheduled(self) -> int:
        return max((schedule.scheduled for schedule in self.schedules), default=0)

    @property
    def max_in_flight(self) -> int | None:
        return max((schedule.max_in_flight for schedule in self.schedules), default=None)

    @property
    def reasons(self) -> tuple[str, ...]:
        return reasons(self.repeats, self.valid, self.cores)

    @property
    def late_only(self) -> bool:
        """Not a result only because its schedule fell behind: its sends waited for a sender,
        and its latency from the intended send counts that wait, so it reads no less than a
        generator with senders to spare would have (the server was past its capacity either
        way, and its queue is served in turn wherever it forms)."""
        flags = {flag for level in self.repeats for flag in level.flags}
        return not self.valid and flags == {"schedule_fell_behind"}


def p50(found: Percentiles) -> float:
    return found.p50


def p99(found: Percentiles) -> float:
    return found.p99


def p999(found: Percentiles) -> float:
    return found.p999


# The percentiles the page's table gives, each from the intended send and from the actual one.
PERCENTILES: tuple[Value, ...] = (p50, p99, p999)


@dataclass(frozen=True)
class Crossing:
    """Where a target's p99 from the intended send crosses the objective.

    ``under`` is the last valid rate at or under it before the first valid rate over it,
    ``over``; the rate is interpolated between the two on log-log axes. Not bracketed: with
    no ``under`` it crossed at or below the lowest valid rate, with no ``over`` it never did.
    """

    objective_ms: float
    under: Rate | None
    over: Rate | None
    # The highest valid rate, for "not crossed up to"; None with no valid rate.
    highest: Rate | None
    # With no valid rate over the objective: the rate just above the highest valid one when it
    # is not a result only because its schedule fell behind and its p99 from the intended send,
    # a lower bound then, is already over the objective. The crossing lies between the two; it
    # is not interpolated, since past a server's capacity an open loop's queue grows without
    # end and its p99 depends on how long the level ran.
    late_over: Rate | None = None

    @property
    def rate(self) -> float | None:
        if self.under is None or self.over is None:
            return None
        return interpolate(
            (self.under.offered_rps, _p99(self.under)),
            (self.over.offered_rps, _p99(self.over)),
            self.objective_ms,
        )

    @property
    def text(self) -> str:
        if self.highest is None:
            return "no valid level"
        if self.rate is not None:
            return f"~{formats.rps(self.rate)} req/s"
        if self.late_over is not None and self.highest is not None:
            return (
                f"between {rate_words(self.highest.offered_rps)} and "
                f"{rate_words(self.late_over.offered_rps)} req/s"
            )
        if self.over is not None:
            return f"below the lowest valid rate, {rate_words(self.over.offered_rps)} req/s"
        return f"not crossed up to {rate_words(self.highest.offered_rps)} req/s"

    @property
    def between(self) -> str | None:
        """The two rates it was interpolated between, in words."""
        if self.late_over is not None and self.highest is not None:
            return (
                f"between {rate_words(self.highest.offered_rps)} and "
                f"{rate_words(self.late_over.offered_rps)} req/s, the second a lower bound (its "
                "schedule fell behind)"
            )
        if self.under is None or self.over is None:
            return None
        return (
            f"between {rate_words(self.under.offered_rps)} and "
            f"{rate_words(self.over.offered_rps)} req/s"
        )


def crossing(rates: Sequence[Rate], objective_ms: float = OBJECTIVE_MS) -> Crossing:
    """The first valid rate whose p99 from the intended send is over the objective, and the
    valid rate before it; invalid rates and rates with no such p99 are skipped."""
    valid = sorted(_read(rates), key=lambda rate: rate.offered_rps)
    highest = valid[-1] if valid else None
    for index, rate in enumerate(valid):
        if _p99(rate) > objective_ms:
            under = valid[index - 1] if index > 0 else None
            return Crossing(objective_ms, under, rate, highest)
    above = sorted(
        (r for r in rates if highest is not None and r.offered_rps > highest.offered_rps),
        key=lambda rate: rate.offered_rps,
    )
    late_over = None
    if above and above[0].late_only:
        bound = above[0].corrected(p99)
        if bound is not None and bound > objective_ms:
            late_over = above[0]
    return Crossing(objective_ms, highest, None, highest, late_over)


def interpolate(low: tuple[float, float], high: tuple[float, float], y: float) -> float:
    """The x at which the straight line through two (x, y) points on log-log axes reaches y:
    latency grows roughly as a power of the rate near the knee, a straight line there."""
    (x0, y0), (x1, y1) = low, high
    ly0, ly1 = math.log(max(y0, LEAST_MS)), math.log(max(y1, LEAST_MS))
    if ly1 == ly0:
        return x0
    share = (math.log(y) - ly0) / (ly1 - ly0)
    return math.exp(math.log(x0) + share * (math.log(x1) - math.log(x0)))


@dataclass(frozen=True)
class Curve:
    """One target's open-loop levels in one scenario, by rising offered rate."""

    target: str
    model: str | None
    rates: tuple[Rate, ...]
    objective_ms: float = OBJECTIVE_MS

    @property
    def crossing(self) -> Crossing:
        return crossing(self.rates, self.objective_ms)

    @property
    def read(self) -> tuple[Rate, ...]:
        """The rates a crossing is read from: valid, with a p99 from the intended send."""
        return _read(self.rates)

    @property
    def sentence(self) -> str:
        """What the chart shows of this target, in one sentence, from its numbers."""
        found = self.crossing
        objective = formats.duration(self.objective_ms)
        highest = found.highest
        if highest is None:
            why = "; ".join(dict.fromkeys(r for rate in self.rates for r in rate.reasons))
            return f"{self.target} has no valid open-loop level ({why or 'none measured'})."
        if found.rate is not None and found.over is not None:
            # The worst valid rate past the crossing: how high the stick's blade goes.
            past = [r for r in self.read if r.offered_rps >= found.over.offered_rps]
            worst = max(past, key=_p99)
            text = (
                f"{self.target} keeps its p99 from the intended send under {objective} up to "
                f"~{formats.rps(found.rate)} req/s ({found.between}, interpolated on log-log "
                f"axes); past it, at {rate_words(worst.offered_rps)} req/s, p99 from the "
                f"intended send reaches {_both(worst)}"
            )
            if _p99(worst) >= WAITED * (worst.service(p99) or math.inf):
                text += ": most of it is time the requests waited to be sent"
        elif found.late_over is not None:
            over = found.late_over
            text = (
                f"{self.target} keeps its p99 from the intended send under {objective} up to "
                f"{rate_words(highest.offered_rps)} req/s ({_both(highest)}) and crosses it "
                f"below {rate_words(over.offered_rps)} req/s: there its queue outgrew the "
                "senders, and its p99 from the intended send, which counts the wait for a "
                f"sender, was already at least {formats.duration(over.corrected(p99))} (its "
                f"service time's p99: {formats.duration(over.service(p99))})"
            )
            return text + self._beyond(over) + "."
        elif found.over is not None:
            lowest = found.over
            text = (
                f"{self.target}'s p99 from the intended send is over {objective} already at its "
                f"lowest valid rate, {rate_words(lowest.offered_rps)} req/s: {_both(lowest)}"
            )
        else:
            text = (
                f"{self.target} keeps its p99 from the intended send under {objective} at every "
                f"valid rate up to {rate_words(highest.offered_rps)} req/s, where it is "
                f"{_both(highest)}"
            )
        return text + self._beyond(highest) + "."

    def _beyond(self, highest: Rate) -> str:
        """The rates above the highest valid one, which are not results, and why."""
        above = [rate for rate in self.rates if rate.offered_rps > highest.offered_rps]
        if not above:
            return ""
        why = "; ".join(dict.fromkeys(r for rate in above for r in rate.reasons))
        return (
            f"; above {rate_words(highest.offered_rps)} req/s no level is a result "
            f"({why or 'no latency from the intended send was recorded'})"
        )


@dataclass(frozen=True)
class ScenarioView:
    scenario: str
    curves: tuple[Curve, ...]
    objective_ms: float = OBJECTIVE_MS

    @property
    def rates(self) -> tuple[int, ...]:
        """Every rate any target was offered, rising."""
        return tuple(sorted({rate.users for curve in self.curves for rate in curve.rates}))

    @property
    def headline(self) -> str:
        """Each target's crossing in one sentence, for the index of runs."""
        crossings = "; ".join(
            f"{curve.target} ({curve.model or 'unknown'}) {curve.crossing.text}"
            for curve in self.curves
        )
        return (
            f"{self.scenario} at arrival rates, where p99 from the intended send crosses "
            f"{formats.duration(self.objective_ms)}: {crossings}."
        )


def present(run: Run) -> bool:
    """Whether the run has any open-loop level."""
    return any(open_loop(cell) for cell in run.cells)


def views(run: Run, objective_ms: float = OBJECTIVE_MS) -> tuple[ScenarioView, ...]:
    """Per scenario with open-loop levels, in the run's order: each target's curve."""
    cores = len(run.environment.target_cpus or []) or 1
    found: dict[str, dict[str, dict[int, list[LevelResult]]]] = {}
    models: dict[str, str | None] = {}
    for cell in sorted(run.cells, key=lambda cell: cell.repeat):
        for level in cell.levels:
            if level.open_loop is None:
                continue
            by_target = found.setdefault(cell.scenario, {})
            by_target.setdefault(cell.target, {}).setdefault(level.users, []).append(level)
            models.setdefault(cell.target, cell.model)
    known = catalogue_targets()
    return tuple(
        ScenarioView(
            scenario,
            tuple(
                _curve(
                    target,
                    known[target].model if target in known else models[target],
                    found[scenario][target],
                    cores,
                    objective_ms,
                )
                for target in _ordered(run.targets, found[scenario])
            ),
            objective_ms,
        )
        for scenario in _ordered(run.scenarios, found)
    )


def _curve(
    target: str,
    model: str | None,
    levels: dict[int, list[LevelResult]],
    cores: int,
    objective_ms: float,
) -> Curve:
    rates = (Rate(users, tuple(found), cores) for users, found in levels.items())
    return Curve(target, model, tuple(sorted(rates, key=lambda r: r.offered_rps)), objective_ms)


def rate_words(offered_rps: float) -> str:
    """An offered rate as scheduled: a whole number of req/s reads as one (40, not 40.0)."""
    whole = round(offered_rps)
    return f"{whole:,}" if abs(offered_rps - whole) < 0.05 else formats.rps(offered_rps)


def _both(rate: Rate) -> str:
    return (
        f"{formats.duration(rate.corrected(p99))} while its service time's p99 is "
        f"{formats.duration(rate.service(p99))}"
    )


def _read(rates: Sequence[Rate]) -> tuple[Rate, ...]:
    return tuple(rate for rate in rates if rate.valid and rate.corrected(p99) is not None)


def _p99(rate: Rate) -> float:
    # Only rates with a p99 from the intended send are read (crossing).
    value = rate.corrected(p99)
    assert value is not None
    return value


def _ordered(declared: Sequence[str], found: Collection[str]) -> list[str]:
    """The declared order, then anything found but not declared, so nothing is dropped."""
    return [name for name in dict.fromkeys([*declared, *found]) if name in found]
