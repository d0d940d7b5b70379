"""Traefik's `acme.json`: the certificates Let's Encrypt issued, read safely.

Formats (as ldez/traefik-certs-dumper reads them):

- Traefik v1: `{"Account": {...}, "Certificates": [{"Domain": {"Main", "SANs"}, "Certificate", "Key"}]}`;
- Traefik v2 and v3: `{"<resolver>": {"Account": {...}, "Certificates": [{"domain": {"main", "sans"},
  "certificate", "key", "Store"}]}}`, one entry per certificate resolver.

`certificate` and `key` are base64 of PEM. Traefik rewrites the file in place, so a reader may see it
cut mid-write: such a file is read again after a short wait, and never trusted. The file is untrusted
input: bounded in size, a regular file only (a link only to a file beside it), and the ACME account
(its private key) is never kept: no object returned here holds it, and no error quotes the file.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from darse.certs.names import normalize_domain
from darse.config import CertsSettings
from darse.errors import DarseError
from darse.fsutil import UnsafeFile, read_bounded

MAX_ACME_BYTES = 64 * 1024 * 1024  # Traefik's file for thousands of certificates is a few MiB
ATTEMPTS = 4  # reads of a file found cut mid-write, before giving up
RETRY_WAIT = 0.25  # seconds between them: Traefik writes the whole file at once
V1 = "v1"
V2 = "v2"  # v2 and v3 share the format


class AcmeIncomplete(DarseError):
    """acme.json was still cut mid-write (or empty) after every attempt: nothing in it is trusted."""


class PrivateKey:
    """A certificate's private key in PEM, which never shows itself: repr and str say only that it is
    hidden, so a key cannot leak through a log line, a traceback's locals or an f-string."""

    __slots__ = ("_pem",)

    def __init__(self, pem: bytes) -> None:
        self._pem = bytes(pem)

    def reveal(self) -> bytes:
        """The PEM bytes, for the one place that writes them to the consumer's key file."""
        return self._pem

    def __repr__(self) -> str:
        return "PrivateKey(<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrivateKey) and hmac.compare_digest(self._pem, other._pem)

    def __hash__(self) -> int:
        return hash(("PrivateKey", len(self._pem)))

    def __reduce__(self) -> Any:
        raise TypeError("a private key is not pickled")


@dataclass(frozen=True)
class AcmeCertificate:
    """One certificate of acme.json: the resolver that obtained it (v1: ""), the domains Traefik asked
    for, the chain as Let's Encrypt sent it (leaf first), and the key (hidden, see PrivateKey)."""

    resolver: str
    main: str
    sans: tuple[str, ...]
    chain_pem: bytes = field(repr=False)
    key: PrivateKey = field(repr=False)
    store: str = ""

    @property
    def domains(self) -> tuple[str, ...]:
        return (self.main, *[san for san in self.sans if san != self.main])

    def to_dict(self) -> dict[str, Any]:
        """What may be shown: never the key."""
        return {"resolver": self.resolver, "main": self.main, "sans": list(self.sans), "store": self.store}


@dataclass(frozen=True)
class AcmeFile:
    """What acme.json holds, without its ACME account: the format, every resolver, their certificates,
    and the entries skipped as unreadable (their domain and why, never their content)."""

    path: Path
    format: str  # V1 or V2
    resolvers: tuple[str, ...]
    certificates: tuple[AcmeCertificate, ...]
    skipped: tuple[str, ...] = ()


def configured_acme(settings: CertsSettings, root: Path) -> Path:
    """Where darse.toml's `[certs] acme` points (a relative path is from the repository root)."""
    if not settings.acme:
        has_toml = Path(root, "darse.toml").is_file()
        raise DarseError(
            "darse.toml names no acme.json" + ("" if has_toml else f": there is no darse.toml in {root}"),
            'set [certs] acme = "/path/to/acme.json" in darse.toml (Traefik\'s, on this host), or pass --acme PATH',
        )
    return Path(root, settings.acme)


def read_acme(
    path: Path,
    resolver: str | None = None,
    *,
    attempts: int = ATTEMPTS,
    wait: float = RETRY_WAIT,
    limit: int = MAX_ACME_BYTES,
    sleep: Callable[[float], None] = time.sleep,
) -> AcmeFile:
    """Read `path` and return its certificates (every resolver's, or only `resolver`'s).

    A file that does not parse as JSON (cut mid-write) or is empty is read again up to `attempts`
    times, `wait` seconds apart (at most about one second in all), then AcmeIncomplete is raised.
    `resolver` "" or None: every resolver (darse.toml's `[certs] resolver` unset)."""
    path = Path(path)
    resolver = resolver or None
    problem = ""
    for attempt in range(max(attempts, 1)):
        if attempt:
            sleep(wait)
        data = _read(path, limit)
        try:
            document = json.loads(data) if data.strip() else None
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            # the decoder's position only: its message never quotes the document
            decoded = isinstance(exc, json.JSONDecodeError)
            problem = f"not complete JSON ({exc.msg} at byte {exc.pos})" if decoded else "not JSON text"
            continue
        if document is None:
            problem = "empty"
            continue
        return parse_acme(document, path, resolver)
    raise AcmeIncomplete(
        f"{path} is {problem} after {max(attempts, 1)} reads",
        "Traefik may be writing it: try again in a moment; if it stays so, the file is damaged",
    )


