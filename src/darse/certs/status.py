"""`darse certs status`: for every consumer, the certificate acme.json holds for it, the one its folder
holds, and the one its running process serves (a TLS handshake on each published TLS port), with the
days left. Usable from cron or a monitoring check: not ok when a certificate expires within the
warning threshold, or a consumer has none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darse.certs.acme import AcmeFile, configured_acme, read_acme
from darse.certs.labels import FolderConsumer, repository_consumers
from darse.certs.ports import TLS_PORTS
from darse.certs.probe import ProbeFailed, protocol_for_port, served_certificate
from darse.certs.swarm import deployed_facts, service_refs
from darse.certs.targets import ConsumerTargets
from darse.certs.x509 import CertFacts, choose, leaf_facts
from darse.engine.certs import ConsumerFiles
from darse.engine.swarm import SwarmEngine
from darse.errors import DarseError
from darse.model.repository import find_root, open_repository

STARTTLS_PORTS = (25, 110, 143, 587)  # plain protocols that upgrade: probed with their STARTTLS
PROBE_TIMEOUT = 5.0

# verdicts, worst last
OK = "ok"
STALE = "stale"  # acme.json would give another certificate than the folder's: `darse certs sync`
NOT_SERVED = "not-served"  # the process serves another certificate than its folder's: not reloaded?
EXPIRING = "expiring"  # within the warning threshold
EXPIRED = "expired"
MISSING = "missing"  # no certificate in the consumer's folder
UNKNOWN = "unknown"  # not deployed, or its engine did not answer
FAILING = (EXPIRING, EXPIRED, MISSING)


@dataclass
class Served:
    """What a published port serves: the certificate, or why the handshake failed."""

    container_port: int
    address: str  # host:port
    protocol: str
    certificate: CertFacts | None = None
    error: str = ""

    def to_dict(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "container_port": self.container_port,
            "address": self.address,
            "protocol": self.protocol,
            "certificate": self.certificate.to_dict(now) if self.certificate else None,
            "error": self.error or None,
        }


@dataclass
class ConsumerStatus:
    folder: str
    service: str
    domains: tuple[str, ...]
    in_acme: CertFacts | None = None
    on_disk: CertFacts | None = None
    served: list[Served] = field(default_factory=list)
    verdict: str = OK
    detail: str = ""
    days_left: int | None = None

    def to_dict(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "service": self.service,
            "domains": list(self.domains),
            "verdict": self.verdict,
            "detail": self.detail,
            "days_left": self.days_left,
            "acme": self.in_acme.to_dict(now) if self.in_acme else None,
            "on_disk": self.on_disk.to_dict(now) if self.on_disk else None,
            "served": [s.to_dict(now) for s in self.served],
        }


@dataclass
class CertsStatus:
    acme: Path
    warn_days: int
    now: dt.datetime
    consumers: list[ConsumerStatus]
    acme_error: str = ""

    @property
    def ok(self) -> bool:
        return not self.acme_error and not any(c.verdict in FAILING for c in self.consumers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "acme": str(self.acme),
            "acme_error": self.acme_error or None,
            "warn_days": self.warn_days,
            "ok": self.ok,
            "consumers": [c.to_dict(self.now) for c in self.consumers],
        }


def certificate_status(
    start: Path,
    *,
    acme: Path | None = None,
    resolver: str | None = None,
    warn_days: int | None = None,
    probe: bool = True,
    now: dt.datetime | None = None,
) -> CertsStatus:
    """The status of every consumer of the repository around `start`. `probe=False` skips the TLS
    handshakes (a host whose published ports this machine cannot reach)."""
    context = ConsumerTargets(open_repository(find_root(start)))
    try:
        return _status_all(context, acme, resolver, warn_days, probe, now)
    finally:
        context.close()


def _status_all(
    context: ConsumerTargets,
    acme: Path | None,
    resolver: str | None,
    warn_days: int | None,
    probe: bool,
    now: dt.datetime | None,
) -> CertsStatus:
    settings = context.repository.config.certs
    path = acme if acme is not None else configured_acme(settings, context.repository.root)
    days = settings.warn_days if warn_days is None else warn_days
    moment = now or dt.datetime.now(dt.UTC)
    declared = repository_consumers(context.repository)
    if not declared:
        raise DarseError(
            f"no service of {context.repository.root} declares darse.certs labels",
            "darse new NAME --tls-domain DOMAIN writes one; docs/certs.md explains the labels",
        )
    document: AcmeFile | None = None
    acme_error = ""
    try:
        document = read_acme(path, None)
    except DarseError as exc:
        acme_error = exc.message
    default_resolver = resolver if resolver is not None else settings.resolver
    found = [
        _status(context, item, document, item.consumer.resolver or default_resolver, days, probe, moment)
        for item in declared
    ]
    return CertsStatus(path, days, moment, found, acme_error)


def _status(
    context: ConsumerTargets,
    item: FolderConsumer,
    document: AcmeFile | None,
    resolver: str,
    warn_days: int,
    probe: bool,
    now: dt.datetime,
) -> ConsumerStatus:
    consumer = item.consumer
    status = ConsumerStatus(item.folder, consumer.service, consumer.domains)
    if document is not None:
        chosen = choose(document.certificates, consumer.domains, resolver or None, now)
        status.in_acme = chosen.facts if chosen else None
    service = context.service(item.folder)
    target = context.target_of(service)
    if target.is_swarm:
        return _swarm_status(SwarmEngine(target), context.project(service), item, status, warn_days, now)
    try:
        files = ConsumerFiles(context.engine_for(service))
        containers = files.containers(context.project(service), consumer.service)
        if not containers:
            status.verdict, status.detail = UNKNOWN, f"not deployed: darse up {item.folder}"
            return status
        names = [f.name for f in consumer.files if f.kind in ("cert", "fullchain", "combined")]
        on_disk = files.read(containers[0], consumer.dir, names)
    except DarseError as exc:
        status.verdict, status.detail = UNKNOWN, exc.message
        return status
    for name in names:
        if name in on_disk:
            try:
                status.on_disk = leaf_facts(on_disk[name].data)
            except DarseError:
                continue
            break
    if probe:
        for container in containers:
            if container.running:
                status.served += _probe(container.ports, consumer.domains[0])
    _judge(status, warn_days, now)
    return status


def _swarm_status(
    engine: SwarmEngine, stack: str, item: FolderConsumer, status: ConsumerStatus, warn_days: int, now: dt.datetime
) -> ConsumerStatus:
    """A Swarm consumer: what its certificate secrets hold, from their labels (their data cannot be read
    back). Its published ports are not probed (the routing mesh may send the handshake to any task)."""
    try:
        refs = service_refs(engine, stack, item.consumer)
        if refs is None:
            status.verdict, status.detail = UNKNOWN, f"not deployed: darse stack deploy {item.folder}"
            return status
        status.on_disk = deployed_facts(engine, refs) if refs else None
    except DarseError as exc:
        status.verdict, status.detail = UNKNOWN, exc.message
        return status
    finally:
        engine.close()
    _judge(status, warn_days, now)
    return status


def _probe(ports: Any, domain: str) -> list[Served]:
    """A handshake on each published port that speaks TLS (implicit, or STARTTLS for SMTP, IMAP, POP3)."""
    out = []
    for port in ports:
        if port.container_port not in TLS_PORTS and port.container_port not in STARTTLS_PORTS:
            continue
        protocol = protocol_for_port(port.container_port)
        server_name = domain.replace("*.", "www.", 1)  # SNI must be a host name, not a wildcard
        served = Served(port.container_port, f"{port.host}:{port.port}", protocol)
        try:
            served.certificate = served_certificate(
                port.host, port.port, protocol=protocol, server_name=server_name, timeout=PROBE_TIMEOUT
            )
        except ProbeFailed as exc:
            served.error = exc.message
        out.append(served)
    return out


def _judge(status: ConsumerStatus, warn_days: int, now: dt.datetime) -> None:
    disk = status.on_disk
    if disk is None:
        status.verdict = MISSING
        status.detail = "no certificate in its folder: darse certs sync" if status.in_acme else (
            "no certificate in its folder, and none in acme.json for these domains"
        )
        return
    # what clients see: the served certificate when a port was probed, else the folder's
    effective = [s.certificate for s in status.served if s.certificate is not None] or [disk]
    soonest = min(effective, key=lambda c: c.not_after)
    status.days_left = soonest.days_left(now)
    if not soonest.valid_at(now) and soonest.not_after <= now:
        status.verdict, status.detail = EXPIRED, f"expired on {soonest.not_after:%Y-%m-%d}"
    elif status.days_left < warn_days:
        status.verdict = EXPIRING
        status.detail = f"expires on {soonest.not_after:%Y-%m-%d}, within {warn_days} days"
    elif any(s.certificate and s.certificate.fingerprint != disk.fingerprint for s in status.served):
        status.verdict, status.detail = NOT_SERVED, "the process serves another certificate: was it reloaded?"
    elif status.in_acme is not None and status.in_acme.fingerprint != disk.fingerprint:
        status.verdict, status.detail = STALE, "acme.json holds another certificate for it: darse certs sync"
    if status.verdict in (EXPIRING, EXPIRED) and status.in_acme and status.in_acme.fingerprint != disk.fingerprint:
        status.detail += "; acme.json has another: darse certs sync"
