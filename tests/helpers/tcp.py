"""Small TCP servers on the loopback, the far ends of tunnels in tests."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator

REDIS_LIKE = "darse-test/redis:tunnel"  # recognised as Redis by its name: the hint is redis-cli's
# A persistent server (`-ll`): every connection gets +PONG for each line it sends.
SERVE = ["nc", "-ll", "-p", "6379", "-e", "sh", "-c", "while read l; do echo +PONG; done"]
# A Compose file whose `db` is that server in a Redis-looking image, publishing no port
REDIS_LIKE_COMPOSE = f"""
services:
  db:
    image: {REDIS_LIKE}
    command: {json.dumps(SERVE)}
    expose: ["6379"]
"""


@contextlib.contextmanager
def server(handle) -> Iterator[int]:
    """A TCP server on 127.0.0.1 running `handle(conn)` for each connection; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_run, args=(handle, conn), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        listener.close()


def _run(handle, conn: socket.socket) -> None:
    with conn:
        handle(conn)


def echo(conn: socket.socket) -> None:
    """Send back every byte until the client ends."""
    while chunk := conn.recv(65536):
        conn.sendall(chunk)


def ping(host: str, port: int) -> bytes:
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.sendall(b"PING\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = conn.recv(100)
            if not chunk:
                break
            reply += chunk
        return reply
