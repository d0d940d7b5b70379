"""`darse restore FOLDER --verify`: a backup restored into a throwaway copy of the folder, to prove it restores.

A restore that has never been tried is not a backup. This one is tried where it cannot hurt: a Compose
project of its own (`darse-verify-<folder>-<random>`, darse.backup.throwaway: the same images, fresh
volumes, no published port, no container name, no Traefik label, internal networks only). In order:

1. find: the backup run to verify (every snapshot of one `darse backup` of the folder);
2. create: the throwaway project's containers, volumes and networks, nothing started;
3. volumes: each copied volume of the run restored into its fresh volume;
4. dumps: each database started alone on its fresh data volume and its dump loaded;
5. health: everything started, waited running and healthy (bounded);
6. check: darse.toml's `check` command, if the folder has one, run in its container (exit 0: passed);
7. cleanup: `down -v` of the project, then a sweep of anything with its label, always (after a
   failure or a Ctrl-C too).

A step that fails ends the verify (cleanup still runs) and the report names it. Production is only
read from: its containers, volumes and published ports are never used. The result is recorded in the
history (action `verify`). The check's output is masked with the folder's secret values and bounded.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from darse.backup.load import fill_volume, load_dump
from darse.backup.plan import COPY, FolderPlan, folder_plan
from darse.backup.restore import find_run
from darse.backup.run import open_restic
from darse.backup.throwaway import folder_prefix, throwaway_config, throwaway_name
from darse.engine.backup import stream_command
from darse.engine.compose import ComposeRunner, Endpoint
from darse.engine.connect import connect
from darse.engine.docker import Engine
from darse.engine.throwaway import ThrowawayProject, deferred_interrupt, sweep
from darse.errors import DarseError
from darse.history import FAILED, STOPPED, SUCCESS, VERIFY, BackupRecord, History
from darse.masking import Masker, masker_for_compose
from darse.model.repository import repository_around
from darse.restic import Restic, Snapshot
from darse.secretlike import is_secret_name
from darse.state import project_lock, state_dir

HEALTH_TIMEOUT = 300.0  # seconds for the throwaway project to be running and healthy
READY_TIMEOUT = 120.0  # seconds for a database to accept connections before its dump loads
CHECK_STALL = 300.0  # seconds the check may stay silent before it is stopped
CHECK_TIMEOUT = 900.0  # seconds the check may run while it writes
CHECK_OUTPUT = 4096  # bytes of the check's output kept (the end of it)
LOG_LINES = 10  # last log lines of each container that failed its start
Say = Callable[[str], None]

FIND, CREATE, VOLUMES, DUMPS, HEALTH, CHECK, CLEANUP = (
    "find",
    "create",
    "volumes",
    "dumps",
    "health",
    "check",
    "cleanup",
)


@dataclass
class VerifyStep:
    """One step of a verify: whether it passed, and what it did or why it failed (masked, one line or a
    few: a failed start quotes the last log lines of its containers)."""

    name: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.name, "ok": self.ok, "detail": self.detail, "seconds": round(self.seconds, 3)}


@dataclass
class VerifyReport:
    """What `darse restore FOLDER --verify` did. `ok` once every step passed (cleanup included)."""

    folder: str
    project: str  # the throwaway project's name
    run: str = ""  # the backup run verified (tag darse.run)
    commit: str = ""  # the commit the backup's containers were deployed from
    snapshots: list[dict[str, str]] = field(default_factory=list)  # {"kind", "item", "snapshot"}
    steps: list[VerifyStep] = field(default_factory=list)
    checked: bool = False  # darse.toml defines a check and it ran
    check_output: str = ""  # its output's end, masked
    leftovers: dict[str, list[str]] = field(default_factory=dict)  # what the cleanup could not remove
    seconds: float = 0.0
    record: int | None = None  # the history record's id

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    @property
    def failed_step(self) -> str:
        return next((step.name for step in self.steps if not step.ok), "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "folder": self.folder,
            "project": self.project,
            "ok": self.ok,
            "failed_step": self.failed_step or None,
            "run": self.run or None,
            "commit": self.commit or None,
            "snapshots": list(self.snapshots),
            "steps": [step.to_dict() for step in self.steps],
            "checked": self.checked,
            "check_output": self.check_output,
            "leftovers": self.leftovers,
            "seconds": round(self.seconds, 3),
            "history_record": self.record,
        }


def _summary(report: VerifyReport) -> str:
    """The history's message: the failed step and the first line of why ("" when it passed)."""
    failed = next((step for step in report.steps if not step.ok), None)
    if failed is None:
        return ""
    return f"{failed.name}: {(failed.detail.splitlines() or ['failed'])[0][:300]}"


