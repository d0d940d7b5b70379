"""Tunnels held in a thread of the test, as `darse tunnel NAME...` holds them in the foreground."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from helpers.tcp import ping


@contextlib.contextmanager
def tunnels_held(root: Path, names: list[str]) -> Iterator[tuple[list, list[str]]]:
    """`run_tunnels` from `root` in a thread; yields (the plans, once ready; the log lines so far), and
    stops it at the end (the test fails if it does not end)."""
    from darse.tunnel.run import run_tunnels

    stop, ready, lines, plans = threading.Event(), threading.Event(), [], []

    def ready_now(found: list) -> None:
        plans.extend(found)
        ready.set()

    holder = threading.Thread(
        target=run_tunnels, args=(root, names, stop), kwargs={"log": lines.append, "ready": ready_now}
    )
    holder.start()
    try:
        assert ready.wait(60), lines
        yield plans, lines
    finally:
        stop.set()
        holder.join(30)
    assert not holder.is_alive()


def ping_until_pong(host: str, port: int, patience: float) -> bytes:
    """Connect through a tunnel until it answers again (after a drop or a move, the first ones fail)."""
    deadline = time.monotonic() + patience
    answer = b""
    while time.monotonic() < deadline and answer != b"+PONG\n":
        try:
            answer = ping(host, port)
        except OSError:
            answer = b""
        if answer != b"+PONG\n":
            time.sleep(0.3)
    return answer
