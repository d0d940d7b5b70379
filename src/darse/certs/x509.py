"""Certificates as facts: what a chain holds, whether a key belongs to it, and which of acme.json's
certificates a consumer gets.

The choice never prefers an expired or not-yet-valid certificate over a valid one, matches wildcards
by RFC 6125 (darse.certs.names), and judges a certificate by its own SANs rather than by the domains
acme.json says it was requested for (kereis/traefik-certs-dumper matched wildcards by main domain only).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtensionOID

from darse.certs.acme import AcmeCertificate, PrivateKey
from darse.certs.names import covers_all
from darse.errors import DarseError

_PEM_HEADER = b"-----BEGIN CERTIFICATE-----"
MAX_CHAIN = 16  # certificates in one chain: Let's Encrypt's have 2 or 3; ordering them is quadratic


@dataclass(frozen=True)
class CertFacts:
    """What `darse certs status` shows of a certificate: all public."""

    fingerprint: str  # SHA-256 of the DER, lowercase hex
    subject: str  # RFC 4514
    issuer: str
    sans: tuple[str, ...]  # DNS names, lowercase
    not_before: dt.datetime  # aware, UTC
    not_after: dt.datetime
    serial: str  # hex

    def days_left(self, now: dt.datetime | None = None) -> int:
        """Whole days until not_after (negative once expired)."""
        return (self.not_after - _now(now)).days

    def valid_at(self, now: dt.datetime | None = None) -> bool:
        return self.not_before <= _now(now) <= self.not_after

    def to_dict(self, now: dt.datetime | None = None) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": list(self.sans),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "serial": self.serial,
            "days_left": self.days_left(now),
            "valid": self.valid_at(now),
        }


@dataclass(frozen=True)
class Chain:
    """A chain split for the files consumers ask for: cert.pem (leaf), chain.pem (intermediates),
    fullchain.pem (both, leaf first)."""

    leaf_pem: bytes
    intermediates_pem: bytes = b""

    @property
    def fullchain_pem(self) -> bytes:
        return self.leaf_pem + self.intermediates_pem


@dataclass(frozen=True)
class Candidate:
    """A certificate of acme.json that serves every domain a consumer asked for, with its facts."""

    certificate: AcmeCertificate
    facts: CertFacts
    chain: Chain = field(repr=False)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, in order; DarseError when there is none or one is damaged."""
    if _PEM_HEADER not in pem:
        raise DarseError("no PEM certificate in the chain", "acme.json's certificate must be base64 of PEM")
    if pem.count(_PEM_HEADER) > MAX_CHAIN:
        raise DarseError(f"the chain holds more than {MAX_CHAIN} certificates", "Traefik obtains it again on renewal")
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise DarseError("a certificate of the chain is damaged", "Traefik obtains it again on renewal") from None


def _printable(text: str) -> str:
    """A name of a certificate as darse shows it: control characters (a terminal's escape sequences,
    from a hostile certificate or TLS server) written as \\xNN, everything else as it is."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def facts(certificate: x509.Certificate) -> CertFacts:
    try:
        names = certificate.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        sans = tuple(_printable(name.lower()) for name in names.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        sans = ()
    return CertFacts(
        fingerprint=certificate.fingerprint(hashes.SHA256()).hex(),
        subject=_printable(certificate.subject.rfc4514_string()),
        issuer=_printable(certificate.issuer.rfc4514_string()),
        sans=sans,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        serial=format(certificate.serial_number, "x"),
    )


def split_chain(pem: bytes) -> Chain:
    """The leaf (the certificate that issued none of the others) and the intermediates from it upward,
    whatever order the bundle had; certificates unrelated to the leaf are dropped."""
    certificates = load_certificates(pem)
    leaves = [c for c in certificates if not any(o is not c and o.issuer == c.subject for o in certificates)]
    leaves = leaves or certificates
    leaf = next((c for c in leaves if not _is_ca(c)), leaves[0])
    chain, current = [], leaf
    remaining = [c for c in certificates if c is not leaf]
    while True:
        parent = next((c for c in remaining if c.subject == current.issuer and c.subject != current.subject), None)
        if parent is None:
            break
        chain.append(parent)
        remaining.remove(parent)
        current = parent
    encode = serialization.Encoding.PEM
    return Chain(leaf.public_bytes(encode), b"".join(c.public_bytes(encode) for c in chain))


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def leaf_facts(pem: bytes) -> CertFacts:
    """The facts of a chain's leaf (what a consumer's cert.pem or fullchain.pem starts with)."""
    return facts(load_certificates(split_chain(pem).leaf_pem)[0])


def key_matches(chain_pem: bytes, key: PrivateKey | bytes) -> bool:
    """Whether the private key belongs to the chain's leaf (same public key). A key that does not load
    is no match; the reason is not kept, so no error can quote key material."""
    leaf = load_certificates(split_chain(chain_pem).leaf_pem)[0]
    pem = key.reveal() if isinstance(key, PrivateKey) else key
    try:
        private = serialization.load_pem_private_key(pem, password=None)
    except Exception:  # any failure is "no match", and its message (which might quote the key) is dropped
        return False
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return private.public_key().public_bytes(der, spki) == leaf.public_key().public_bytes(der, spki)


def candidates(
    certificates: Iterable[AcmeCertificate], domains: Iterable[str], resolver: str | None = None
) -> tuple[list[Candidate], list[str]]:
    """The certificates that serve every one of `domains` (by their own SANs, wildcards included) and
    whose key matches, from `resolver` only when given; and why others that claimed a domain were left
    out (damaged, key mismatch), for status to say."""
    wanted = list(domains)
    found: list[Candidate] = []
    refused: list[str] = []
    for certificate in certificates:
        if resolver is not None and certificate.resolver != resolver:
            continue
        try:
            chain = split_chain(certificate.chain_pem)
            leaf = facts(load_certificates(chain.leaf_pem)[0])
        except DarseError as exc:
            refused.append(f"{certificate.main}: {exc.message}")
            continue
        if not covers_all(leaf.sans, wanted):
            continue
        if not key_matches(certificate.chain_pem, certificate.key):
            refused.append(f"{certificate.main}: its key does not match its certificate")
            continue
        found.append(Candidate(certificate, leaf, chain))
    return found, refused


def choose(
    certificates: Iterable[AcmeCertificate],
    domains: Iterable[str],
    resolver: str | None = None,
    now: dt.datetime | None = None,
) -> Candidate | None:
    """The certificate a consumer of `domains` gets: among those that serve every domain, the valid
    ones now, the one that expires last (ties: the one issued last). None when no valid one serves:
    an expired or not-yet-valid certificate is never chosen."""
    moment = _now(now)
    found, _refused = candidates(certificates, domains, resolver)
    valid = [c for c in found if c.facts.valid_at(moment)]
    if not valid:
        return None
    return max(valid, key=lambda c: (c.facts.not_after, c.facts.not_before, c.facts.fingerprint))