class _StepFailed(Exception):
    """Ends the steps: the report holds the failed step already."""


def verify_backup(
    start: Path,
    folder: str,
    *,
    snapshot: str | None = None,
    say: Say | None = None,
    requested_by: str | None = None,
    health_timeout: float = HEALTH_TIMEOUT,
) -> VerifyReport:
    """Restore a backup of `folder` (the newest complete one, or the one holding `snapshot`) into a
    throwaway project, start it, wait for it to be healthy, run darse.toml's check, remove it all,
    record the outcome. A user's mistake (no such folder, no backup) is a DarseError; a backup that
    does not restore is a report whose `ok` is False."""
    say = say or (lambda _line: None)
    repo = repository_around(start)
    service = repo.service(folder.rstrip("/"))
    plan = folder_plan(service, repo.config)
    if not plan.in_scope:
        raise DarseError(f"{plan.folder}: {plan.note}", "darse backup plan shows what darse backs up")
    if plan.errors:
        raise DarseError(f"{plan.folder}: {plan.errors[0]}", "darse backup plan shows the plan; fix darse.toml")
    restic = open_restic(start)
    restic.version()
    found = find_run(restic, plan.folder, snapshot=snapshot)
    run, snapshots = found.run, sorted(found.items.values(), key=lambda s: s.time)
    project = throwaway_name(plan.folder)
    report = VerifyReport(plan.folder, project, run=run, commit=snapshots[0].tags.get("darse.commit", ""))
    report.snapshots = [
        {"kind": s.tags.get("darse.kind", ""), "item": s.tags.get("darse.item", ""), "snapshot": s.id}
        for s in snapshots
    ]
    state = state_dir(repo.config, repo.root)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(project_lock(state, folder_prefix(plan.folder).rstrip("-")))
        except DarseError:
            raise DarseError(
                f"another verify of {plan.folder} runs on this host", "wait for it to end, then try again"
            ) from None
        engine = connect(Endpoint.of(repo.config.target_for(service.name)))
        stack.callback(engine.close)
        history = History(state, requested_by)
        stack.callback(history.close)
        record = history.start_backup(
            BackupRecord(
                project=plan.project,
                service=plan.folder,
                action=VERIFY,
                revision=report.commit,
                images={
                    key.removeprefix("darse.image."): value
                    for key, value in snapshots[0].tags.items()
                    if key.startswith("darse.image.")
                },
                snapshots=report.snapshots,
                darse_version=metadata.version("darse"),
            )
        )
        report.record = record.id
        outcome, message = STOPPED, "interrupted"
        files = (service.deploy_file, *service.overrides_beside(service.deploy_file))
        try:
            _verify(engine, restic, plan, files, snapshots, report, say, health_timeout)
            outcome = SUCCESS if report.ok else FAILED
            message = _summary(report)
        except DarseError as exc:
            outcome, message = FAILED, exc.message
            raise
        finally:
            report.seconds = time.monotonic() - started
            history.finish_backup(record, outcome, message)
    return report


def _verify(
    engine: Engine,
    restic: Restic,
    plan: FolderPlan,
    files: tuple[Path, ...],
    snapshots: list[Snapshot],
    report: VerifyReport,
    say: Say,
    health_timeout: float,
) -> None:
    """The steps from `create` on, then the cleanup whatever happened. `files`: the deployed Compose
    file and its overrides."""
    masker = masker_for_compose(*files)
    mask = masker.text
    sweep(engine, folder_prefix(plan.folder))  # what an earlier verify killed outright left behind
    volumes = {s.tags.get("darse.item", ""): s for s in snapshots if s.tags.get("darse.kind") == "volume"}
    dumps = {s.tags.get("darse.item", ""): s for s in snapshots if s.tags.get("darse.kind") == "dump"}
    throwaway: ThrowawayProject | None = None
    try:
        with _step(report, CREATE, say, f"{plan.folder}: creating {report.project}") as step:
            runner = ComposeRunner(report.project, engine.endpoint, mask)
            resolved = runner.config(files[0], files[1:])
            _add_secrets(masker, resolved)
            images = _images(engine, plan, resolved, snapshots[0].tags)
            config = throwaway_config(resolved, report.project, images=images, nocopy=set(volumes))
            throwaway = ThrowawayProject(report.project, config, files[0].parent, engine.endpoint, mask)
            created = throwaway.create()
            if not created.ok:
                step.fail(f"docker compose create failed: {created.last_line()}")
            step.detail = f"{len(config['services'])} service(s), {len(config.get('volumes') or {})} fresh volume(s)"
        _steps(engine, restic, plan, throwaway, volumes, dumps, report, say, health_timeout, mask)
    except _StepFailed:
        pass
    finally:
        _cleanup(engine, throwaway, plan, report, say)


