"""Deploying one service: resolve, label, `compose up --wait`, record, and roll back on failure.

How the labels get onto the containers. Compose has no CLI flag that adds labels to containers, so darse
takes the resolved configuration from `docker compose config` (which it needs anyway for the hash),
adds the `org.darse.*` labels (and, for a rollback, the pinned image references) to every service, and
feeds that document to `docker compose --file - up` on stdin. Chosen over a second override file
because: what is hashed and recorded is byte for byte what runs (no re-interpolation between two
calls); the resolved config holds env_file values, and stdin writes none of them to disk; and it costs
the same two compose calls (config, up).

Labels record the deployment that created the containers. When the resolved configuration has not
changed since the running containers were created (same hash), darse keeps their labels as they are, so
Compose sees nothing to change and recreates nothing; the history still records the new attempt.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from darse.deploy import resolved
from darse.deploy.context import DeployContext
from darse.deploy.predeploy import backup_before_deploy, wants_backup
from darse.engine.compose import ComposeRunner
from darse.engine.docker import (
    COMMIT_LABEL,
    DIRTY_LABEL,
    HASH_LABEL,
    SERVICE_HASH_LABEL,
    SERVICE_LABEL,
    TIME_LABEL,
    ContainerState,
    Engine,
)
from darse.errors import DarseError
from darse.history import FAILED, SUCCESS, Deployment
from darse.masking import Masker, masker_for_compose
from darse.model.service import Service

Progress = Callable[[str], None]
LOG_LINES = 20


@dataclass
class Source:
    """What to deploy: a Compose file in a folder, as of a revision."""

    service: Service  # the service in the working tree (name, secrets)
    project: str
    compose_path: Path
    revision: str
    dirty: bool
    action: str = "up"  # up, rollback, auto-rollback
    pin: dict[str, Any] = field(default_factory=dict)  # images recorded by an earlier deployment
    pending: Any = None  # a `docker compose config` started early (engine.compose.PendingConfig)
    extra_dirs: tuple[Path, ...] = ()  # for a release: the working tree's service folder it stands for

    @property
    def service_dir(self) -> Path:
        return self.compose_path.parent

    @cached_property
    def masker(self) -> Masker:
        """What hides this deployment's secret values: those of the deployed files and of the working
        tree's (a release of an old commit runs with the real secret files of today)."""
        return masker_for_compose(self.compose_path, *self.overrides, self.service.compose_path)

    @property
    def overrides(self) -> tuple[Path, ...]:
        """Override files beside the deployed Compose file, merged onto it as Compose does."""
        return self.service.overrides_beside(self.compose_path)


@dataclass
class FailedContainer:
    name: str
    state: str
    health: str
    logs: str


@dataclass
class Outcome:
    deployment: Deployment
    ok: bool
    unchanged: bool = False
    containers: list[ContainerState] = field(default_factory=list)
    failures: list[FailedContainer] = field(default_factory=list)
    compose_output: str = ""
    pinned: dict[str, str] = field(default_factory=dict)
    rollback: Outcome | None = None
    rollback_note: str = ""  # why no automatic rollback happened after a failure
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The `--json` form of one deployment attempt (and of the automatic rollback that followed it)."""
        return {
            "service": self.deployment.service,
            "project": self.deployment.project,
            "ok": self.ok,
            "unchanged": self.unchanged,
            "seconds": round(self.seconds, 3),
            "deployment": self.deployment.to_dict(),
            "pinned": self.pinned,
            "failures": [
                {"container": f.name, "state": f.state, "health": f.health, "logs": f.logs} for f in self.failures
            ],
            "rollback": self.rollback.to_dict() if self.rollback else None,
            "rollback_note": self.rollback_note,
        }

    def summary_lines(self, indent: str = "") -> list[str]:
        """What `darse up` prints of this attempt, plain text (the CLI colours the marks, the dashboard
        shows them as they are): the outcome, each failed container's last log lines, the rollback."""
        d = self.deployment
        healthy = sum(c.healthy for c in self.containers)
        where = f"{d.revision[:12]}{' (dirty)' if d.dirty else ''}"
        verbs = {"up": "deployed", "rollback": "rolled back to", "auto-rollback": "rolled back to"}
        verb = verbs.get(d.action, d.action)
        if self.ok:
            note = ", unchanged" if self.unchanged else ""
            pinned = f", pinned {len(self.pinned)} image(s)" if self.pinned else ""
            return [
                f"{indent}✔ {d.service}: {verb} {where} "
                f"({healthy}/{len(self.containers)} healthy{note}{pinned}) in {self.seconds:.1f} s"
            ]
        lines = [f"{indent}✘ {d.service}: {d.action} of {where} failed: {d.message}"]
        for failure in self.failures:
            health = f", {failure.health}" if failure.health else ""
            lines.append(f"{indent}  {failure.name} ({failure.state}{health}), last log lines:")
            lines += [f"{indent}    {line}" for line in failure.logs.splitlines()[-LOG_LINES:] or ["(no output)"]]
        if self.rollback is not None:
            lines += self.rollback.summary_lines(indent)
        elif self.rollback_note:
            lines.append(f"{indent}  not rolled back: {self.rollback_note}")
        return lines


