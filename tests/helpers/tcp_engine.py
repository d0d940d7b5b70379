"""The local engine reached over TCP, as a remote engine is: a forwarder from a loopback port to the
engine's socket (half-closes passed on), and darse's Engine connected to it through docker-py."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from darse.engine.compose import Endpoint
from darse.engine.connect import connect
from darse.engine.docker import Engine


@contextlib.contextmanager
def engine_over_tcp() -> Iterator[Engine]:
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def serve() -> None:
        while not done.is_set():
            with contextlib.suppress(OSError):
                client, _ = listener.accept()
                upstream = socket.socket(socket.AF_UNIX)
                upstream.connect("/var/run/docker.sock")
                threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
                threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    connected = connect(Endpoint(docker_host=f"tcp://127.0.0.1:{listener.getsockname()[1]}"))
    try:
        yield connected
    finally:
        connected.close()
        done.set()
        listener.close()