def _read(path: Path, limit: int) -> bytes:
    """The file's bytes: a regular file (a link only to a file in the same folder), at most `limit`."""
    try:
        return read_bounded(path, limit, within=path.parent)
    except UnsafeFile as exc:
        raise DarseError(exc.message, "point darse.toml [certs] acme at Traefik's acme.json itself") from None
    except FileNotFoundError:
        raise DarseError(f"{path} does not exist", "set [certs] acme in darse.toml to Traefik's acme.json") from None
    except OSError as exc:
        hint = "acme.json is mode 0600: run as its owner"
        raise DarseError(f"{path}: cannot read it ({exc.strerror})", hint) from None


def parse_acme(document: Any, path: Path, resolver: str | None = None) -> AcmeFile:
    """The certificates of a parsed acme.json document; the ACME account is dropped unread."""
    if not isinstance(document, dict):
        raise DarseError(f"{path} is not an acme.json file (not a JSON object)", "check [certs] acme in darse.toml")
    skipped: list[str] = []
    if _is_v1(document):
        if resolver:
            raise DarseError(
                f"{path} is a Traefik v1 file, which has no resolver {resolver!r}",
                "remove the resolver (darse.toml [certs] resolver, or the darse.certs.resolver label)",
            )
        certificates = _entries(document.get("Certificates"), "", v1=True, skipped=skipped)
        return AcmeFile(path, V1, (), tuple(certificates), tuple(skipped))
    resolvers = tuple(name for name, value in document.items() if isinstance(value, dict))
    if resolver is not None and resolver not in resolvers:
        named = ", ".join(_shown(name) for name in resolvers[:10]) + (", ..." if len(resolvers) > 10 else "")
        raise DarseError(f"{path} has no certificate resolver {resolver!r}", f"its resolvers: {named or 'none yet'}")
    certificates = []
    for name in resolvers:
        if resolver is None or name == resolver:
            found = _entries(document[name].get("Certificates"), _shown(name), v1=False, skipped=skipped)
            certificates += [replace(certificate, resolver=name) for certificate in found]
    return AcmeFile(path, V2, resolvers, tuple(certificates), tuple(skipped))


_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # what a resolver name is in Traefik's configuration


def _shown(name: str) -> str:
    """A resolver name of the file as a message may show it: a plain name as it is, anything else
    quoted and cut short (never raw control characters or terminal escapes on the terminal)."""
    return name if _PLAIN_NAME.fullmatch(name) else ascii(name[:40])


def _is_v1(document: dict[str, Any]) -> bool:
    """v1 keeps `Certificates` (a list, or null) at the top; v2 and v3 keep one object per resolver."""
    return "Certificates" in document and not isinstance(document["Certificates"], dict)


def _entries(raw: Any, resolver: str, *, v1: bool, skipped: list[str]) -> list[AcmeCertificate]:
    if raw is None:
        return []  # a resolver that obtained nothing yet
    if not isinstance(raw, list):
        skipped.append(f"{resolver or 'Certificates'}: the certificate list is not a list")
        return []
    keys = ("Domain", "Main", "SANs", "Certificate", "Key") if v1 else ("domain", "main", "sans", "certificate", "key")
    out = []
    for index, entry in enumerate(raw):
        where = f"{resolver + ' ' if resolver else ''}#{index}"
        if not isinstance(entry, dict):
            skipped.append(f"{where}: not an object")
            continue
        domain = entry.get(keys[0])
        main = domain.get(keys[1]) if isinstance(domain, dict) else None
        sans = domain.get(keys[2]) if isinstance(domain, dict) else None
        main = _domain(main)
        if main is None:
            skipped.append(f"{where}: no main domain that is a host name")
            continue
        where = f"{where} ({main})"
        sans = [d for d in (_domain(s) for s in sans) if d is not None] if isinstance(sans, list) else []
        chain = _pem(entry.get(keys[3]), b"CERTIFICATE")
        key = _pem(entry.get(keys[4]), b"PRIVATE KEY")
        if chain is None or key is None:
            skipped.append(f"{where}: its {'certificate' if chain is None else 'key'} is not base64 of PEM")
            continue
        store = entry.get("Store") if isinstance(entry.get("Store"), str) else ""
        out.append(AcmeCertificate(resolver, main, tuple(sans), chain, PrivateKey(key), store))
    return out


def _domain(value: Any) -> str | None:
    """A domain of acme.json, normalized; None when it is not a host name (so that nothing else of the
    file, which holds keys, can travel as a "domain" into a message)."""
    if not isinstance(value, str):
        return None
    try:
        return normalize_domain(value)
    except ValueError:
        return None


def _pem(value: Any, marker: bytes) -> bytes | None:
    """base64 of a PEM block whose header names `marker`; None otherwise (the value is never quoted)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        pem = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return pem if b"-----BEGIN " in pem and marker in pem.split(b"\n", 1)[0] else None
