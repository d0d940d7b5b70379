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


MARKS = {"✔": "green", "✘": "red", "✖": "red"}


def print_summary(lines: list[str], console: Console) -> None:
    """A result's plain summary lines (`summary_lines()` of the library's results, which the dashboard
    shows too), each leading mark coloured."""
    for line in lines:
        text = line.lstrip(" ")
        indent = line[: len(line) - len(text)]
        if text[:1] in MARKS:
            console.print(f"{indent}[{MARKS[text[:1]]}]{text[:1]}[/]{escape(text[1:])}", highlight=False)
        else:
            console.print(escape(line), highlight=False)