def deploy(
    ctx: DeployContext,
    source: Source,
    timeout: float,
    auto_rollback: bool = True,
    progress: Progress | None = None,
    backup_first: bool = True,
) -> Outcome:
    """Deploy `source` and record it; on failure print nothing here (the CLI renders the Outcome).
    `backup_first`: take the backup darse.toml's policy asks for before the deployment (deploy/predeploy.py)."""
    say = progress or (lambda _text: None)
    started = time.perf_counter()
    engine = ctx.engine_for(source.service)
    runner = ComposeRunner(source.project, ctx.endpoint_of(source.service), source.masker.text)
    say("resolving the configuration")
    config = (
        source.pending.result() if source.pending is not None else runner.config(source.compose_path, source.overrides)
    )
    if source.extra_dirs:
        resolved.rebind_unversioned(config, source.service_dir, source.extra_dirs[0])
    service_dirs = (source.service_dir, *source.extra_dirs)
    digest = resolved.config_hash(config, service_dirs)
    masked = resolved.masked_text(config, service_dirs, source.masker)
    per_service = resolved.service_hashes(config, service_dirs)
    existing = engine.containers(project=source.project)
    labels, unchanged = _labels(source, digest, per_service, existing)
    declared = {name: svc.get("image", "") for name, svc in (config.get("services") or {}).items()}
    record = ctx.history.start(
        Deployment(
            project=source.project,
            service=source.service.name,
            repository=str(ctx.root),
            action=source.action,
            revision=source.revision,
            dirty=source.dirty,
            config_hash=digest,
            config_masked=masked,
        )
    )
    outcome = Outcome(record, ok=False, unchanged=unchanged)
    try:
        created = engine.ensure_networks(resolved.external_networks(config))
        if created:
            say(f"created network(s) {', '.join(created)}")
        if unchanged and _all_current(engine, existing, declared):
            say("unchanged and healthy; nothing to do")
            outcome.ok = True
            outcome.containers = existing
            record.images = _images(engine, existing, declared, per_service)
            ctx.history.finish(record, SUCCESS, "unchanged")
            outcome.seconds = time.perf_counter() - started
            return outcome
        if backup_first and wants_backup(
            ctx.repository.config.backup, source.action, engine, existing, declared, source.pin
        ):
            failure = backup_before_deploy(ctx.root, source.service.name, record.id, ctx.requested_by, say)
            if failure:
                ctx.history.finish(record, FAILED, failure)
                raise DarseError(
                    f"{source.service.name}: {failure}; nothing was deployed",
                    "fix it (darse backup plan, darse backup FOLDER) or deploy without it: darse up --no-backup",
                )
        to_run = resolved.with_labels(config, labels)
        if source.pin:
            outcome.pinned = resolved.pin_images(to_run, source.pin, engine.image_id)
        say(f"docker compose up (waiting up to {timeout:.0f} s for healthy containers)")
        result = runner.up(to_run, source.service_dir, timeout)
        if not result.ok and _attach_race(result.output):
            result = _up_again(engine, runner, to_run, source, timeout, say)
        outcome.compose_output = result.output
        after = engine.containers(project=source.project)
        outcome.containers = after
        record.images = _images(engine, after, declared, per_service)
        unstable: set[str] = set()
        if result.ok:
            result, unstable = _check_stable(engine, after, labels, result)
        if result.ok:
            outcome.ok = True
            ctx.history.finish(record, SUCCESS, "unchanged" if unchanged else "")
        else:
            if unstable:  # states changed since the list above (a crash loop): look again
                after = outcome.containers = engine.containers(project=source.project)
            outcome.failures = failed_containers(engine, after, unstable, source.masker.text)
            ctx.history.finish(record, FAILED, _first_error(result.output))
    except BaseException as exc:
        if record.outcome != SUCCESS and record.ended_at is None:
            ctx.history.finish(record, FAILED, f"interrupted: {type(exc).__name__}")
        raise
    outcome.seconds = time.perf_counter() - started
    if not outcome.ok:
        if not auto_rollback:
            outcome.rollback_note = "automatic rollback disabled"
        else:
            outcome.rollback = _auto_rollback(ctx, source, record, timeout, say)
            if outcome.rollback is None:
                outcome.rollback_note = "no earlier successful deployment to roll back to"
    return outcome


def _attach_race(output: str) -> bool:
    """Whether `compose up` failed because the engine was still tearing down its copy of a Swarm overlay
    network (the last task of a stack on this node just left it) when a container attached to it: the
    engine answers "network ID not found" for a network that exists. Seen on Docker 20.10 with several
    nodes; the container it made stays `created`, holding an address the retry must not ask for again."""
    return bool(re.search(r"network [0-9a-z]{25} not found", output))


def _up_again(
    engine: Engine,
    runner: ComposeRunner,
    to_run: dict[str, Any],
    source: Any,
    timeout: float,
    say: Callable[[str], None],
) -> Any:
    """The never-started containers of the failed attempt removed, `compose up` once more."""
    removed = engine.remove_never_started(engine.containers(project=source.project))
    say(f"the engine was releasing an overlay network; docker compose up again (removed {len(removed)} unstarted)")
    return runner.up(to_run, source.service_dir, timeout)


