"""What a consumer asks for, declared by `darse.certs.*` labels in its Compose file (docs/certs.md).

    darse.certs.domains: "ldap.example.org,ldap2.example.org"   # required: marks the consumer
    darse.certs.dir: "/etc/ldap/tls"                            # required: inside a volume or bind mount
    darse.certs.files: "cert=cert.pem,key=key.pem,fullchain=fullchain.pem"
    darse.certs.owner: "389:389"                                # numeric uid:gid, default 0:0
    darse.certs.mode: "0600"                                    # the key's mode; other files 0644
    darse.certs.reload: "restart" | "signal:HUP" | "exec:/usr/sbin/slapd-reload --soft"
    darse.certs.resolver: "le"                                  # else darse.toml [certs] resolver

Each label is parsed into frozen values; every mistake is a LabelProblem naming the label, its value
and why, at the label's position, so lint reports it where it is written and sync refuses it.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from darse.certs.names import normalize_domain
from darse.errors import DarseError, did_you_mean
from darse.model.compose import ComposeFile, Mount, labels, mounts
from darse.model.repository import Repository
from darse.model.yamlnode import YNode

PREFIX = "darse.certs."
DOMAINS, DIR, FILES, OWNER, MODE, RELOAD, RESOLVER = (
    f"{PREFIX}{key}" for key in ("domains", "dir", "files", "owner", "mode", "reload", "resolver")
)
KNOWN = (DOMAINS, DIR, FILES, OWNER, MODE, RELOAD, RESOLVER)
KINDS = ("cert", "key", "chain", "fullchain", "combined")  # combined: full chain then key, one file (HAProxy, lighttpd)
DEFAULT_FILES = "cert=cert.pem,key=key.pem,fullchain=fullchain.pem"
DEFAULT_KEY_MODE = 0o600
FILE_MODE = 0o644  # certificates are public
SIGNALS = ("HUP", "INT", "QUIT", "USR1", "USR2", "TERM", "WINCH", "ALRM")
MAX_ID = 2**31 - 1
_RESOLVER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
Report = Callable[[str, str], None]  # (label, why): records a LabelProblem
RESERVED = ".darse-certs"  # the staging folder beside the files, and its records (darse.engine.certs)
_MOUNTED = ("volume", "bind")  # where files written from outside reach the container and stay


@dataclass(frozen=True)
class LabelProblem:
    """One wrong label: which, its value (labels are never secret), why, and where it is written."""

    label: str
    value: str
    why: str
    line: int
    column: int

    @property
    def message(self) -> str:
        shown = self.value if len(self.value) <= 80 else self.value[:77] + "..."
        return f"{self.label}: {shown!r} {self.why}" if self.value else f"{self.label} {self.why}"


@dataclass(frozen=True)
class CertFile:
    kind: str  # one of KINDS
    name: str  # file name inside the consumer's dir

    @property
    def is_secret(self) -> bool:
        return self.kind in ("key", "combined")


@dataclass(frozen=True)
class Reload:
    """How a consumer picks up a new certificate: `restart` the container, send it a `signal`, or
    `exec` a command inside it."""

    kind: str  # "restart", "signal" or "exec"
    signal: str = ""  # SIGHUP, ...
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class Consumer:
    """A Compose service that receives certificates, as its labels declare it."""

    service: str  # the Compose service name
    domains: tuple[str, ...]  # normalized (lowercase A-labels), wildcards allowed
    dir: str  # absolute path inside the container
    files: tuple[CertFile, ...]
    uid: int = 0
    gid: int = 0
    key_mode: int = DEFAULT_KEY_MODE
    reload: Reload = Reload("restart")
    resolver: str = ""  # "" = darse.toml [certs] resolver, else every resolver
    mount: Mount | None = None  # the volume or bind mount holding `dir`; None if none does

    @property
    def subpath(self) -> str:
        """`dir` relative to the mount's target ("" when it is the target itself)."""
        if self.mount is None:
            return ""
        rel = posixpath.relpath(self.dir, posixpath.normpath(self.mount.target))
        return "" if rel == "." else rel

    def mode_of(self, file: CertFile) -> int:
        return self.key_mode if file.is_secret else FILE_MODE


def has_certs_labels(node: YNode) -> bool:
    return any(key.startswith(PREFIX) for key in labels(node))


def consumers(compose: ComposeFile) -> tuple[list[Consumer], list[LabelProblem]]:
    """Every consumer of a Compose file, and every problem of their labels (services with problems are
    left out of the consumers: a half-understood consumer is never written to)."""
    found: list[Consumer] = []
    problems: list[LabelProblem] = []
    for name, node in compose.services():
        consumer, wrong = parse_consumer(name, node)
        problems += wrong
        if consumer is not None and not wrong:
            found.append(consumer)
    return found, problems


