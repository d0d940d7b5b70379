"""Progress of long work as events, so that a terminal draws them as a bar and a web page streams them.

The library reports; it never draws. A listener is any callable taking an `Event`; `ignore` is the default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One step of a task: the latest line of what it does, and how far it went when that is countable."""

    task: str  # what is being done, e.g. "deploying wiki", "reading wiki:2.5"
    detail: str = ""  # the latest step or output line, already masked
    advance: int = 0  # units done since the previous event of this task (bytes, steps)
    total: int | None = None  # units in all, when known
    done: bool = False  # the task ended

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


Listener = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The listener of callers that do not show progress."""


def reporter(listener: Listener, task: str) -> Callable[[str], None]:
    """A `detail → event` callback for code that reports one line at a time about one task."""
    return lambda detail: listener(Event(task, detail))
