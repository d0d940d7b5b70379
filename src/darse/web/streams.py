"""Per-action channels: a worker thread publishes, Server-Sent Events subscribers (asyncio) follow.

An action runs in a thread (the library blocks); its messages are kept in the channel so that a page
opened after the action started, or reloaded, replays them from the start (or from the index it
already shows). Subscribers wait on an asyncio.Event set from the publishing thread with
`call_soon_threadsafe`, so no subscriber polls and no thread waits per subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing an idle stream
KEPT_MESSAGES = 2000  # per channel; older ones are dropped (a page then starts from the oldest kept)
KEPT_ACTIONS = 100  # finished actions remembered for their progress pages


@dataclass(frozen=True)
class Message:
    """One Server-Sent Event: its index in the channel, its name and its data (text, maybe several lines)."""

    index: int
    event: str
    data: str

    def encode(self) -> str:
        lines = self.data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        body = "".join(f"data: {line}\n" for line in lines)
        return f"id: {self.index}\nevent: {self.event}\n{body}\n"


class Channel:
    """The messages of one action, in order; closed by its final message."""

    def __init__(self, kept: int = KEPT_MESSAGES) -> None:
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        self._first = 0  # index of self._messages[0]
        self._next = 0
        self._kept = kept
        self._closed = False
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, event: str, data: str, *, final: bool = False) -> None:
        """Append a message (from any thread); `final` closes the channel. Messages after that are dropped."""
        with self._lock:
            if self._closed:
                return
            self._messages.append(Message(self._next, event, data))
            self._next += 1
            if len(self._messages) > self._kept:
                dropped = len(self._messages) - self._kept
                del self._messages[:dropped]
                self._first += dropped
            self._closed = final
            waiters = list(self._waiters)
        for loop, ready in waiters:
            with contextlib.suppress(RuntimeError):  # that subscriber's loop has closed
                loop.call_soon_threadsafe(ready.set)

    def since(self, index: int) -> tuple[list[Message], bool]:
        """The messages from `index` on (from the oldest kept when those are gone), and whether closed."""
        with self._lock:
            start = max(index, self._first) - self._first
            return self._messages[start:], self._closed

    async def follow(self, after: int = 0, keepalive: float = KEEPALIVE_SECONDS) -> AsyncIterator[Message | None]:
        """Every message from index `after` on as it comes, ending after the final one; None when
        nothing came for `keepalive` seconds (the caller sends a comment)."""
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        waiter = (loop, ready)
        index = after
        with self._lock:
            self._waiters.add(waiter)
        try:
            while True:
                ready.clear()  # before reading: a publish after this read sets it again
                messages, closed = self.since(index)
                for message in messages:
                    index = message.index + 1
                    yield message
                if closed:  # read with the messages, under one lock: the final one was among them
                    return
                if messages:
                    continue
                try:
                    await asyncio.wait_for(ready.wait(), keepalive)
                except TimeoutError:
                    yield None
        finally:
            with self._lock:
                self._waiters.discard(waiter)


@dataclass
class Action:
    """One action the dashboard started: who asked what, its channel, and how it ended."""

    id: str
    kind: str  # deploy, rollback, down, restart
    service: str
    user: str
    channel: Channel = field(default_factory=Channel)
    outcome: str = ""  # "", then "ok" or "failed"

    @property
    def running(self) -> bool:
        return not self.outcome


class Busy(Exception):
    """Another action of the dashboard runs on that service."""

    def __init__(self, running: Action) -> None:
        super().__init__(f"{running.kind} of {running.service} by {running.user} is running")
        self.running = running


class Actions:
    """The dashboard's actions of this process, at most one running per service (the library's project
    lock refuses a second one from anywhere else, the command line included)."""

    def __init__(self, kept: int = KEPT_ACTIONS) -> None:
        self._lock = threading.Lock()
        self._actions: dict[str, Action] = {}
        self._kept = kept

    def get(self, action_id: str) -> Action | None:
        with self._lock:
            return self._actions.get(action_id)

    def running_on(self, service: str) -> Action | None:
        with self._lock:
            return next((a for a in self._actions.values() if a.service == service and a.running), None)

    def running(self) -> list[Action]:
        """Every action still running (a pull waits for them: they read the checkout's files)."""
        with self._lock:
            return [a for a in self._actions.values() if a.running]

    def start(self, kind: str, service: str, user: str, work: Callable[[Action], None]) -> Action:
        """Register the action and run `work(action)` in a thread; raises Busy when one runs on `service`.
        `work` must end the action (`finish`), whatever happens."""
        with self._lock:
            running = next((a for a in self._actions.values() if a.service == service and a.running), None)
            if running is not None:
                raise Busy(running)
            action = Action(secrets.token_urlsafe(12), kind, service, user)
            self._actions[action.id] = action
            finished = [a for a in self._actions.values() if not a.running]
            for old in finished[: max(0, len(finished) - self._kept)]:
                del self._actions[old.id]
        thread = threading.Thread(target=work, args=(action,), name=f"darse-{kind}-{service}", daemon=True)
        thread.start()
        return action

    @staticmethod
    def finish(action: Action, ok: bool, event: str, data: str) -> None:
        """Record the outcome, then publish the final message (a subscriber woken by it sees the outcome)."""
        action.outcome = "ok" if ok else "failed"
        action.channel.publish(event, data, final=True)
