from __future__ import annotations

from rich.console import Console

from blockbench.engine import progress
from blockbench.results import LevelResult, OpenLoop, Percentiles
from tests.blockbench.synthetic import make_run, without_bounds


def level(users: int, target: str = "flask-sync", scenario: str = "io-sleep") -> LevelResult:
    run = make_run()
    cell = next(c for c in run.cells if (c.scenario, c.target) == (scenario, target))
    return next(result for result in cell.levels if result.users == users)


def printed(result: LevelResult) -> list[str]:
    console = Console(record=True, width=80)
    progress.Progress(enabled=False, console=console).level(result)
    return console.export_text().splitlines()


def test_one_user_is_one_user() -> None:
    [served, _] = printed(level(1))
    assert served.startswith("  io-sleep · flask-sync ·     1 user: ")


def test_a_finished_level_names_its_binding_bound() -> None:
    served, bound = printed(level(20))
    assert served.startswith("  io-sleep · flask-sync ·   20 users: 28.")
    assert bound == "      (bound 29.7 worker processes, efficiency 0.96)"


def test_a_level_that_is_no_result_says_why_on_its_own_line() -> None:
    lines = printed(level(100, "starlette-uvicorn"))
    assert lines[-1] == "      not a result: generator_saturated"


def test_the_lines_fit_an_80_column_terminal() -> None:
    longest = level(100, "starlette-uvicorn").model_copy(
        update={
            "scenario": "blocking-bug",
            "target": "starlette-gunicorn-asgi",
            "users": 1000,
            "binding": "event loop blocked by a sync call",
            "ceiling_rps": 12345.0,
        }
    )
    assert all(len(line) <= 80 for line in progress.level_lines(longest))


def test_many_flags_wrap_between_flags_within_80_columns() -> None:
    flags = ["utilisation_law_off", "generator_saturated", "near_generator_ceiling"]
    flagged = level(100, "starlette-uvicorn").model_copy(update={"flags": [*flags, *flags]})
    lines = printed(flagged)
    assert all(len(line) <= 80 for line in lines)
    first = next(index for index, line in enumerate(lines) if "not a result" in line)
    assert len(lines) - first > 1, "six flags take more than one line"
    assert " ".join(" ".join(lines[first:]).split()) == "not a result: " + ", ".join(flags * 2)


def test_a_line_wider_than_the_console_is_not_broken() -> None:
    # Piped output is 80 wide to rich; a warning that quotes a long path stays one line.
    console = Console(record=True, width=40)
    progress.Progress(enabled=False, console=console).warn("x" * 30 + " " + "y" * 30)
    assert console.export_text().count("\n") == 1


def test_a_level_without_bounds_prints_no_bound() -> None:
    cell = without_bounds(make_run()).cells[0]
    assert len(printed(cell.levels[0])) == 1


def test_an_open_loop_level_reads_as_a_rate_with_its_corrected_latency() -> None:
    def percentiles(p99: float) -> Percentiles:
        return Percentiles(count=400, p50=101.0, p90=150.0, p99=p99, p999=p99, max=p99)

    schedule = OpenLoop(
        arrivals="poisson",
        offered_rps=80.0,
        senders=160,
        scheduled=400,
        late=0,
        max_in_flight=40,
        corrected=percentiles(2500.0),
        service=percentiles(180.0),
    )
    open_level = level(20).model_copy(update={"users": 80, "open_loop": schedule})
    served, latency, bound = printed(open_level)
    assert served.startswith("  io-sleep · flask-sync · 80.0 req/s offered: 28.")
    assert latency == "      p99 2,500 ms from the intended send, 180 ms from the actual one"
    assert bound.startswith("      (bound ")
