"""The local engine's tunnel: darse listens on the local port and relays each connection to the
container's `IP:port` (bridge networks are reachable from the engine's host), with no SSH at all.

Threads, one per direction of each connection: a tunnel carries a handful of database sessions, and
blocking sockets keep the relay plain. Each direction holds at most one buffer of `CHUNK` bytes; when
one side ends its writing (EOF) the other side's writing is shut down (a half-close, as `ssh -L` does),
and the connection is closed once both directions ended. A connection that fails is logged as one line.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

CHUNK = 64 * 1024  # bytes in flight per direction of a connection
CONNECT_TIMEOUT = 5.0  # s to reach the container: a stopped container's address drops packets
MAX_CONNECTIONS = 64  # at once per tunnel; more wait in the listen backlog


class Forwarder:
    """Listen on `local` and relay every connection to `remote()` (asked anew for each connection, so
    that a container restarted at another address is found again)."""

    def __init__(
        self,
        local: tuple[str, int],
        remote: Callable[[], tuple[str, int]],
        log: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.remote = remote
        self.log = log
        family = socket.AF_INET6 if ":" in local[0] else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(local)  # OSError (EADDRINUSE) for the caller to word
        self._listener.listen(16)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self.failures = 0  # connections the container did not accept (it moved, or stopped)
        self._closed = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name=f"forward-{self.address[1]}", daemon=True)

    def start(self) -> Forwarder:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening and end every relayed connection."""
        with self._lock:
            self._closed.set()
            sockets = list(self._open)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def __enter__(self) -> Forwarder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _peer = self._listener.accept()
            except OSError:
                if self._closed.is_set():
                    return
                continue
            self._slots.acquire()
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            where = "its address"
            try:
                host, port = self.remote()
                where = f"{host}:{port}"
                upstream = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
            except (OSError, ValueError) as exc:
                self.failures += 1
                self.log(f"cannot reach the container at {where}: {_reason(exc)}")
                client.close()  # at once: the client (and darse's readiness check) sees the tunnel fail
                return
            upstream.settimeout(None)
            with self._lock:
                if self._closed.is_set():  # closed while this connection was being made
                    upstream.close()
                    client.close()
                    return
                self._open.update((client, upstream))
            other = threading.Thread(target=_pump, args=(upstream, client, self.log), daemon=True)
            other.start()
            _pump(client, upstream, self.log)
            other.join()
            with self._lock:
                self._open.difference_update((client, upstream))
            upstream.close()
            client.close()
        finally:
            self._slots.release()


def _pump(source: socket.socket, sink: socket.socket, log: Callable[[str], None]) -> None:
    """Copy `source` to `sink` until EOF, then half-close `sink` (its peer reads EOF, may still answer)."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    try:
        while True:
            size = source.recv_into(buffer)
            if not size:
                break
            sink.sendall(view[:size])
    except OSError as exc:
        if exc.errno not in (None, 9, 104, 107, 32):  # closed by us, reset, not connected, broken pipe: ordinary ends
            log(f"connection ended: {_reason(exc)}")
        for sock in (source, sink):  # the other direction ends too: nobody is left to answer
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__