def _steps(
    engine: Engine,
    restic: Restic,
    plan: FolderPlan,
    throwaway: ThrowawayProject,
    volumes: dict[str, Snapshot],
    dumps: dict[str, Snapshot],
    report: VerifyReport,
    say: Say,
    health_timeout: float,
    mask: Callable[[str], str],
) -> None:
    config = throwaway.config
    project = report.project

    with _step(report, VOLUMES, say, f"{plan.folder}: restoring volumes") as step:
        wanted = [v for v in plan.volumes if v.action == COPY]
        missing = [v.key for v in wanted if v.key not in volumes]
        if missing:
            step.fail(f"the backup holds no copy of volume(s) {', '.join(missing)}: it cannot restore them")
        restored = []
        for key, snapshot in volumes.items():
            if key not in (config.get("volumes") or {}):
                restored.append(f"{key} (no longer in the Compose file: skipped)")
                continue
            say(f"{plan.folder}: volume {key} from snapshot {snapshot.short_id}")
            size = fill_volume(engine, restic, snapshot, f"{project}_{key}", image=_any_image(config))
            restored.append(f"{key} ({size} bytes)")
        step.detail = ", ".join(restored) or "no volume copied in this backup"

    with _step(report, DUMPS, say, f"{plan.folder}: loading dumps") as step:
        loaded = []
        for dump in plan.dumps:
            snapshot = dumps.get(dump.service)
            if snapshot is None:
                step.fail(f"the backup holds no dump of {dump.service}: it cannot restore its database")
            started = throwaway.start([dump.service])
            if not started.ok:
                step.fail(f"{dump.service} did not start: {started.last_line()}")
            container = _container(engine, project, dump.service)
            say(f"{plan.folder}: dump of {dump.service} ({dump.kind}) from snapshot {snapshot.short_id}")
            size = load_dump(engine, restic, snapshot, container, dump.kind, ready_timeout=READY_TIMEOUT)
            loaded.append(f"{dump.service} ({size} bytes)")
        step.detail = ", ".join(loaded) or "no database to load"

    with _step(report, HEALTH, say, f"{plan.folder}: starting {project} and waiting for it to be healthy") as step:
        up = throwaway.up(health_timeout)
        if not up.ok:
            step.fail(_unhealthy(engine, project, up.last_line(), mask))
        states = engine.containers(project=project)
        step.detail = f"{sum(c.healthy for c in states)}/{len(states)} container(s) running and healthy"

    with _step(report, CHECK, say, f"{plan.folder}: running the check") as step:
        if plan.check is None:
            step.detail = f'no check defined: add check to [backup.services."{plan.folder}"] in darse.toml'
            return
        container = _container(engine, project, plan.check.service)
        output = _Tail(CHECK_OUTPUT, time.monotonic() + CHECK_TIMEOUT)
        result = stream_command(engine, container, plan.check.command, output.write, stall=CHECK_STALL)
        report.checked = True
        said = output.text() + ("\n" if output.text() and not output.text().endswith("\n") else "")
        said += result.stderr_tail.decode("utf-8", "replace")
        report.check_output = mask(said[-CHECK_OUTPUT:])
        if not result.ok:
            last = mask(result.last_error_line()) or "no error output"
            step.fail(f"the check in {plan.check.service} exited with {result.exit_code}: {last}")
        step.detail = f"the check in {plan.check.service} passed"


class _Step:
    def __init__(self, step: VerifyStep) -> None:
        self.step = step

    @property
    def detail(self) -> str:
        return self.step.detail

    @detail.setter
    def detail(self, value: str) -> None:
        self.step.detail = value

    def fail(self, detail: str) -> None:
        self.step.ok, self.step.detail = False, detail
        raise _StepFailed