def parse_consumer(name: str, node: YNode) -> tuple[Consumer | None, list[LabelProblem]]:
    """The consumer a service's labels declare (None without darse.certs labels), and its problems."""
    found = {key: value for key, value in labels(node).items() if key.startswith(PREFIX)}
    if not found:
        return None, []
    problems: list[LabelProblem] = []

    def problem(label: str, why: str) -> None:
        value, where = found.get(label, ("", None))
        anchor = where or next(iter(found.values()))[1]
        problems.append(LabelProblem(label, value, why, anchor.line, anchor.column))

    for key in found:
        if key not in KNOWN:
            hint = did_you_mean(key, KNOWN)
            problem(key, f"is not a darse.certs label ({hint or 'known: ' + ', '.join(KNOWN)})")
    if DOMAINS not in found:
        problem(DOMAINS, "is missing: it names the domains whose certificate the service receives")
    if DIR not in found:
        problem(DIR, "is missing: it names the folder, inside a volume or bind mount, that receives the files")
    domains = _domains(found, problem)
    directory = _dir(found, problem)
    files = _files(found, problem)
    uid, gid = _owner(found, problem)
    mode = _mode(found, problem)
    reload = _reload(found, problem)
    resolver = found.get(RESOLVER, ("", None))[0].strip()
    if RESOLVER in found and not _RESOLVER.fullmatch(resolver):
        problem(RESOLVER, "is not a certificate resolver name (letters, digits, '_', '-', '.')")
    if problems or not domains or directory is None:
        return None, problems
    return Consumer(
        name, domains, directory, files, uid, gid, mode, reload, resolver, mount_holding(node, directory)
    ), problems


def mount_holding(node: YNode, directory: str) -> Mount | None:
    """The service's named volume or bind mount whose target holds `directory` (the deepest wins)."""
    best: Mount | None = None
    for mount in mounts(node):
        if mount.kind not in _MOUNTED or not mount.target.startswith("/"):
            continue
        target = posixpath.normpath(mount.target)
        inside = directory == target or directory.startswith(target.rstrip("/") + "/")
        if inside and (best is None or len(target) > len(posixpath.normpath(best.target))):
            best = mount
    return best


def _domains(found: dict[str, tuple[str, YNode]], problem: Report) -> tuple[str, ...]:
    text = found.get(DOMAINS, ("", None))[0]
    if DOMAINS in found and not text.strip():
        problem(DOMAINS, "is empty: name at least one domain")
        return ()
    out: list[str] = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        try:
            domain = normalize_domain(raw)
        except ValueError as exc:
            problem(DOMAINS, f"holds {raw[:60]!r}, which is not a domain: {exc}")
            continue
        if domain not in out:
            out.append(domain)
    return tuple(out)


def _dir(found: dict[str, tuple[str, YNode]], problem: Report) -> str | None:
    if DIR not in found:
        return None
    text = found[DIR][0].strip()
    if not text.startswith("/"):
        problem(DIR, "is not an absolute path inside the container")
        return None
    if any(ord(c) < 32 for c in text) or ".." in text.split("/"):
        problem(DIR, "must be a plain absolute path, without '..' or control characters")
        return None
    normal = posixpath.normpath(text)
    if normal == "/":
        problem(DIR, "is the container's root: name a folder inside one of its volumes")
        return None
    return normal


def _files(found: dict[str, tuple[str, YNode]], problem: Report) -> tuple[CertFile, ...]:
    text = found.get(FILES, (DEFAULT_FILES, None))[0]
    out: list[CertFile] = []
    wrong = False
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        kind, sep, name = (s.strip() for s in part.partition("="))
        if not sep or kind not in KINDS:
            problem(FILES, f"holds {part[:60]!r}: write KIND=NAME, KIND one of {', '.join(KINDS)}")
            wrong = True
            continue
        if not name or "/" in name or name in (".", "..") or any(ord(c) < 32 for c in name) or "\\" in name:
            problem(FILES, f"gives {kind} the name {name[:60]!r}, which is not a plain file name")
            wrong = True
            continue
        if name.startswith(RESERVED):
            problem(FILES, f"gives {kind} the name {name[:60]!r}: names starting with {RESERVED} are darse's own")
            wrong = True
            continue
        if any(f.kind == kind for f in out):
            problem(FILES, f"names {kind} twice")
            wrong = True
            continue
        if any(f.name == name for f in out):
            problem(FILES, f"gives two files the name {name}")
            wrong = True
            continue
        out.append(CertFile(kind, name))
    kinds = {f.kind for f in out}
    if wrong:
        return tuple(out)  # what is missing follows from the mistake already reported
    if out and not kinds & {"key", "combined"}:
        problem(FILES, "has no key file (key= or combined=): the service could not use the certificate")
    if out and not kinds & {"cert", "fullchain", "combined"}:
        problem(FILES, "has no certificate file (cert=, fullchain= or combined=)")
    if not out and FILES in found:
        problem(FILES, "names no file")
    return tuple(out)


