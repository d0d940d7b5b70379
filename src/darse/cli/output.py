"""What every command prints the same way: JSON on stdout, sizes for people, progress on stderr."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.markup import escape

from darse.progress import Event, Listener


def print_json(data: Any, indent: int | None = 2) -> None:
    """The `--json` output of a command: one document on stdout, nothing else there."""
    sys.stdout.write(json.dumps(data, indent=indent) + "\n")


def human_size(value: int | None, whole_bytes: bool = True) -> str:
    """1234567 → "1.2 MB" (powers of 1000, as Docker prints sizes); None → "-"."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            if unit == "B":
                return f"{int(size)} B" if whole_bytes else f"{size:.0f} B"
            return f"{size:.1f} {unit}"
        size /= 1000
    return f"{value} B"


@contextlib.contextmanager
def progress_display(enabled: bool, console: Console | None = None, bytes_: bool = False) -> Iterator[Listener]:
    """A listener drawing progress events on stderr (stdout stays clean for --json): one line per task,
    a spinner with the latest detail, or a bar when the task knows its total. Disabled: events are dropped."""
    if not enabled:
        yield lambda _event: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = console or Console(stderr=True, highlight=False)
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if bytes_:
        columns += [BarColumn(), DownloadColumn()]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not enabled) as bar:
        tasks: dict[str, Any] = {}

        def listen(event: Event) -> None:
            task = tasks.get(event.task)
            if task is None:
                task = tasks[event.task] = bar.add_task(escape(event.task), total=event.total)
            description = escape(event.task)
            if event.detail:
                description += f"  [dim]{escape(event.detail[:80])}[/]"
            bar.update(task, description=description, advance=event.advance or None, total=event.total)
            if event.done:
                bar.remove_task(task)
                del tasks[event.task]

        yield listen


def render_stack_result(result: Any, console: Console) -> None:
    """A Swarm deployment (`StackResult`), as `darse up`, `rollback` and `stack deploy` print it."""
    mark = "[green]✔[/]" if result.ok else "[red]✖[/]"
    console.print(f"{mark} {escape(result.service)} → stack {escape(result.stack)} on {escape(result.target)}")
    for outcome in result.convergence.services:
        colour = "green" if outcome.ok else "red"
        line = f"   [{colour}]{escape(outcome.name)}[/]: {escape(outcome.state)}"
        if outcome.detail:
            line += f" ({escape(outcome.detail)})"
        console.print(line)
        for error in outcome.errors:
            console.print(f"      task error: {escape(error)}")
    if result.rolled_back:
        console.print(f"   the Swarm runs the previous version of: {escape(', '.join(result.rolled_back))}")
    if result.secrets_removed:
        console.print(f"   {result.secrets_removed} unused secret(s) removed")
