"""`darse logs FOLDER` on a Swarm target: the lines of every task of the folder's stack, whatever node
runs it, gathered through the manager (`GET /services/{id}/logs`), each line named `member.slot@node`.

A manager asks each node for its tasks' logs, so nothing is read on the nodes themselves (a tool that
lists one engine's containers, as Portainer does per endpoint, misses the tasks on the other nodes).
Without --follow, each member's lines come in order, one member after the other; with it, every
member's new lines as they come, until Ctrl-C or the stack is removed.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from darse.config import Target
from darse.engine.compose import Endpoint
from darse.engine.connect import connect
from darse.engine.docker import Engine
from darse.engine.logs import (
    FollowedLog,
    LogRecord,
    SwarmService,
    follow_service,
    node_hostnames,
    stack_services,
    task_slots,
)
from darse.errors import DarseError

_END = object()  # a member's log ended (its queue marker)


@dataclass(frozen=True)
class TaskLine:
    """One line of a task's log."""

    time: str
    member: str  # the Compose service of the stack (`web`)
    slot: str  # the task's slot ("1", "2", ...; a global service's task: its node's ID)
    node: str  # the hostname of the node that runs the task
    text: str

    def render(self) -> str:
        return f"{self.member}.{self.slot}@{self.node} | {self.text}"


def stack_log_lines(target: Target, stack: str, follow: bool = False, tail: int | None = None) -> Iterator[TaskLine]:
    """The lines of every task of `stack` (see the module). Closing the iterator ends the reading."""
    engine = connect(Endpoint.of(target))
    streams: list[FollowedLog] = []
    try:
        members = stack_services(engine, stack)
        if not members:
            raise DarseError(f"stack {stack} is not deployed on {target.name}", "deploy it with `darse up`")
        names = _Names(engine)
        limit = "all" if tail is None else tail
        if not follow:
            for member in members:
                stream = follow_service(engine, member, tail=limit, follow=False)
                streams.append(stream)
                for record in stream:
                    yield names.line(member, record, stack)
            return
        yield from _merged(engine, members, limit, names, stack, streams)
    finally:
        for stream in streams:
            with contextlib.suppress(Exception):
                stream.close()
        engine.close()


def _merged(
    engine: Engine, members: list[SwarmService], limit: int | str, names: _Names, stack: str, streams: list
) -> Iterator[TaskLine]:
    """Every member's followed log read by a thread of its own, the lines handed over as they come."""
    lines: queue.Queue = queue.Queue(maxsize=1000)  # a slow terminal holds the readers back, memory stays bounded

    def read(member: SwarmService, stream: FollowedLog) -> None:
        try:
            for record in stream:
                lines.put((member, record))
        finally:
            lines.put((member, _END))

    for member in members:
        stream = follow_service(engine, member, tail=limit, follow=True)
        streams.append(stream)
        threading.Thread(target=read, args=(member, stream), daemon=True).start()
    running = len(members)
    while running:
        member, record = lines.get()
        if record is _END:
            running -= 1
            continue
        yield names.line(member, record, stack)


class _Names:
    """Task IDs to slots and node IDs to hostnames, asked again when a line names one not seen yet."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.slots: dict[str, str] = {}
        self.hosts: dict[str, str] = {}
        self._lock = threading.Lock()

    def line(self, member: SwarmService, record: LogRecord, stack: str) -> TaskLine:
        with self._lock:
            if record.task and record.task not in self.slots:
                self.slots.update(task_slots(self.engine, member.id))
            if record.node and record.node not in self.hosts:
                self.hosts.update(node_hostnames(self.engine))
        short = member.name.removeprefix(f"{stack}_")
        slot = self.slots.get(record.task, record.task[:12])
        node = self.hosts.get(record.node, record.node[:12])
        return TaskLine(record.time, short, slot, node, record.text)


def print_stack_logs(target: Target, stack: str, follow: bool, tail: int | None, write: Callable[[str], None]) -> int:
    """`darse logs` of a Swarm-target folder: each line rendered to `write`; the exit status."""
    lines = stack_log_lines(target, stack, follow, tail)
    try:
        for line in lines:
            write(line.render())
    finally:
        lines.close()
    return 0