def failed_containers(
    engine: Engine, containers: list[ContainerState], unstable: set[str], mask: Callable[[str], str]
) -> list[FailedContainer]:
    """The containers a failed deployment reports: not running, unhealthy, or restarted since created
    (`unstable`), each with its last log lines (masked: a program may print what it read)."""
    return [
        FailedContainer(c.name, c.state, c.health, mask(engine.last_logs(c.id)))
        for c in containers
        if not c.healthy or c.id in unstable
    ]


def _all_current(engine: Engine, existing: list[ContainerState], declared: dict[str, str]) -> bool:
    """Whether `compose up` would change nothing: one container per service, each running and healthy,
    each on the image its tag names now (a re-pulled or rebuilt tag makes Compose recreate it). Then
    darse skips `compose up` altogether, the common case of an `up --all` on a host already in sync."""
    by_service: dict[str, list[ContainerState]] = {}
    for container in existing:
        by_service.setdefault(container.compose_service, []).append(container)
    if set(by_service) != set(declared) or any(len(group) != 1 for group in by_service.values()):
        return False
    for name, (container,) in by_service.items():
        if not container.healthy or not declared[name] or engine.image_id(declared[name]) != container.image_id:
            return False
    return True


def _auto_rollback(
    ctx: DeployContext, failed: Source, record: Deployment, timeout: float, say: Progress
) -> Outcome | None:
    from darse.deploy.rollback import source_for

    previous = ctx.history.last_success(failed.project)
    if previous is None:
        return None
    say(f"rolling back to {previous.revision[:12]}")
    source = source_for(ctx, failed.service, previous, action="auto-rollback")
    return deploy(ctx, source, timeout, auto_rollback=False, progress=say)


def _check_stable(engine: Engine, after: list[ContainerState], labels: dict[str, dict[str, str]], result):
    """`compose up --wait` accepts a container without a healthcheck as soon as it runs, even one in a
    crash loop under a restart policy: a container this deployment created must still be running and
    never restarted. (A healthcheck is the reliable signal; this catches what exits at once.)"""
    from darse.engine.compose import ComposeResult

    fresh = [c.id for c in after if c.labels.get(TIME_LABEL) == labels.get(c.compose_service, {}).get(TIME_LABEL, "?")]
    bad = set(engine.restarted(fresh))
    stopped = [c for c in after if c.id in bad]
    missing = set(labels) - {c.compose_service for c in after}
    if not stopped and not missing:
        return result, bad
    names = [f"container {c.name} exited or restarted" for c in stopped] + [
        f"service {m} has no container" for m in missing
    ]
    return ComposeResult(1, result.output + "\n" + "\n".join(names)), bad


def _labels(
    source: Source, digest: str, per_service: dict[str, str], existing: list[ContainerState]
) -> tuple[dict[str, dict[str, str]], bool]:
    """The `org.darse.*` labels of each Compose service, and whether nothing changes at all.

    A service whose own configuration is unchanged keeps the labels of the deployment that created its
    container, so Compose leaves that container alone (labels are part of a container's configuration:
    new ones would recreate it)."""
    fresh = {
        COMMIT_LABEL: source.revision,
        DIRTY_LABEL: "true" if source.dirty else "false",
        TIME_LABEL: _now(),
        HASH_LABEL: digest,
        SERVICE_LABEL: source.service.name,
    }
    current = {c.compose_service: c.labels for c in existing}
    labels: dict[str, dict[str, str]] = {}
    kept = 0
    for name, service_hash in per_service.items():
        old = current.get(name, {})
        if old.get(SERVICE_HASH_LABEL) == service_hash and old.get(SERVICE_LABEL) == source.service.name:
            labels[name] = {key: old.get(key, "") for key in (*fresh, SERVICE_HASH_LABEL)}
            kept += 1
        else:
            labels[name] = {**fresh, SERVICE_HASH_LABEL: service_hash}
    unchanged = kept == len(per_service) and set(current) == set(per_service) and not source.pin
    return labels, unchanged


def _images(
    engine, containers: list[ContainerState], declared: dict[str, str], per_service: dict[str, str]
) -> dict[str, Any]:
    """`compose service -> {image (as declared), id, digests, config}` of what actually runs; `config`
    is the service's own configuration hash (compared with the containers' labels by `darse status`)."""
    facts = engine.image_facts([c.image_id for c in containers if c.image_id])
    out: dict[str, Any] = {}
    for container in containers:
        name = container.compose_service
        if name in out or not container.image_id:
            continue
        out[name] = {
            "image": declared.get(name, container.image),
            "id": container.image_id,
            "digests": facts.get(container.image_id, []),
            "config": per_service.get(name, ""),
        }
    return out


def _first_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        lowered = line.lower()
        if "error" in lowered or "exited" in lowered or "unhealthy" in lowered or "timeout" in lowered:
            return line[:300]
    return (lines[-1] if lines else "docker compose up failed")[:300]


def _now() -> str:
    from darse.history import now

    return now()
