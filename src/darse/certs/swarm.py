"""Certificates for consumers on a Swarm: Swarm secrets named by a hash of their content, mounted at the
consumer's `darse.certs.dir` with its owner and mode.

A Swarm secret cannot change, so a renewed certificate is a new secret and the service is updated to
use it: the Swarm rolls its tasks over, which is the consumer's reload (its `darse.certs.reload`
label does not apply). `darse stack deploy` puts the same secrets in the stack it deploys, so a
redeploy keeps the certificate (and, when acme.json cannot be read at that moment, keeps the one the
service already has). A secret's data cannot be read back: what it holds is said by its labels (the
certificate's fingerprint, names and dates: all public), for `darse certs status`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import posixpath
from dataclasses import dataclass, field
from typing import Any

from darse.certs.acme import configured_acme, read_acme
from darse.certs.files import consumer_files
from darse.certs.labels import Consumer, consumers
from darse.certs.x509 import Candidate, CertFacts, choose
from darse.engine.swarm import STACK_LABEL, SwarmEngine
from darse.errors import DarseError
from darse.model.repository import Repository
from darse.model.service import Service

NAME_MARK = "_certs_"  # in every certificate secret's name: STACK_certs_HASH
LABEL = "org.darse.certs."
FINGERPRINT, SUBJECT, ISSUER, SANS, NOT_BEFORE, NOT_AFTER, SERIAL = (
    f"{LABEL}{key}" for key in ("fingerprint", "subject", "issuer", "sans", "not-before", "not-after", "serial")
)
MAX_STACK_PREFIX = 30  # Swarm secret names are at most 64 characters


@dataclass(frozen=True)
class CertSecret:
    """One file of a consumer as a Swarm secret: its name, where it is mounted, owner and mode."""

    key: str  # the key in the stack document's `secrets:`
    name: str
    target: str  # absolute path in the container
    uid: int
    gid: int
    mode: int
    data: bytes = field(repr=False)

    def ref(self, secret_id: str) -> dict[str, Any]:
        """The service's reference to it, as the Engine API writes it."""
        file = {"Name": self.target, "UID": str(self.uid), "GID": str(self.gid), "Mode": self.mode}
        return {"SecretID": secret_id, "SecretName": self.name, "File": file}


def prefix(stack: str) -> str:
    return f"{stack[:MAX_STACK_PREFIX]}{NAME_MARK}"


def is_certificate_ref(ref: dict[str, Any], stack: str) -> bool:
    return str(ref.get("SecretName", "")).startswith(prefix(stack))


def certificate_secrets(stack: str, consumer: Consumer, chosen: Candidate) -> list[CertSecret]:
    out = []
    for file in consumer_files(consumer, chosen):
        digest = hashlib.sha256(file.data).hexdigest()[:16]
        out.append(
            CertSecret(
                f"darse_certs_{digest}",
                f"{prefix(stack)}{digest}",
                posixpath.join(consumer.dir, file.name),
                file.uid,
                file.gid,
                file.mode,
                file.data,
            )
        )
    return out


def _labels(stack: str, facts: CertFacts) -> dict[str, str]:
    return {
        STACK_LABEL: stack,  # `docker stack rm` removes it with the stack
        FINGERPRINT: facts.fingerprint,
        SUBJECT: facts.subject,
        ISSUER: facts.issuer,
        SANS: ",".join(facts.sans),
        NOT_BEFORE: facts.not_before.isoformat(),
        NOT_AFTER: facts.not_after.isoformat(),
        SERIAL: facts.serial,
    }


def create_secrets(
    engine: SwarmEngine, stack: str, secrets: list[CertSecret], facts: CertFacts
) -> list[dict[str, Any]]:
    """Create the secrets that do not exist yet; the service references to all of them."""
    labels = _labels(stack, facts)
    return [secret.ref(engine.ensure_secret(secret.name, secret.data, labels)) for secret in secrets]


def _key(ref: dict[str, Any]) -> tuple[str, str, str, str, int]:
    file = ref.get("File") or {}
    return (
        ref.get("SecretName", ""),
        file.get("Name", ""),
        str(file.get("UID")),
        str(file.get("GID")),
        file.get("Mode"),
    )


