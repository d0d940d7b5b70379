"""A test certificate authority and Traefik `acme.json` files, made with `cryptography`.

`TestCA().issue("ldap.example.org", "*.example.org")` gives a leaf signed by an intermediate signed
by a root, as Let's Encrypt's chains are; `acme_v1(...)` / `acme_v2(...)` put issued certificates in
the JSON Traefik v1 or v2/v3 writes, with an ACME account whose private key is ACCOUNT_KEY, so a test
can check that it never comes out anywhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
# The ACME account's private key as it sits in acme.json: a distinctive text to look for in outputs.
ACCOUNT_KEY = base64.b64encode(b"ACME-ACCOUNT-PRIVATE-KEY-" + os.urandom(24)).decode()


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())  # fast, and what Traefik's EC256 key type gives


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Issued:
    """A leaf certificate, its chain as Let's Encrypt sends it (leaf then intermediate) and its key."""

    leaf: x509.Certificate
    chain_pem: bytes
    key_pem: bytes
    names: tuple[str, ...]

    @property
    def fingerprint(self) -> str:
        return self.leaf.fingerprint(hashes.SHA256()).hex()

    @property
    def leaf_pem(self) -> bytes:
        return cert_pem(self.leaf)


class TestCA:
    """A root and an intermediate; `issue` signs leaves with the intermediate."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, name: str = "darse test") -> None:
        self.root_key = _key()
        self.root = self._sign(
            _name(f"{name} root"), self.root_key.public_key(), _name(f"{name} root"), self.root_key, ca=True
        )
        self.intermediate_key = _key()
        self.intermediate = self._sign(
            _name(f"{name} R3"), self.intermediate_key.public_key(), self.root.subject, self.root_key, ca=True
        )

    @staticmethod
    def _sign(
        subject: x509.Name,
        public_key: Any,
        issuer: x509.Name,
        signing_key: Any,
        *,
        ca: bool,
        names: tuple[str, ...] = (),
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - dt.timedelta(days=1))
            .not_valid_after(not_after or NOW + dt.timedelta(days=3650 if ca else 90))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
        return builder.sign(signing_key, hashes.SHA256())

    def issue(
        self,
        *names: str,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> Issued:
        """A leaf for `names` (the first is the subject's CN), valid from yesterday for 90 days by default."""
        key = key or _key()
        leaf = self._sign(
            _name(names[0]),
            key.public_key(),
            self.intermediate.subject,
            self.intermediate_key,
            ca=False,
            names=names,
            not_before=not_before,
            not_after=not_after,
        )
        return Issued(leaf, cert_pem(leaf) + cert_pem(self.intermediate), key_pem(key), tuple(names))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _account(v1: bool) -> dict[str, Any]:
    if v1:
        return {"Email": "admin@example.org", "Registration": {"uri": "https://acme.invalid/acct/1"},
                "PrivateKey": ACCOUNT_KEY, "KeyType": "4096"}  # fmt: skip
    return {"Email": "admin@example.org", "Registration": {"body": {"status": "valid"}, "uri": "https://acme.invalid/acct/1"},
            "PrivateKey": ACCOUNT_KEY, "KeyType": "4096"}  # fmt: skip


def acme_v1(*issued: Issued) -> dict[str, Any]:
    """Traefik v1's acme.json holding these certificates (main = first name, SANs = the others)."""
    return {
        "Account": _account(v1=True),
        "Certificates": [
            {
                "Domain": {"Main": i.names[0], "SANs": list(i.names[1:]) or None},
                "Certificate": _b64(i.chain_pem),
                "Key": _b64(i.key_pem),
            }
            for i in issued
        ],
        "HTTPChallenge": {},
        "TLSChallenge": {},
    }


def acme_v2(resolvers: dict[str, list[Issued]]) -> dict[str, Any]:
    """Traefik v2/v3's acme.json: one object per certificate resolver."""
    return {
        name: {
            "Account": _account(v1=False),
            "Certificates": [
                {
                    "domain": {"main": i.names[0], **({"sans": list(i.names[1:])} if i.names[1:] else {})},
                    "certificate": _b64(i.chain_pem),
                    "key": _b64(i.key_pem),
                    "Store": "default",
                }
                for i in issued
            ]
            or None,
        }
        for name, issued in resolvers.items()
    }


def write_acme(path: Path, document: dict[str, Any]) -> Path:
    """Write acme.json as Traefik does (indented JSON, mode 0600)."""
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    path.chmod(0o600)
    return path
