"""What a person watching ``blockbench run`` sees: where the run is, the live request rate,
each level as it finishes, and the time left."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, SpinnerColumn, TextColumn
from rich.progress import Progress as RichProgress

from blockbench import formats, results
from blockbench.load import scenarios


class Progress:
    """A rich progress bar over the estimated run time (on a terminal), and a line per level."""

    def __init__(
        self, *, enabled: bool = True, total_s: float = 0.0, console: Console | None = None
    ) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.total_s = total_s
        self._started = time.monotonic()
        self._where = ""
        self._bar = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[left]}"),
            console=self.console,
            transient=True,
            disable=not enabled,
        )
        self._task = self._bar.add_task("starting", total=max(total_s, 1.0), left="")

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def _update(self, description: str) -> None:
        elapsed = time.monotonic() - self._started
        # The estimate can be short; never show the bar full or the time left negative.
        done = min(elapsed, self.total_s * 0.99)
        left = max(self.total_s - elapsed, 0.0)
        self._bar.update(
            self._task, description=description, completed=done, left=f"about {left:.0f} s left"
        )

    def phase(self, text: str) -> None:
        self._where = text
        self._update(text)

    def cell(self, index: int, count: int, cell: results.Cell, sweep: scenarios.Sweep) -> None:
        levels = ", ".join(map(str, sweep.levels))
        unit = "users" if sweep.arrivals is None else f"req/s, {sweep.arrivals} arrivals"
        self._where = f"[{index + 1}/{count}] {cell.scenario} on {cell.target} ({levels} {unit})"
        self._update(self._where)

    def tick(self, live_rps: float | None) -> None:
        rate = f" · {live_rps:.0f} req/s now" if live_rps is not None else ""
        self._update(self._where + rate)

    def level(self, level: results.LevelResult) -> None:
        # Printed with or without the bar: a log of a run in CI or a container wants them too.
        # Each line is built to fit 80 columns; soft wrap keeps rich from breaking one mid-phrase
        # where the output is narrower (a pipe is 80 wide to rich).
        for line in level_lines(level):
            self.console.print(line, highlight=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        # A warning quotes paths and log lines: kept whole, for a terminal to wrap if it must.
        self.console.print(f"[bold yellow]warning:[/] {text}", highlight=False, soft_wrap=True)


WIDTH = 80


def level_lines(level: results.LevelResult) -> list[str]:
    """A finished level in lines that fit 80 columns: what it served, and against what."""
    open_loop = level.open_loop
    if open_loop is None:
        lines = [
            f"  {level.scenario} · {level.target} · {formats.users(level.users):>10}: "
            f"{formats.rps(level.rps)} req/s, p99 {formats.ms(level.latency.p99)}"
        ]
    else:
        # An arrival rate: the latency that counts is from the intended send time.
        corrected = open_loop.corrected.p99 if open_loop.corrected else None
        service = open_loop.service.p99 if open_loop.service else None
        lines = [
            f"  {level.scenario} · {level.target} · {formats.rps(open_loop.offered_rps)} req/s "
            f"offered: {formats.rps(level.rps)} req/s",
            f"      p99 {formats.ms(corrected)} from the intended send, "
            f"{formats.ms(service)} from the actual one",
        ]
    if level.ceiling_rps is not None:
        binding = f" {level.binding}" if level.binding else ""
        efficiency = f"{level.efficiency:.2f}" if level.efficiency is not None else "-"
        bound = formats.rps(level.ceiling_rps)
        lines.append(f"      (bound {bound}{binding}, efficiency {efficiency})")
    if level.flags:
        lines += _wrapped("      not a result: ", list(level.flags), style="bold red")
    return lines


def _wrapped(lead: str, words: list[str], style: str) -> list[str]:
    """``lead`` and the comma-separated words, in lines of 80 columns broken between words."""
    lines: list[str] = []
    current = lead
    for index, word in enumerate(words):
        piece = word + ("," if index < len(words) - 1 else "")
        if current.strip() and len(current) + len(piece) + 1 > WIDTH and current != lead:
            lines.append(current.rstrip())
            current = " " * len(lead)
        current += piece + " "
    lines.append(current.rstrip())
    return [f"[{style}]{line}[/]" for line in lines]
