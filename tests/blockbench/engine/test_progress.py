from __future__ import annotations

from rich.console import Console

from blockbench.engine import progress
from blockbench.results import LevelResult
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
