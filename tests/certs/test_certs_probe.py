"""The certificate a running service really serves, seen by a real TLS handshake against real servers
on loopback ports (implicit TLS, SMTP, IMAP and POP3 with STARTTLS, openssl s_server), the probe
choosing by SNI, and servers that refuse, stall, talk forever or speak no TLS: each a ProbeFailed that
says why, never a hang or a traceback."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from darse.certs.probe import PROTOCOLS, ProbeFailed, protocol_for_port, served_certificate
from darse.errors import DarseError

from helpers.certs import NOW, Issued, TestCA

SHORT = 0.5  # seconds: the timeout of probes meant to time out
TIMED_OUT = r"timed out (in the greeting|during the TLS handshake), no complete answer in time"


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


@pytest.fixture(scope="module")
def mail(ca: TestCA) -> Issued:
    return ca.issue("mail.example.org", "imap.example.org")


@pytest.fixture(scope="module")
def ldap(ca: TestCA) -> Issued:
    return ca.issue("ldap.example.org")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Issued], tuple[Path, Path]]:
    """The chain and key files of an issued certificate, as a server loads them."""
    folder = tmp_path_factory.mktemp("served")

    def write(issued: Issued) -> tuple[Path, Path]:
        chain, key = folder / f"{issued.fingerprint}.pem", folder / f"{issued.fingerprint}.key"
        chain.write_bytes(issued.chain_pem)
        key.write_bytes(issued.key_pem)
        return chain, key

    return write


class Server:
    """A real TCP server on a loopback port, in a thread; `handle(conn, server)` serves each connection
    in turn. What the client sent is kept in `received`, the SNI names the TLS side saw in `sni`."""

    def __init__(self, handle: Callable[[socket.socket, Server], None], host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.create_server((host, 0), family=family)
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.handle = handle
        self.stop = threading.Event()
        self.received: list[bytes] = []
        self.sni: list[str | None] = []
        self.thread = threading.Thread(target=self._run, name=f"test-server-{self.port}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError, ssl.SSLError):  # the probe hangs up when it has seen enough
                    self.handle(conn, self)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.listener.close()
        assert not self.thread.is_alive()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start servers; every one is stopped and its thread joined at the end of the test."""
    servers: list[Server] = []

    def start(handle: Callable[[socket.socket, Server], None], host: str = "127.0.0.1") -> Server:
        servers.append(Server(handle, host))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def tls_context(files, default: Issued, by_name: dict[str, Issued] | None = None) -> Callable:
    """A server TLS context serving `default`, or `by_name[sni]` when the client named one; it records
    the SNI it saw on the server that uses it."""
    contexts = {}
    for issued in [default, *(by_name or {}).values()]:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*files(issued))
        contexts[issued.fingerprint] = context
    main = contexts[default.fingerprint]

    def for_server(server: Server) -> ssl.SSLContext:
        def choose(sslobj: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
            server.sni.append(name)
            if name in (by_name or {}):
                sslobj.context = contexts[by_name[name].fingerprint]

        main.sni_callback = choose
        return main

    return for_server


def serve_tls(conn: socket.socket, server: Server, context: Callable) -> None:
    """The TLS side: a handshake, then wait for the client to leave."""
    with context(server).wrap_socket(conn, server_side=True) as tls:
        tls.recv(1)


def readline(conn: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        byte = conn.recv(1)
        if not byte:
            raise ConnectionError("client left")
        line += byte
    return line


def rest(conn: socket.socket, server: Server) -> None:
    """Whatever the client still sends before leaving (it should be nothing)."""
    while data := conn.recv(1024):
        server.received.append(data)


def implicit(context: Callable) -> Callable:
    return lambda conn, server: serve_tls(conn, server, context)


def smtp(context: Callable, starttls_reply: bytes = b"220 2.0.0 Ready to start TLS", offer: bool = True):
    def handle(conn: socket.socket, server: Server) -> None:
        conn.sendall(b"220-mail.example.org ESMTP\r\n220 darse test\r\n")
        server.received.append(readline(conn))
        extensions = b"250-STARTTLS\r\n" if offer else b""
        conn.sendall(b"250-mail.example.org\r\n250-PIPELINING\r\n" + extensions + b"250 8BITMIME\r\n")
        if not offer:
            return rest(conn, server)
        server.received.append(readline(conn))
        conn.sendall(starttls_reply + b"\r\n")
        if starttls_reply.startswith(b"220"):
            return serve_tls(conn, server, context)
        return rest(conn, server)

    return handle


def imap(context: Callable) -> Callable:
    def handle(conn: socket.socket, server: Server) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.\r\n")
        server.received.append(readline(conn))
        conn.sendall(b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK Begin TLS negotiation now.\r\n")
        serve_tls(conn, server, context)

    return handle


def pop3(context: Callable) -> Callable:
    def handle(conn: socket.socket, server: Server) -> None:
        conn.sendall(b"+OK Dovecot ready.\r\n")
        server.received.append(readline(conn))
        conn.sendall(b"+OK Begin TLS negotiation now.\r\n")
        serve_tls(conn, server, context)

    return handle


def test_implicit_tls_shows_the_served_leaf(serve, files, mail: Issued) -> None:
    server = serve(implicit(tls_context(files, mail)))
    seen = served_certificate("127.0.0.1", server.port)
    assert seen.fingerprint == mail.fingerprint
    assert seen.sans == ("mail.example.org", "imap.example.org") and seen.issuer == "CN=darse test R3"
    assert server.sni == [None]  # no server_name given, no SNI sent


def test_the_certificate_chosen_by_sni_is_the_one_shown(serve, files, mail: Issued, ldap: Issued) -> None:
    server = serve(implicit(tls_context(files, mail, {"ldap.example.org": ldap})))
    assert served_certificate("127.0.0.1", server.port, server_name="ldap.example.org").fingerprint == ldap.fingerprint
    assert served_certificate("127.0.0.1", server.port, server_name="mail.example.org").fingerprint == mail.fingerprint
    assert served_certificate("127.0.0.1", server.port).fingerprint == mail.fingerprint
    assert server.sni == ["ldap.example.org", "mail.example.org", None]


def test_an_expired_certificate_is_seen_not_judged(serve, files, ca: TestCA) -> None:
    old = ca.issue("old.example.org", not_before=NOW - dt.timedelta(days=200), not_after=NOW - dt.timedelta(days=3))
    server = serve(implicit(tls_context(files, old)))
    seen = served_certificate("127.0.0.1", server.port, server_name="other.example.org")
    assert seen.fingerprint == old.fingerprint and not seen.valid_at() and seen.days_left() < 0


@pytest.mark.parametrize(
    ("protocol", "handler", "sent"),
    [
        ("smtp", smtp, [b"EHLO darse\r\n", b"STARTTLS\r\n"]),
        ("imap", imap, [b"a1 STARTTLS\r\n"]),
        ("pop3", pop3, [b"STLS\r\n"]),
    ],
)
def test_starttls_upgrades_then_shows_the_leaf(serve, files, mail, ldap, protocol, handler, sent) -> None:
    server = serve(handler(tls_context(files, mail, {"ldap.example.org": ldap})))
    assert served_certificate("127.0.0.1", server.port, protocol=protocol).fingerprint == mail.fingerprint
    seen = served_certificate("127.0.0.1", server.port, protocol=protocol, server_name="ldap.example.org")
    assert seen.fingerprint == ldap.fingerprint
    assert server.sni == [None, "ldap.example.org"]
    assert server.received == sent + sent  # its commands and nothing else, twice


def test_ipv6_literal_hosts(serve, files, mail: Issued) -> None:
    server = serve(implicit(tls_context(files, mail)), host="::1")
    assert served_certificate("::1", server.port).fingerprint == mail.fingerprint
    assert served_certificate("[::1]", server.port).fingerprint == mail.fingerprint


def talks_first(conn: socket.socket, server: Server) -> None:
    conn.sendall(b"220 mail.example.org ESMTP Postfix\r\n")
    rest(conn, server)


def answers_in_plain_text(conn: socket.socket, server: Server) -> None:
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n\x00\x01")


@pytest.mark.parametrize(
    ("handler", "said"), [(talks_first, "220 mail.example.org ESMTP"), (answers_in_plain_text, "HTTP/1.1 400")]
)
def test_a_plain_text_server_is_not_tls(serve, handler, said) -> None:
    server = serve(handler)
    with pytest.raises(ProbeFailed, match=rf"not TLS: the server sent '{re.escape(said)}") as caught:
        served_certificate("127.0.0.1", server.port)
    assert "STARTTLS" in caught.value.hint


def test_smtp_refusing_starttls_is_named(serve, files, mail: Issued) -> None:
    server = serve(smtp(tls_context(files, mail), b"454 4.7.0 TLS not available due to temporary reason"))
    with pytest.raises(ProbeFailed, match=r"refused STARTTLS: 454 4\.7\.0 TLS not available"):
        served_certificate("127.0.0.1", server.port, protocol="smtp")
    assert server.received == [b"EHLO darse\r\n", b"STARTTLS\r\n"]  # no QUIT, nothing more


def test_smtp_without_starttls_is_not_asked_for_it(serve, files, mail: Issued) -> None:
    server = serve(smtp(tls_context(files, mail), offer=False))
    with pytest.raises(ProbeFailed, match="does not offer STARTTLS"):
        served_certificate("127.0.0.1", server.port, protocol="smtp")
    assert server.received == [b"EHLO darse\r\n"]


def refuses(greeting: bytes, answer: bytes) -> Callable:
    def handle(conn: socket.socket, server: Server) -> None:
        conn.sendall(greeting)
        server.received.append(readline(conn))
        conn.sendall(answer)
        rest(conn, server)

    return handle


@pytest.mark.parametrize(
    ("protocol", "handler", "why"),
    [
        (
            "imap",
            refuses(b"* OK ready\r\n", b"a1 BAD Unknown command\r\n"),
            "refused STARTTLS: 'a1 BAD Unknown command'",
        ),
        ("pop3", refuses(b"+OK ready\r\n", b"-ERR TLS support is not enabled.\r\n"), "refused STLS: '-ERR TLS support"),
    ],
)
def test_imap_and_pop3_refusing_the_upgrade_are_named(serve, protocol, handler, why) -> None:
    server = serve(handler)
    with pytest.raises(ProbeFailed, match=re.escape(why)):
        served_certificate("127.0.0.1", server.port, protocol=protocol)
    assert len(server.received) == 1  # the upgrade command, then nothing


def silent(conn: socket.socket, server: Server) -> None:
    server.stop.wait()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_server_that_never_answers_times_out(serve, protocol: str) -> None:
    server = serve(silent)
    with pytest.raises(ProbeFailed, match=TIMED_OUT):
        served_certificate("127.0.0.1", server.port, protocol=protocol, timeout=SHORT)


def trickles(conn: socket.socket, server: Server) -> None:
    """A byte now and then, each well within the timeout: only a deadline for the whole probe ends it."""
    for byte in itertools.cycle(b"\x16\x03\x03\x00"):
        if server.stop.wait(0.05):
            return
        conn.sendall(bytes([byte]))


@pytest.mark.parametrize("protocol", ["tls", "smtp"])
def test_a_server_that_trickles_hits_the_deadline(serve, protocol: str) -> None:
    server = serve(trickles)
    with pytest.raises(ProbeFailed, match=TIMED_OUT):
        served_certificate("127.0.0.1", server.port, protocol=protocol, timeout=SHORT)


def endless_line(conn: socket.socket, server: Server) -> None:
    while not server.stop.is_set():
        conn.sendall(b"220 " + b"A" * 4096)


def endless_reply(conn: socket.socket, server: Server) -> None:
    while not server.stop.is_set():
        conn.sendall(b"220-still talking\r\n" * 64)


def garbage(conn: socket.socket, server: Server) -> None:
    conn.sendall(bytes(range(256)) + b"\n")
    rest(conn, server)


@pytest.mark.parametrize(
    ("protocol", "handler", "why"),
    [
        ("smtp", endless_line, "a line longer than 4096 bytes in the greeting"),
        ("imap", endless_line, "a line longer than 4096 bytes in the greeting"),
        ("smtp", endless_reply, "more than 100 lines in one reply in the greeting"),
        ("smtp", garbage, "not an SMTP reply in the greeting"),
        ("imap", garbage, "not an IMAP greeting"),
        ("pop3", garbage, "not a POP3 greeting"),
    ],
)
def test_a_server_that_talks_forever_or_garbage_fails_cleanly(serve, protocol, handler, why) -> None:
    server = serve(handler)
    with pytest.raises(ProbeFailed, match=re.escape(why)) as caught:
        served_certificate("127.0.0.1", server.port, protocol=protocol)
    assert caught.value.one_line().isprintable()  # what the server sent is shown escaped and short
    assert len(caught.value.message) < 300
    assert server.received == []  # nothing sent to a server that did not greet properly


def hangs_up(conn: socket.socket, server: Server) -> None:
    pass


def test_a_server_that_hangs_up_at_the_handshake(serve) -> None:
    server = serve(hangs_up)
    with pytest.raises(ProbeFailed, match="closed the connection at the TLS handshake"):
        served_certificate("127.0.0.1", server.port)


def test_connection_refused() -> None:
    with socket.socket() as bound:  # bound, never listening: the kernel refuses connections
        bound.bind(("127.0.0.1", 0))
        with pytest.raises(ProbeFailed, match=r"cannot probe 127\.0\.0\.1:\d+: connection refused") as caught:
            served_certificate("127.0.0.1", bound.getsockname()[1])
    assert isinstance(caught.value, DarseError) and caught.value.hint


def test_bad_requests_are_refused_before_connecting() -> None:
    with pytest.raises(ProbeFailed, match="unknown protocol 'ldap'"):
        served_certificate("127.0.0.1", 636, protocol="ldap")
    with pytest.raises(ProbeFailed, match="not a TCP port"):
        served_certificate("127.0.0.1", 70000)
    with pytest.raises(ProbeFailed, match="is not a server name"):
        served_certificate("127.0.0.1", 636, server_name="bad\x00name")
    with pytest.raises(ProbeFailed, match=r"unknown host|resolving"):
        served_certificate("no-such-host.invalid", 636, timeout=2)


def test_protocol_for_port() -> None:
    assert [protocol_for_port(p) for p in (25, 587, 143, 110)] == ["smtp", "smtp", "imap", "pop3"]
    assert [protocol_for_port(p) for p in (465, 636, 993, 995, 8883, 8443)] == ["tls"] * 6


def test_against_openssl_s_server(files, mail: Issued, ldap: Issued, tmp_path: Path) -> None:
    """The real OpenSSL server, choosing its certificate by SNI (-servername, -cert2)."""
    (mail_chain, mail_key), (ldap_chain, ldap_key) = files(mail), files(ldap)
    command = ["openssl", "s_server", "-accept", "127.0.0.1:0", "-naccept", "3",
               "-cert", mail_chain, "-key", mail_key, "-servername", "ldap.example.org",
               "-cert2", ldap_chain, "-key2", ldap_key]  # fmt: skip
    log = tmp_path / "s_server.log"
    # stdin: a pipe left open, as s_server (unless -quiet, which hides the port) stops at its end
    with log.open("wb") as out, subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out) as openssl:
        try:
            port = accepting_port(log, openssl)
            by_name = served_certificate("127.0.0.1", port, server_name="ldap.example.org")
            default = served_certificate("127.0.0.1", port, server_name="mail.example.org")
            unnamed = served_certificate("127.0.0.1", port)
        finally:
            openssl.kill()
    assert by_name.fingerprint == ldap.fingerprint
    assert default.fingerprint == unnamed.fingerprint == mail.fingerprint


def accepting_port(log: Path, process: subprocess.Popen) -> int:
    """The port s_server listens on, from its `ACCEPT 127.0.0.1:PORT` line (waited for, 10 s at most)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(r"^ACCEPT 127\.0\.0\.1:(\d+)$", log.read_text(errors="replace"), re.MULTILINE)
        if found:
            return int(found[1])
        time.sleep(0.02)
    raise AssertionError(f"openssl s_server did not start: {log.read_text(errors='replace')[-500:]}")