@contextlib.contextmanager
def _step(report: VerifyReport, name: str, say: Say, announce: str):  # type: ignore[no-untyped-def]
    """One step in the report: a DarseError inside it (restic, the engine, a load) fails it."""
    say(announce)
    step = VerifyStep(name, True)
    report.steps.append(step)
    started = time.monotonic()
    try:
        yield _Step(step)
    except DarseError as exc:
        step.ok, step.detail = False, exc.message
        raise _StepFailed from None
    except BaseException:
        if step.ok:
            step.ok, step.detail = False, "interrupted"
        raise
    finally:
        step.seconds = time.monotonic() - started


def _cleanup(
    engine: Engine, throwaway: ThrowawayProject | None, plan: FolderPlan, report: VerifyReport, say: Say
) -> None:
    """`down -v`, then the sweep of whatever carries the project's label: always, whatever happened."""
    say(f"{plan.folder}: removing {report.project}")
    step = VerifyStep(CLEANUP, True)
    report.steps.append(step)
    started = time.monotonic()
    try:
        with deferred_interrupt():
            down_ok = throwaway.down().ok if throwaway is not None else True
            remaining = sweep(engine, report.project)
    except DarseError as exc:
        step.ok, step.detail = False, exc.message
        return
    finally:
        step.seconds = time.monotonic() - started
    report.leftovers = remaining.to_dict() if remaining else {}
    if remaining:
        step.ok = False
        step.detail = f"left on the engine: {', '.join(remaining.containers + remaining.volumes + remaining.networks)}"
    else:
        step.detail = "every container, volume and network removed" + ("" if down_ok else " (by the sweep)")


def _add_secrets(masker: Masker, resolved: dict[str, Any]) -> None:
    """The values of the secret-named variables as the containers get them (Compose's interpolation
    done: `$$` in the file is `$` in the value), which the file's own text does not spell the same way."""
    for service in (resolved.get("services") or {}).values():
        environment = service.get("environment") if isinstance(service, dict) else None
        for key, value in (environment or {}).items() if isinstance(environment, dict) else ():
            if isinstance(value, str) and is_secret_name(str(key)):
                masker.add(str(key), value)


def _images(engine: Engine, plan: FolderPlan, resolved: dict[str, Any], tags: dict[str, str]) -> dict[str, str]:
    """The image each service runs: the one the backup was taken with when the engine still has it (the
    data and the code that wrote it go together), else the one production runs now, else the
    configuration's."""
    running = {c.compose_service: c.image_id for c in engine.containers(project=plan.project) if c.image_id}
    chosen: dict[str, str] = {}
    for name in resolved.get("services") or {}:
        recorded = tags.get(f"darse.image.{name}", "")
        if recorded and engine.image_id("sha256:" + recorded.removeprefix("sha256:")):
            chosen[name] = "sha256:" + recorded.removeprefix("sha256:")
        elif name in running:
            chosen[name] = running[name]
    return chosen


def _any_image(config: dict[str, Any]) -> str:
    """An image the engine has, for a helper container that is never started."""
    return next(str(s["image"]) for s in config["services"].values())


def _container(engine: Engine, project: str, service: str) -> str:
    found = [c for c in engine.containers(project=project) if c.compose_service == service]
    if not found:
        raise DarseError(f"no container of {service} in {project}", "darse restore --verify creates one; a bug")
    return found[0].id


def _unhealthy(engine: Engine, project: str, compose_said: str, mask: Callable[[str], str]) -> str:
    """Why the start failed: compose's last words, then each container not running and healthy with
    the last lines of its log (masked: a program may print what it read)."""
    lines = [f"the copy did not become healthy: {compose_said or 'docker compose up failed'}"]
    for container in engine.containers(project=project):
        if container.healthy:
            continue
        health = f", {container.health}" if container.health else ""
        lines.append(f"{container.compose_service} ({container.state}{health}), last log lines:")
        logs = mask(engine.last_logs(container.id, LOG_LINES)).splitlines()[-LOG_LINES:]
        lines += [f"  {line[:300]}" for line in logs] or ["  (no output)"]
    return "\n".join(lines)


class _Tail:
    """The last `limit` bytes written; past `deadline` (time.monotonic), writing fails and the command
    writing is ended (stream_command ends it when its `write` raises)."""

    def __init__(self, limit: int, deadline: float) -> None:
        self.limit = limit
        self.deadline = deadline
        self.data = bytearray()

    def write(self, chunk: bytes) -> None:
        self.data.extend(chunk)
        del self.data[: -self.limit]
        if time.monotonic() > self.deadline:
            raise DarseError(f"the check ran longer than {CHECK_TIMEOUT:g} s: stopped", "make it quicker")

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")