def _owner(found: dict[str, tuple[str, YNode]], problem: Report) -> tuple[int, int]:
    if OWNER not in found:
        return 0, 0
    uid, sep, gid = found[OWNER][0].strip().partition(":")
    if not sep or not uid.isdigit() or not gid.isdigit() or not uid.isascii() or not gid.isascii():
        problem(OWNER, "is not a numeric uid:gid (names differ between images: write 389:389)")
        return 0, 0
    # compared as text first: Python converts no string of more than 4300 digits
    numbers = [number.lstrip("0") or "0" for number in (uid, gid)]
    if any(len(number) > len(str(MAX_ID)) or int(number) > MAX_ID for number in numbers):
        problem(OWNER, f"is out of range (at most {MAX_ID})")
        return 0, 0
    return int(numbers[0]), int(numbers[1])


def _mode(found: dict[str, tuple[str, YNode]], problem: Report) -> int:
    if MODE not in found:
        return DEFAULT_KEY_MODE
    text = found[MODE][0].strip()
    if not re.fullmatch(r"0?[0-7]{3}", text):
        problem(MODE, "is not an octal file mode such as 0600 or 0640")
        return DEFAULT_KEY_MODE
    mode = int(text, 8)
    if mode & 0o007:
        problem(MODE, "lets every user of the container read or change the private key: keep the last digit 0")
    elif not mode & 0o440:
        problem(MODE, "lets neither the owner nor the group read the key")
    return mode


def _reload(found: dict[str, tuple[str, YNode]], problem: Report) -> Reload:
    if RELOAD not in found:
        return Reload("restart")
    text = found[RELOAD][0].strip()
    kind, _, rest = text.partition(":")
    if text == "restart":
        return Reload("restart")
    if kind == "signal":
        name = rest.strip().upper().removeprefix("SIG")
        if name not in SIGNALS:
            problem(RELOAD, f"names no signal darse sends (signal:NAME, NAME one of {', '.join(SIGNALS)})")
            return Reload("restart")
        return Reload("signal", signal=f"SIG{name}")
    if kind == "exec":
        if any(ord(c) < 32 for c in rest):
            problem(RELOAD, "holds a control character")
            return Reload("restart")
        try:
            command = tuple(shlex.split(rest))
        except ValueError:
            problem(RELOAD, "is not a command line darse can split (an unclosed quote?)")
            return Reload("restart")
        if not command:
            problem(RELOAD, "has no command after exec:")
            return Reload("restart")
        return Reload("exec", command=command)
    problem(RELOAD, "is none of restart, signal:NAME (signal:HUP), exec:COMMAND")
    return Reload("restart")


@dataclass(frozen=True)
class FolderConsumer:
    """A consumer and where it is declared: its service folder (darse's service name) and Compose file."""

    folder: str
    compose_path: Path
    consumer: Consumer


def repository_consumers(repository: Repository) -> list[FolderConsumer]:
    """Every consumer of the repository's service folders (each folder's deployed configuration, its
    overrides merged), in folder order. A wrong label is a DarseError naming `file:line:column`: a
    consumer half understood is never written to (`declared_consumers` sets them apart instead)."""
    found, wrong = declared_consumers(repository)
    if wrong:
        raise DarseError(wrong[0].message, "darse lint shows every one (rule CT003)")
    return found


@dataclass(frozen=True)
class FolderProblem:
    """A service whose darse.certs labels darse cannot read: where, and the first problem (lint CT003
    lists them all)."""

    folder: str
    service: str
    message: str  # `file:line:column: label: why`


def declared_consumers(repository: Repository) -> tuple[list[FolderConsumer], list[FolderProblem]]:
    """Every consumer of the repository's service folders and, apart, every service whose labels are
    wrong: a consumer half understood is never written to, but one wrong label must not keep every
    other consumer from its renewals (sync and the watcher go on with the others)."""
    found: list[FolderConsumer] = []
    wrong: list[FolderProblem] = []
    for service in repository.services:
        compose = service.compose
        if not compose.readable:
            continue
        for name, node in compose.services():
            consumer, problems = parse_consumer(name, node)
            if problems:
                first = problems[0]
                where = f"{repository.relative(compose.path)}:{first.line}:{first.column}"
                more = f" (and {len(problems) - 1} more: darse lint, rule CT003)" if len(problems) > 1 else ""
                wrong.append(FolderProblem(service.name, name, f"{where}: {first.message}{more}"))
            elif consumer is not None:
                found.append(FolderConsumer(service.name, compose.path, consumer))
    return found, wrong
