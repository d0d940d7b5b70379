"""Followed logs, high level: the stamped lines of a container or of a Swarm service's tasks, as they come.

The Engine API gives a followed log as one long answer (`follow=1`); the stdout and stderr of a
container without a TTY come multiplexed in frames, which `darse.engine.api.log_lines` takes apart
with bounded memory. Each line starts with the engine's timestamp (`timestamps=1`); a service's lines
also carry their task and node (`details=1`). Which containers and services to follow, and what to do
with the lines, is the dashboard's business (`darse.dashboard.logs`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from darse.engine.api import LogStream, Subscription, log_lines
from darse.engine.docker import Engine

TASK_DETAIL = "com.docker.swarm.task.id"
NODE_DETAIL = "com.docker.swarm.node.id"


@dataclass(frozen=True)
class LogRecord:
    """One line of a followed log."""

    time: str  # as the engine stamped it, RFC 3339 with nanoseconds ("" when the line had no stamp)
    text: str  # decoded (invalid UTF-8 replaced), without its line end, at most MAX_LOG_LINE bytes of it
    cut: bool = False  # the line was longer: the rest was dropped
    task: str = ""  # a Swarm service's line: the task's ID
    node: str = ""  # ... and its node's ID


class FollowedLog(Subscription):
    """The records of one followed log until the engine ends it (the container stopped, the service was
    removed) or `close()` is called, from any thread: the thread iterating then sees the end."""

    def __init__(self, stream: LogStream, multiplexed: bool, details: bool, errors: Any) -> None:
        super().__init__(stream, errors)
        self._multiplexed = multiplexed
        self._details = details

    def __iter__(self) -> Iterator[LogRecord]:
        for line, cut in self._guarded(log_lines(self._stream, self._multiplexed)):
            yield _record(line.decode("utf-8", "replace"), cut, self._details)


def _record(line: str, cut: bool, details: bool) -> LogRecord:
    stamp, _sep, rest = line.partition(" ")
    if not (stamp[:4].isdigit() and "T" in stamp):  # not stamped (never, with timestamps=1): the line as is
        return LogRecord("", line, cut)
    if not details:
        return LogRecord(stamp, rest, cut)
    attributes, _sep, text = rest.partition(" ")
    found: dict[str, str] = {}
    for pair in attributes.split(","):
        key, _eq, value = pair.partition("=")
        found[unquote(key)] = unquote(value)
    if TASK_DETAIL not in found:  # no details after all: keep the whole text
        return LogRecord(stamp, rest, cut)
    return LogRecord(stamp, text, cut, task=found[TASK_DETAIL], node=found.get(NODE_DETAIL, ""))


def follow_container(engine: Engine, container: str, tail: int | str = 100, since: float | None = None) -> FollowedLog:
    """Follow a container's stdout and stderr from its last `tail` lines, or those after `since`
    (seconds since the epoch). One inspect first: a TTY container's output is not multiplexed."""
    tty = bool((engine.api.inspect_container(container).get("Config") or {}).get("Tty"))
    stream = engine.api.start_logs(container, tail=tail, since=since)
    return FollowedLog(stream, multiplexed=not tty, details=False, errors=engine.errors)


@dataclass(frozen=True)
class SwarmService:
    id: str
    name: str  # full name, STACK_SERVICE
    tty: bool


def stack_services(engine: Engine, stack: str) -> list[SwarmService]:
    """The services of a Swarm stack (its namespace label), one query."""
    from darse.engine.swarm import STACK_LABEL

    found = []
    for raw in engine.api.services(filters={"label": [f"{STACK_LABEL}={stack}"]}):
        spec = raw.get("Spec") or {}
        container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        found.append(SwarmService(str(raw.get("ID", "")), str(spec.get("Name", "")), bool(container.get("TTY"))))
    return found


def task_slots(engine: Engine, service_id: str) -> dict[str, str]:
    """Task ID -> its slot ("1", "2", ...; a global service's task: its node's ID), for naming lines."""
    slots = {}
    for raw in engine.api.tasks(filters={"service": [service_id]}):
        slot = raw.get("Slot")
        slots[str(raw.get("ID", ""))] = str(slot) if slot else str(raw.get("NodeID", ""))[:12]
    return slots


def node_hostnames(engine: Engine) -> dict[str, str]:
    """Node ID -> hostname, for naming a service's lines by node (one query to a manager)."""
    return {
        str(raw.get("ID", "")): str((raw.get("Description") or {}).get("Hostname", "")) for raw in engine.api.nodes()
    }


def follow_service(engine: Engine, service: SwarmService, tail: int | str = 100, follow: bool = True) -> FollowedLog:
    """Follow every task of a Swarm service, on every node, those that start later included (with
    `follow` False: the lines there are now, then the end)."""
    stream = engine.api.start_service_logs(service.id, tail=tail, follow=follow)
    return FollowedLog(stream, multiplexed=not service.tty, details=True, errors=engine.errors)


class ServiceEvents(Subscription):
    """The Swarm's service events (create, update, remove) of one subscription, as service names."""

    def __init__(self, engine: Engine) -> None:
        filters = {"type": ["service"], "event": ["create", "update", "remove"]}
        super().__init__(engine.api.start_events(filters=filters), engine.errors)

    def __iter__(self) -> Iterator[str]:
        for raw in self._guarded(self._stream):
            attributes = (raw.get("Actor") or {}).get("Attributes") or {}
            yield str(attributes.get("name", "")) if isinstance(attributes, dict) else ""
