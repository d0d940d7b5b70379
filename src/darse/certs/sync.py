"""`darse certs sync`: every consumer of the repository receives the certificate acme.json holds for its
domains, in its volume, with its owner and mode, and is reloaded when (and only when) the certificate
it has changed.

What the consumer's folder holds is the state: the files are read back through the engine and
compared with what would be written, so a sync run twice, or by two hosts, or after a restart of the
watcher, reloads nothing the second time. acme.json is read once per sync (retried when cut
mid-write); a consumer with no valid certificate in it keeps what it has.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darse.certs.acme import AcmeFile, configured_acme, read_acme
from darse.certs.files import consumer_files
from darse.certs.labels import Consumer, FolderConsumer, declared_consumers
from darse.certs.swarm import (
    certificate_secrets,
    create_secrets,
    deployed_facts,
    remove_unused,
    replace_refs,
    same_refs,
    service_refs,
)
from darse.certs.targets import ConsumerTargets
from darse.certs.x509 import Candidate, CertFacts, candidates, choose, leaf_facts
from darse.engine.certs import ConsumerContainer, ConsumerFiles, OwnedFile
from darse.engine.swarm import SwarmEngine
from darse.errors import DarseError
from darse.model.repository import find_root, open_repository

# outcomes of one consumer, worst last
INSTALLED = "installed"  # new files written (and the consumer reloaded if its certificate changed)
UNCHANGED = "unchanged"  # the folder already holds exactly these files
NOT_DEPLOYED = "not-deployed"  # no container: nothing to write into yet (`darse up` first)
NO_CERTIFICATE = "no-certificate"  # acme.json has no valid certificate for every domain: files kept
FAILED = "failed"  # the engine refused a write or a reload
PROBLEMS = (NO_CERTIFICATE, FAILED)

Log = Callable[[str], None]


@dataclass
class ConsumerSync:
    """What a sync did for one consumer: shown by the CLI, logged by the watcher, `--json`."""

    folder: str
    service: str
    domains: tuple[str, ...]
    outcome: str
    detail: str = ""
    certificate: CertFacts | None = None  # the one now installed (or that would be)
    replaced: str = ""  # fingerprint of the certificate the consumer had before, "" if none
    reloaded: list[str] = field(default_factory=list)  # container names, with how

    @property
    def changed(self) -> bool:
        return self.outcome == INSTALLED

    def line(self) -> str:
        name = f"{self.folder}/{self.service}"
        what = {
            INSTALLED: "installed",
            UNCHANGED: "up to date",
            NOT_DEPLOYED: "not deployed",
            NO_CERTIFICATE: "no certificate",
            FAILED: "failed",
        }[self.outcome]
        facts = ""
        if self.certificate is not None:
            facts = f" {self.certificate.fingerprint[:16]} until {self.certificate.not_after:%Y-%m-%d}"
        reloads = f"; reloaded {', '.join(self.reloaded)}" if self.reloaded else ""
        detail = f": {self.detail}" if self.detail else ""
        domains = f" ({', '.join(self.domains)})" if self.domains else ""
        return f"{name}{domains}: {what}{facts}{detail}{reloads}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "service": self.service,
            "domains": list(self.domains),
            "outcome": self.outcome,
            "detail": self.detail,
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "replaced": self.replaced or None,
            "reloaded": list(self.reloaded),
        }


@dataclass
class SyncReport:
    acme: Path
    consumers: list[ConsumerSync]
    skipped: tuple[str, ...] = ()  # acme.json entries that could not be read (domain and why)

    @property
    def ok(self) -> bool:
        return not any(c.outcome in PROBLEMS for c in self.consumers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "acme": str(self.acme),
            "ok": self.ok,
            "consumers": [c.to_dict() for c in self.consumers],
            "skipped": list(self.skipped),
        }


def sync_certificates(
    start: Path,
    *,
    acme: Path | None = None,
    resolver: str | None = None,
    only: Iterable[str] = (),
    dry_run: bool = False,
    now: dt.datetime | None = None,
    log: Log | None = None,
) -> SyncReport:
    """Sync every consumer of the repository around `start` (or those of the folders in `only`).

    `acme`/`resolver` override darse.toml's `[certs]`. `dry_run` reads and compares but writes and
    reloads nothing. `log` receives one line per consumer as it is done (the watcher's log)."""
    context = ConsumerTargets(open_repository(find_root(start)))
    try:
        return _sync_all(context, acme, resolver, only, dry_run, now, log)
    finally:
        context.close()


def _sync_all(
    context: ConsumerTargets,
    acme: Path | None,
    resolver: str | None,
    only: Iterable[str],
    dry_run: bool,
    now: dt.datetime | None,
    log: Log | None,
) -> SyncReport:
    repository = context.repository
    settings = repository.config.certs
    path = acme if acme is not None else configured_acme(settings, repository.root)
    default_resolver = resolver if resolver is not None else settings.resolver
    wanted = {name.rstrip("/") for name in only}
    declared, wrong = declared_consumers(repository)
    if wanted:
        unknown = wanted - {item.folder for item in declared} - {item.folder for item in wrong}
        if unknown:
            name = sorted(unknown)[0]
            raise DarseError(
                f"{name} declares no certificate consumer (no darse.certs.domains label)",
                "darse certs status lists the consumers",
            )
        declared = [item for item in declared if item.folder in wanted]
        wrong = [item for item in wrong if item.folder in wanted]
    if not declared and not wrong:
        raise DarseError(
            f"no service of {repository.root} declares darse.certs labels",
            "darse new NAME --tls-domain DOMAIN writes one; docs/certs.md explains the labels",
        )
    document = read_acme(path, None)
    # a service whose labels are wrong is a failure of its own; the other consumers are still synced
    results = [ConsumerSync(item.folder, item.service, (), FAILED, item.message) for item in wrong]
    if log is not None:
        for result in results:
            log(result.line())
    for item in declared:
        result = _sync_one(context, item, document, item.consumer.resolver or default_resolver, dry_run, now)
        if log is not None:
            log(result.line())
        results.append(result)
    return SyncReport(path, results, document.skipped)


def _sync_one(
    context: ConsumerTargets,
    item: FolderConsumer,
    document: AcmeFile,
    resolver: str,
    dry_run: bool,
    now: dt.datetime | None,
) -> ConsumerSync:
    consumer = item.consumer
    result = ConsumerSync(item.folder, consumer.service, consumer.domains, UNCHANGED)
    chosen = choose(document.certificates, consumer.domains, resolver or None, now)
    if chosen is None:
        result.outcome = NO_CERTIFICATE
        result.detail = _why_none(document, consumer, resolver)
        return result
    result.certificate = chosen.facts
    service = context.service(item.folder)
    target = context.target_of(service)
    if target.is_swarm:
        return _sync_swarm(SwarmEngine(target), context.project(service), consumer, chosen, result, dry_run)
    try:
        files = ConsumerFiles(context.engine_for(service))
        containers = files.containers(context.project(service), consumer.service)
        if not containers:
            result.outcome = NOT_DEPLOYED
            result.detail = f"no container yet: darse up {item.folder}, then sync again"
            return result
        wanted = [OwnedFile(f.name, f.uid, f.gid, f.mode, f.data) for f in consumer_files(consumer, chosen)]
        # every replica shares the volume: the first container's folder tells what it holds
        on_disk = files.read(containers[0], consumer.dir, [f.name for f in wanted])
        result.replaced = _fingerprint_on_disk(consumer, on_disk)
        # a reload that failed (or a sync stopped before it) is done again, though the files are in place
        pending = files.pending_reload(containers[0], consumer.dir)
        same = _same(wanted, on_disk)
        if same and not pending:
            return result
        result.outcome = INSTALLED
        reload = bool(pending) or result.replaced != chosen.facts.fingerprint
        if dry_run:
            result.detail = "would be written (dry run)" if not same else "would be reloaded (dry run)"
            return result
        if consumer.mount is None:
            raise DarseError(
                f"darse.certs.dir {consumer.dir} is inside none of the service's volumes or bind mounts (lint: CT004)",
                "mount a named volume there (darse lint: rule CT004)",
            )
        if not same:
            marker = chosen.facts.fingerprint.encode() if reload else None
            files.write(containers[0], consumer.mount.target, consumer.dir, wanted, pending=marker)
        if reload:
            if same:
                result.detail = "its last reload did not happen: reloaded now"
            result.reloaded = _reload(files, consumer, containers)
            files.write(containers[0], consumer.mount.target, consumer.dir, [], pending=b"")
        else:
            result.detail = "files restored or their owner or mode corrected; same certificate, no reload"
    except DarseError as exc:
        result.outcome = FAILED
        result.detail = exc.message
    return result


def _sync_swarm(
    engine: SwarmEngine, stack: str, consumer: Consumer, chosen: Candidate, result: ConsumerSync, dry_run: bool
) -> ConsumerSync:
    """A consumer on a Swarm: its certificate files as secrets named by their content; the service
    updated to mount the new ones (the Swarm rolls its tasks over: that is the reload)."""
    try:
        engine.ensure_manager()
        current = service_refs(engine, stack, consumer)
        if current is None:
            result.outcome = NOT_DEPLOYED
            result.detail = f"no Swarm service {stack}_{consumer.service}: darse stack deploy first"
            return result
        facts = deployed_facts(engine, current) if current else None
        result.replaced = facts.fingerprint if facts else ""
        wanted = certificate_secrets(stack, consumer, chosen)
        if same_refs(current, wanted):
            return result
        result.outcome = INSTALLED
        if dry_run:
            result.detail = "would be written (dry run)"
            return result
        replace_refs(engine, stack, consumer, create_secrets(engine, stack, wanted, chosen.facts))
        result.reloaded = [f"{stack}_{consumer.service} (rolling update)"]
        remove_unused(engine, stack)
    except DarseError as exc:
        result.outcome = FAILED
        result.detail = exc.message
    finally:
        engine.close()
    return result


def _same(wanted: list[OwnedFile], on_disk: dict[str, OwnedFile]) -> bool:
    for file in wanted:
        there = on_disk.get(file.name)
        if there is None or (there.uid, there.gid, there.mode) != (file.uid, file.gid, file.mode):
            return False
        if not hmac.compare_digest(there.data, file.data):
            return False
    return True


def _fingerprint_on_disk(consumer: Consumer, on_disk: dict[str, OwnedFile]) -> str:
    """The leaf certificate the consumer's folder holds now ("" when none is readable)."""
    for kind in ("cert", "fullchain", "combined"):
        for file in consumer.files:
            if file.kind == kind and file.name in on_disk:
                try:
                    return leaf_facts(on_disk[file.name].data).fingerprint
                except DarseError:
                    return ""
    return ""


def _reload(files: ConsumerFiles, consumer: Consumer, containers: list[ConsumerContainer]) -> list[str]:
    """Reload every running container of the consumer (a stopped one reads the files when it starts)."""
    done = []
    for container in containers:
        if not container.running:
            continue
        how = consumer.reload
        if how.kind == "signal":
            files.signal(container, how.signal)
            done.append(f"{container.name} ({how.signal})")
        elif how.kind == "exec":
            files.run(container, how.command)
            done.append(f"{container.name} (exec {how.command[0]})")
        else:
            files.restart(container)
            done.append(f"{container.name} (restart)")
    return done


def _why_none(document: AcmeFile, consumer: Consumer, resolver: str) -> str:
    found, refused = candidates(document.certificates, consumer.domains, resolver or None)
    where = f"resolver {resolver}" if resolver else "acme.json"
    if found:
        return f"{where} holds only expired or not yet valid certificates for these domains; files kept"
    if refused:
        return f"{where}: {refused[0]}"
    return f"{where} has no certificate for every one of these domains (is a Traefik router requesting them?)"
