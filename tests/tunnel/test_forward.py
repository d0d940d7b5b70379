"""darse's own relay, with real sockets on the loopback: bytes both ways, half-closes, a far end that
refuses, many bytes through a bounded buffer; and the readiness check built on it."""

from __future__ import annotations

import hashlib
import os
import socket
import threading

from darse.tunnel.forward import Forwarder
from darse.tunnel.run import carries_traffic

from helpers.tcp import server


def digest_until_eof(conn: socket.socket) -> None:
    """Read everything, then answer the SHA-256 of it: needs the half-close to reach it."""
    total = hashlib.sha256()
    while chunk := conn.recv(65536):
        total.update(chunk)
    conn.sendall(total.hexdigest().encode())


def greeter(conn: socket.socket) -> None:
    conn.sendall(b"+hello\r\n")
    conn.recv(100)


def receive_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_bytes_go_both_ways_and_the_half_close_reaches_the_far_end() -> None:
    payload = os.urandom(5 * 1024 * 1024)  # many times the relay's buffer
    with (
        server(digest_until_eof) as port,
        Forwarder(("127.0.0.1", 0), lambda: ("127.0.0.1", port)) as relay,
        socket.create_connection(relay.address, timeout=30) as client,
    ):
        sender = threading.Thread(target=lambda: (client.sendall(payload), client.shutdown(socket.SHUT_WR)))
        sender.start()
        answer = receive_all(client)
        sender.join()
    assert answer == hashlib.sha256(payload).hexdigest().encode()


def test_several_connections_at_once() -> None:
    def echo(conn: socket.socket) -> None:
        while chunk := conn.recv(65536):
            conn.sendall(chunk)

    with server(echo) as port, Forwarder(("127.0.0.1", 0), lambda: ("127.0.0.1", port)) as relay:
        clients = [socket.create_connection(relay.address, timeout=30) for _ in range(8)]
        for number, client in enumerate(clients):
            client.sendall(f"client {number}".encode())
        answers = [client.recv(100) for client in clients]
        for client in clients:
            client.close()
    assert answers == [f"client {n}".encode() for n in range(8)]


def test_a_refused_far_end_closes_the_connection_at_once_and_is_logged() -> None:
    lines: list[str] = []
    dead = free_port()
    with Forwarder(("127.0.0.1", 0), lambda: ("127.0.0.1", dead), lines.append) as relay:
        with socket.create_connection(relay.address, timeout=30) as client:
            assert client.recv(1) == b""
        assert not carries_traffic(*relay.address)
    assert any(f"cannot reach the container at 127.0.0.1:{dead}" in line for line in lines)
    assert all("\n" not in line for line in lines)


def test_carries_traffic_for_silent_and_speaking_servers() -> None:
    with (
        server(lambda conn: conn.recv(100)) as silent,
        Forwarder(("127.0.0.1", 0), lambda: ("127.0.0.1", silent)) as relay,
    ):
        assert carries_traffic(*relay.address)  # PostgreSQL waits for its client: still open counts
    with server(greeter) as speaking, Forwarder(("127.0.0.1", 0), lambda: ("127.0.0.1", speaking)) as relay:
        assert carries_traffic(*relay.address)
    assert not carries_traffic("127.0.0.1", free_port())  # nothing listens


def test_closing_ends_the_listener_and_open_connections() -> None:
    with server(receive_all) as port:  # holds its end open until the relay lets go
        relay = Forwarder(("127.0.0.1", 0), lambda: ("127.0.0.1", port)).start()
        client = socket.create_connection(relay.address, timeout=30)
        client.sendall(b"x")
        relay.close()
        try:
            ended = client.recv(1) == b""
        except ConnectionResetError:
            ended = True
        client.close()
        assert ended
        assert not carries_traffic(*relay.address)
