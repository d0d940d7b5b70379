"""Which certificate a running service really serves: a TLS handshake on its port, straight away
(implicit TLS) or after the protocol's STARTTLS (SMTP, IMAP, POP3), for `darse certs status` to compare
with the certificate darse wrote.

The probe looks, it does not judge: verification is off, so an expired, self-signed or misnamed
certificate is still seen (and reported as what it is). It sends nothing but the protocol's own
upgrade commands (`EHLO darse` and `STARTTLS`, `a1 STARTTLS`, `STLS`) and the TLS handshake. The
server is untrusted: one deadline covers resolution, connection, dialogue and handshake, and lines,
replies and the handshake are bounded in size, so a server that stalls, talks forever or sends garbage
gives a ProbeFailed, never a hang.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
import time

from cryptography import x509 as cx509

from darse.certs.names import normalize_domain
from darse.certs.ports import TLS_PORTS
from darse.certs.x509 import CertFacts, facts
from darse.errors import DarseError

PROTOCOLS = ("tls", "smtp", "imap", "pop3")  # tls: implicit TLS, from the first byte

# Plain-text ports whose protocol upgrades with STARTTLS (ports.TLS_PORTS lists only those needing TLS).
_STARTTLS_PORTS = {25: "smtp", 587: "smtp", 143: "imap", 110: "pop3"}

_MAX_LINE = 4096  # bytes of one line of the dialogue, end of line included
_MAX_LINES = 100  # lines of one reply (an SMTP EHLO reply has a dozen)
_MAX_HANDSHAKE = 1 << 20  # bytes read during the handshake (a chain is a few KiB)
_CHUNK = 4096
_GOODBYE = 0.5  # seconds to wait for the server's goodbye once the certificate is seen


class ProbeFailed(DarseError):
    """The probe could not see a certificate: what failed and why, with a hint."""


def protocol_for_port(port: int) -> str:
    """The protocol a probe of `port` speaks: STARTTLS for the mail ports, implicit TLS otherwise."""
    if port in _STARTTLS_PORTS:
        return _STARTTLS_PORTS[port]
    known = TLS_PORTS.get(port)
    if known is not None and not known.implicit:
        word = known.protocol.split()[0].lower()
        if word in PROTOCOLS:
            return word
    return "tls"


def served_certificate(
    host: str, port: int, *, protocol: str = "tls", server_name: str | None = None, timeout: float = 5.0
) -> CertFacts:
    """The facts of the leaf certificate served on host:port, SNI = `server_name` when given.

    Verification is deliberately off: the point is to see what is served, whatever it is."""
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    where = _shown((f"[{host}]:{port}" if ":" in host else f"{host}:{port}").encode(), 120)
    if protocol not in PROTOCOLS:
        raise ProbeFailed(f"cannot probe {where}: unknown protocol {protocol!r}", f"one of {', '.join(PROTOCOLS)}")
    if not 0 < port < 65536:
        raise ProbeFailed(f"cannot probe {where}: not a TCP port", "a port is 1 to 65535")
    sni = None
    if server_name is not None:
        try:
            sni = normalize_domain(server_name, wildcard=False)  # A-labels, as SNI carries them
        except ValueError as exc:
            raise ProbeFailed(
                f"cannot probe {where}: {server_name!r} is not a server name ({exc})", "a DNS name"
            ) from None
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = _context().wrap_bio(incoming, outgoing, server_hostname=sni)
    deadline = time.monotonic() + timeout
    sock = _connect(host, port, deadline, where)
    try:
        dialogue = _Dialogue(sock, deadline, where, protocol)
        if protocol == "smtp":
            dialogue.smtp()
        elif protocol == "imap":
            dialogue.imap()
        elif protocol == "pop3":
            dialogue.pop3()
        der = dialogue.handshake(tls, incoming, outgoing)
    finally:
        sock.close()
    try:
        return facts(cx509.load_der_x509_certificate(der))
    except Exception:  # a hostile certificate fails in many ways (bad DER, duplicate extensions, ...)
        raise ProbeFailed(f"{where} serves a damaged certificate", "its service's certificate file") from None


def _context() -> ssl.SSLContext:
    """A client context that accepts any certificate (we look, we do not trust) and any TLS version the
    local OpenSSL allows, so an old server's certificate is still seen."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _left(deadline: float) -> float:
    return deadline - time.monotonic()


def _resolve(host: str, port: int, deadline: float, where: str) -> list[tuple]:
    """getaddrinfo in a thread, so that a slow resolver cannot outlast the deadline (the thread is a
    daemon and ends on its own once the resolver answers)."""
    answer: list = []

    def run() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP))
        except (OSError, UnicodeError) as exc:
            answer.append(exc)

    thread = threading.Thread(target=run, name="darse-certs-resolve", daemon=True)
    thread.start()
    thread.join(max(_left(deadline), 0))
    if not answer:
        raise ProbeFailed(f"cannot probe {where}: resolving {host} timed out", "check the host name and DNS")
    if isinstance(answer[0], BaseException) or not answer[0]:
        raise ProbeFailed(f"cannot probe {where}: unknown host {host}", "check the host name")
    return answer[0]