def service_refs(engine: SwarmEngine, stack: str, consumer: Consumer) -> list[dict[str, Any]] | None:
    """The certificate secrets the consumer's Swarm service mounts now; None when it is not deployed."""
    refs = engine.service_secret_refs(f"{stack}_{consumer.service}")
    return None if refs is None else [r for r in refs if is_certificate_ref(r, stack)]


def same_refs(current: list[dict[str, Any]], wanted: list[CertSecret]) -> bool:
    return {_key(r) for r in current} == {_key(s.ref("")) for s in wanted}


def replace_refs(engine: SwarmEngine, stack: str, consumer: Consumer, refs: list[dict[str, Any]]) -> None:
    engine.replace_secret_refs(f"{stack}_{consumer.service}", lambda r: is_certificate_ref(r, stack), refs)


def remove_unused(engine: SwarmEngine, stack: str) -> int:
    """Remove the stack's certificate secrets no service uses any more (one still used by a task being
    replaced stays: the next sync or deploy removes it)."""
    in_use = engine.secrets_in_use()
    removed = 0
    for secret_id, name in engine.secrets(stack):
        if name.startswith(prefix(stack)) and secret_id not in in_use and engine.remove_secret(secret_id):
            removed += 1
    return removed


def deployed_facts(engine: SwarmEngine, refs: list[dict[str, Any]]) -> CertFacts | None:
    """What the certificate secrets of a service hold, from their labels."""
    labels = engine.secret_labels([r.get("SecretName", "") for r in refs])
    for found in labels.values():
        if FINGERPRINT in found:
            try:
                return CertFacts(
                    fingerprint=found[FINGERPRINT],
                    subject=found.get(SUBJECT, ""),
                    issuer=found.get(ISSUER, ""),
                    sans=tuple(s for s in found.get(SANS, "").split(",") if s),
                    not_before=dt.datetime.fromisoformat(found[NOT_BEFORE]),
                    not_after=dt.datetime.fromisoformat(found[NOT_AFTER]),
                    serial=found.get(SERIAL, ""),
                )
            except (KeyError, ValueError):
                continue
    return None


def add_to_document(document: dict[str, Any], service: str, refs: list[dict[str, Any]]) -> list[str]:
    """Put certificate secret references (as the Engine API writes them) into a stack document: an
    external secret each, mounted by `service`. Returns the secret names (kept by the deploy's cleanup)."""
    secrets = document.setdefault("secrets", {})
    entry = document["services"][service]
    mounts = entry.setdefault("secrets", [])
    names = []
    for ref in refs:
        name = ref["SecretName"]
        key = "darse_certs_" + name.rsplit("_", 1)[-1]
        file = ref.get("File") or {}
        secrets[key] = {"external": True, "name": name}
        mounts.append(
            {
                "source": key,
                "target": file["Name"],
                "uid": str(file["UID"]),
                "gid": str(file["GID"]),
                "mode": file["Mode"],
            }
        )
        names.append(name)
    return names


def add_certificates(
    repository: Repository, service: Service, stack: str, engine: SwarmEngine, document: dict[str, Any]
) -> list[str]:
    """For `darse stack deploy`: mount each consumer's certificate in the stack document (created as
    secrets first), the one acme.json holds now, else the one the service already mounts, so that a
    redeploy never takes a certificate away. Returns the secret names the deploy keeps."""
    found, _problems = consumers(service.compose)  # a consumer with wrong labels is lint's (CT003) to report
    found = [c for c in found if c.service in (document.get("services") or {})]
    if not found:
        return []
    settings = repository.config.certs
    acme = None
    if settings.acme:
        try:
            acme = read_acme(configured_acme(settings, repository.root))
        except DarseError:
            acme = None  # cut mid-write or missing: keep what the services have
    names: list[str] = []
    for consumer in found:
        resolver = consumer.resolver or settings.resolver or None
        chosen = choose(acme.certificates, consumer.domains, resolver) if acme is not None else None
        if chosen is not None:
            refs = create_secrets(engine, stack, certificate_secrets(stack, consumer, chosen), chosen.facts)
        else:
            refs = service_refs(engine, stack, consumer) or []
        names += add_to_document(document, consumer.service, refs)
    return names
