"""The in-memory engine with followed logs: `LoggingEngine.start_logs` gives a `FakeLog` a test writes
lines to (stamped, in the engine's frames), kept by container with the tail and since asked for."""

from __future__ import annotations

import queue
import struct
import time
from typing import Any

from helpers.fake_engine import FakeEngineAPI


def frame(stream: int, payload: bytes) -> bytes:
    """One frame of a multiplexed log (stream 1 stdout, 2 stderr)."""
    return bytes([stream, 0, 0, 0]) + struct.pack(">I", len(payload)) + payload


class FakeLog:
    """A followed log of the fake: lines put by the test, until closed (a blocked reader then ends)."""

    def __init__(self, tail: Any, since: Any) -> None:
        self.tail = tail
        self.since = since
        self.queue: queue.Queue[bytes | None] = queue.Queue()
        self.closed = False

    def line(self, text: str) -> None:
        self.queue.put(frame(1, f"2026-11-28T13:15:48.{time.monotonic_ns() % 10**9:09d}Z {text}\n".encode()))

    def __iter__(self):
        while (item := self.queue.get()) is not None:
            yield item

    def close(self) -> None:
        self.closed = True
        self.queue.put(None)


class LoggingEngine(FakeEngineAPI):
    def __init__(self) -> None:
        super().__init__()
        self.logs_by_container: dict[str, list[FakeLog]] = {}

    def start_logs(self, container: str, *, tail: Any = "all", since: Any = None) -> FakeLog:
        log = FakeLog(tail, since)
        self.logs_by_container.setdefault(container, []).append(log)
        return log


def wait_for(condition, timeout: float = 10.0) -> None:
    """Until `condition()` holds (a failure after `timeout` seconds: the tests assert what, not how fast)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)