def _connect(host: str, port: int, deadline: float, where: str) -> socket.socket:
    """A TCP connection to the first address of `host` that accepts one (IPv4 or IPv6)."""
    failures: list[OSError] = []
    for family, kind, proto, _name, address in _resolve(host, port, deadline, where):
        left = _left(deadline)
        if left <= 0:
            break
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            failures.append(exc)
    if any(isinstance(exc, ConnectionRefusedError) for exc in failures):
        raise ProbeFailed(f"cannot probe {where}: connection refused", "is the service running, its port published?")
    if not failures or any(isinstance(exc, TimeoutError) for exc in failures):
        raise ProbeFailed(f"cannot probe {where}: no connection within the timeout", "a firewall, or the wrong host")
    reason = failures[-1].strerror or type(failures[-1]).__name__
    raise ProbeFailed(f"cannot probe {where}: {reason}", "is the service running, its port published?")


def _shown(data: bytes, limit: int = 60) -> str:
    """What a server said, safe to print: printable ASCII only, shortened."""
    text = re.sub(r"[^\x20-\x7e]", "?", data.decode("latin-1").rstrip("\r\n"))
    return text if len(text) <= limit else text[:limit] + "..."


class _Dialogue:
    """The plain-text part of a probe, line by line, within the deadline and the size bounds."""

    def __init__(self, sock: socket.socket, deadline: float, where: str, protocol: str) -> None:
        self.sock, self.deadline, self.where, self.protocol = sock, deadline, where, protocol
        self.buffer = b""

    def fail(self, why: str, hint: str = "") -> ProbeFailed:
        return ProbeFailed(f"probe of {self.where} ({self.protocol}) failed: {why}", hint)

    def _timed_out(self, doing: str) -> ProbeFailed:
        return self.fail(f"timed out {doing}, no complete answer in time", "is this the right port and protocol?")

    def _recv(self, doing: str) -> bytes:
        left = _left(self.deadline)
        if left <= 0:
            raise self._timed_out(doing)
        self.sock.settimeout(left)
        try:
            return self.sock.recv(_CHUNK)
        except ConnectionResetError:
            return b""  # closed with our data unread: a close all the same
        except TimeoutError:
            raise self._timed_out(doing) from None
        except OSError as exc:
            raise self.fail(f"connection lost {doing} ({exc.strerror or type(exc).__name__})") from None

    def send(self, command: bytes) -> None:
        left = _left(self.deadline)
        if left <= 0:
            raise self.fail("no time left to send a command")
        self.sock.settimeout(left)
        try:
            self.sock.sendall(command)
        except TimeoutError:
            raise self.fail("the server does not read what is sent") from None
        except OSError as exc:
            raise self.fail(f"connection lost while sending ({exc.strerror or type(exc).__name__})") from None

    def line(self, doing: str) -> bytes:
        """One line, without its end; ProbeFailed when longer than _MAX_LINE or the server closes."""
        while b"\n" not in self.buffer:
            if len(self.buffer) >= _MAX_LINE:
                raise self.fail(f"a line longer than {_MAX_LINE} bytes {doing}", "is this the right protocol?")
            data = self._recv(doing)
            if not data:
                raise self.fail(f"the server closed the connection {doing}")
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        if len(line) >= _MAX_LINE:
            raise self.fail(f"a line longer than {_MAX_LINE} bytes {doing}", "is this the right protocol?")
        return line.rstrip(b"\r")

    def smtp_reply(self, doing: str) -> tuple[int, list[bytes]]:
        """An SMTP reply (RFC 5321 4.2): `250-...` lines, then `250 ...`; its code and texts."""
        code, texts = None, []
        for _ in range(_MAX_LINES):
            line = self.line(doing)
            match = re.fullmatch(rb"([2-5][0-9][0-9])(?:([ -])(.*))?", line, re.DOTALL)
            if match is None or (code is not None and int(match[1]) != code):
                raise self.fail(f"not an SMTP reply {doing}: {_shown(line)!r}", "is this an SMTP port?")
            code = int(match[1])
            texts.append(match[3] or b"")
            if match[2] != b"-":
                return code, texts
        raise self.fail(f"more than {_MAX_LINES} lines in one reply {doing}", "is this an SMTP port?")

    def smtp(self) -> None:
        code, texts = self.smtp_reply("in the greeting")
        if code != 220:
            raise self.fail(f"the server refused the session: {code} {_shown(texts[0])}")
        self.send(b"EHLO darse\r\n")
        code, texts = self.smtp_reply("after EHLO")
        if code != 250:
            raise self.fail(f"the server refused EHLO: {code} {_shown(texts[0])}")
        if not any(text.split(b" ")[0].upper() == b"STARTTLS" for text in texts[1:]):
            raise self.fail("the server does not offer STARTTLS", "its mail server's TLS settings")
        self.send(b"STARTTLS\r\n")
        code, texts = self.smtp_reply("after STARTTLS")
        if code != 220:
            raise self.fail(f"the server refused STARTTLS: {code} {_shown(texts[0])}", "its mail server's TLS settings")

    def imap(self) -> None:
        greeting = self.line("in the greeting")
        if not greeting.upper().startswith(b"* OK"):
            raise self.fail(f"not an IMAP greeting: {_shown(greeting)!r}", "is this an IMAP port?")
        self.send(b"a1 STARTTLS\r\n")
        for _ in range(_MAX_LINES):
            line = self.line("after STARTTLS")
            if line.startswith(b"* "):  # untagged data (a capability list) may come first
                continue
            if line.upper().startswith(b"A1 OK"):
                return
            raise self.fail(f"the server refused STARTTLS: {_shown(line)!r}", "its IMAP server's TLS settings")
        raise self.fail(f"more than {_MAX_LINES} lines after STARTTLS", "is this an IMAP port?")

    def pop3(self) -> None:
        greeting = self.line("in the greeting")
        if not greeting.startswith(b"+OK"):
            raise self.fail(f"not a POP3 greeting: {_shown(greeting)!r}", "is this a POP3 port?")
        self.send(b"STLS\r\n")
        answer = self.line("after STLS")
        if not answer.startswith(b"+OK"):
            raise self.fail(f"the server refused STLS: {_shown(answer)!r}", "its POP3 server's TLS settings")

    def handshake(self, tls: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO) -> bytes:
        """Run the TLS handshake over the socket; the DER of the certificate the server sent.

        Plain text still buffered after the upgrade answer is dropped (RFC 3207 section 6: it cannot be
        trusted as part of the TLS session)."""
        self.buffer = b""
        received = 0
        first = b""
        while True:
            try:
                tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            except ssl.SSLError as exc:
                raise self._handshake_failure(exc, first) from None
            self._flush(outgoing)
            if done:
                break
            data = self._recv("during the TLS handshake")
            if not data:
                if not first:
                    raise self.fail("the server closed the connection at the TLS handshake", self._tls_hint())
                raise self.fail("the server closed the connection during the TLS handshake", self._tls_hint())
            first = first or data[:64]
            received += len(data)
            if received > _MAX_HANDSHAKE:
                raise self.fail(f"more than {_MAX_HANDSHAKE} bytes in the TLS handshake", self._tls_hint())
            incoming.write(data)
        der = tls.getpeercert(binary_form=True)
        self._close(tls, outgoing)
        if not der:
            raise self.fail("the server sent no certificate", "an anonymous or PSK cipher suite serves no certificate")
        return der

    def _tls_hint(self) -> str:
        if self.protocol == "tls":
            return "if this port upgrades with STARTTLS, probe with protocol smtp, imap or pop3"
        return "its server's TLS settings"

    def _handshake_failure(self, exc: ssl.SSLError, first: bytes) -> ProbeFailed:
        if first and first[0] not in (0x14, 0x15, 0x16, 0x17):  # not a TLS record: plain text, most likely
            return self.fail(f"not TLS: the server sent {_shown(first)!r}", self._tls_hint())
        reason = exc.reason or type(exc).__name__
        return self.fail(f"TLS handshake failed ({reason})", self._tls_hint())

    def _flush(self, outgoing: ssl.MemoryBIO) -> None:
        data = outgoing.read()
        if data:
            self.send(data)

    def _close(self, tls: ssl.SSLObject, outgoing: ssl.MemoryBIO) -> None:
        """Leave politely: close_notify, then read what the server still sends (its session tickets, its
        own close_notify) for a moment, so that closing sends a FIN, not a reset that servers log as an
        error (openssl s_server does). Bounded by _GOODBYE and the deadline; failures ignored,
        the certificate is already seen."""
        with contextlib.suppress(ssl.SSLError):
            tls.unwrap()
        until = min(time.monotonic() + _GOODBYE, self.deadline)
        drained = 0
        try:
            self.sock.settimeout(max(until - time.monotonic(), 0.01))
            self.sock.sendall(outgoing.read())
            self.sock.shutdown(socket.SHUT_WR)
            while drained < _MAX_HANDSHAKE and time.monotonic() < until:
                self.sock.settimeout(max(until - time.monotonic(), 0.01))
                data = self.sock.recv(_CHUNK)
                if not data:
                    break
                drained += len(data)
        except OSError:
            pass
