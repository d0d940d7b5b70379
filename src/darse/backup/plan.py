"""`darse backup plan`: what a backup of each service folder takes, known from the repository alone.

Every named volume a Compose service mounts is copied as files, under the name Compose gives it
(`<project>_<key>`, its `name:`, or an external volume's own name), except the volumes darse.toml
excludes and the data volumes of databases: a database's files copied while it runs are not a
consistent copy, so its native dump, run in its own container, replaces them (darse.backup.dumps).
darse.toml's `[backup.services."FOLDER"]` adds what cannot be inferred: stop the services during the
copy, commands before and after, a check for `darse restore --verify`, a dump chosen by hand.

Nothing here talks to the engine or reads a password: the plan is the same on every host.
Swarm targets are out of scope (their volumes live on whichever node runs a task): their entries say so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darse.backup.dumps import KINDS, data_dirs, dump_command, holds_data_of, kind_of_image
from darse.config import BackupCommand, BackupServiceSettings, BackupSettings, RepoConfig
from darse.errors import DarseError, did_you_mean
from darse.model.compose import ComposeFile, env_files, environment, is_true, mounts
from darse.model.dotenv import read_env_file
from darse.model.repository import Repository, repository_around
from darse.model.service import Service, env_file_path, project_name
from darse.model.yamlnode import YNode

COPY = "copy"  # the volume's files go into the snapshot
DUMP = "dump"  # a database's data volume: its dump is taken instead
EXCLUDED = "excluded"  # darse.toml excludes it: the admin decided
NOT_COVERED = "not-covered"  # on a Swarm target, or its folder deploys no Compose file: no backup takes it

MAX_USER = 128  # a user name longer than this is no user name: shown cut
SWARM_NOTE = "Swarm services are out of scope: darse backup covers services on Compose targets"


@dataclass(frozen=True)
class VolumePlan:
    """One named volume of a folder and what a backup does with it."""

    key: str  # as the Compose file names it (`db-data`)
    name: str  # as the engine names it (`wiki_db-data`, its `name:`, an external volume's name)
    external: bool
    services: tuple[str, ...]  # the Compose services mounting it
    action: str  # COPY, DUMP, EXCLUDED or NOT_COVERED
    dumped_by: str = ""  # for DUMP: the Compose service whose dump replaces it
    live_database: str = ""  # for COPY: a recognised database copying its files while it runs (no dump, no stop)
    node: YNode | None = field(default=None, compare=False, repr=False)  # its first mount, for lint positions

    @property
    def covered(self) -> bool:
        return self.action in (COPY, DUMP, EXCLUDED) and not self.live_database

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "external": self.external,
            "services": list(self.services),
            "action": self.action,
            "dumped_by": self.dumped_by or None,
            "live_database": self.live_database or None,
        }


@dataclass(frozen=True)
class DumpPlan:
    """A database's dump: `command` runs in the Compose service's container (`docker compose exec -T`)
    and writes the dump on standard output. It names environment variables; it holds no value."""

    service: str
    kind: str
    image: str
    detected: bool  # from the image (False: chosen in darse.toml)
    user: str  # who the dump connects as, as far as the Compose file tells ("" for none)
    command: tuple[str, ...]
    replaces: tuple[str, ...]  # engine names of the volumes not copied as files
    file: str  # its name in the snapshot

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "kind": self.kind,
            "tool": KINDS[self.kind].tool,
            "image": self.image,
            "detected": self.detected,
            "user": self.user,
            "command": list(self.command),
            "replaces": list(self.replaces),
            "file": self.file,
        }


def _command_dict(command: BackupCommand | None) -> dict[str, Any] | None:
    return None if command is None else {"service": command.service, "command": list(command.command)}


@dataclass
class FolderPlan:
    """What a backup of one service folder takes, in the order it runs: `pre` commands, dumps, the
    services stopped when `stop`, volumes copied, services started again, `post` commands."""

    folder: str
    project: str
    target: str
    in_scope: bool = True
    note: str = ""
    compose_file: str = ""
    stop: bool = False
    volumes: list[VolumePlan] = field(default_factory=list)
    dumps: list[DumpPlan] = field(default_factory=list)
    pre: tuple[BackupCommand, ...] = ()
    post: tuple[BackupCommand, ...] = ()
    check: BackupCommand | None = None
    bind_mounts: list[str] = field(default_factory=list)  # host folders: not darse's to back up
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # darse.toml naming what the folder does not have

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "project": self.project,
            "target": self.target,
            "in_scope": self.in_scope,
            "note": self.note or None,
            "compose_file": self.compose_file or None,
            "stop": self.stop,
            "volumes": [v.to_dict() for v in self.volumes],
            "dumps": [d.to_dict() for d in self.dumps],
            "pre": [_command_dict(c) for c in self.pre],
            "post": [_command_dict(c) for c in self.post],
            "check": _command_dict(self.check),
            "bind_mounts": list(self.bind_mounts),
            "warnings": list(self.warnings),
        }


@dataclass
class BackupPlan:
    """The plan of a repository (or of the folders asked for). `repository` is already masked."""

    root: Path
    configured: bool
    repository: str
    password_file: str
    keep: dict[str, int]
    before_deploy: str
    services: list[FolderPlan] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "root": str(self.root),
            "configured": self.configured,
            "repository": self.repository or None,
            "password_file": self.password_file or None,
            "keep": dict(self.keep),
            "before_deploy": self.before_deploy,
            "services": [s.to_dict() for s in self.services],
        }


# --- the plan of a repository -----------------------------------------------------------------------


def backup_plan(start: Path, services: list[str] | None = None) -> BackupPlan:
    """The plan of every service folder of the repository around `start`, or of `services` (folder names)."""
    repo = repository_around(start)
    settings = repo.config.backup
    _check_folders(repo, settings)
    chosen = [repo.service(name) for name in dict.fromkeys(services)] if services else repo.services
    plans = []
    for service in chosen:
        plan = folder_plan(service, repo.config)
        if plan.errors:
            raise DarseError(plan.errors[0], f'fix [backup.services."{service.name}"] in darse.toml (docs/backup.md)')
        plans.append(plan)
    return BackupPlan(
        root=repo.root,
        configured=settings.configured,
        repository=settings.shown_repository,
        password_file=str(password_file(repo)) if settings.password_file else "",
        keep=dict(settings.keep),
        before_deploy=settings.before_deploy,
        services=plans,
    )


def _check_folders(repo: Repository, settings: BackupSettings) -> None:
    """A `[backup.services."FOLDER"]` table must name a service folder: a typo would silently back up
    what the admin meant to exclude."""
    names = [s.name for s in repo.services]
    for folder in settings.services:
        if folder not in names:
            hint = did_you_mean(folder, names) or "name a service folder, relative to the repository root"
            raise DarseError(f'darse.toml [backup.services."{folder[:60]}"]: no service folder {folder[:60]!r}', hint)


def password_file(repo: Repository) -> Path:
    """Where restic's password file is: `password_file` as given (`~` expanded), relative to the
    repository root. Refused inside the checkout unless Git ignores it: committed, it would open every
    snapshot to whoever reads the repository (which may be public)."""
    given = repo.config.backup.password_file
    if not given:
        raise DarseError("darse.toml [backup] has no password_file", 'add password_file = "/etc/darse/restic.password"')
    path = Path(os.path.normpath(repo.root / Path(given).expanduser()))  # an absolute path stays as it is
    if path.is_relative_to(repo.root) and repo.git.is_repository:
        relative = path.relative_to(repo.root).as_posix()
        if relative in repo.git.tracked:
            raise DarseError(
                f"darse.toml [backup] password_file {relative} is committed to Git",
                "move it outside the repository (e.g. /etc/darse/restic.password), git rm --cached it, "
                "and change the restic password: the old one is in the history",
            )
        if relative == "." or relative not in repo.ignored_among([relative]):
            raise DarseError(
                f"darse.toml [backup] password_file {relative} is inside the Git checkout and not ignored",
                "keep it outside the repository (e.g. /etc/darse/restic.password), or add it to .gitignore",
            )
    return path


# --- the plan of one folder -------------------------------------------------------------------------


def folder_plan(service: Service, config: RepoConfig) -> FolderPlan:
    """The plan of one service folder from its deployed Compose file (with its overrides)."""
    target = config.target_for(service.name)
    plan = FolderPlan(service.name, project_name(service.name), target.name)
    settings = config.backup.for_folder(service.name)
    if service.deploy_path is None:
        plan.in_scope = False
        plan.note = "no Compose file to deploy (variants only): name one with compose_file in darse.toml"
        return plan
    deployed = next(unit for unit in service.units if unit.path == service.deploy_path)
    compose = service.view(deployed).compose
    plan.compose_file = compose.path.name
    if not compose.readable:
        plan.in_scope = False
        plan.note = f"{compose.path.name} cannot be read: darse lint {service.name} says why"
        return plan
    if target.is_swarm:
        plan.in_scope = False
        plan.note = f"target {target.name} is a Swarm. {SWARM_NOTE}"
    fill_plan(plan, compose, settings)
    if not plan.in_scope:
        plan.dumps = []  # nothing runs there
    return plan


def fill_plan(plan: FolderPlan, compose: ComposeFile, settings: BackupServiceSettings) -> None:
    """Volumes, dumps and commands of one Compose configuration (also what lint's BK001 reads)."""
    plan.stop, plan.pre, plan.post, plan.check = settings.stop, settings.pre, settings.post, settings.check
    nodes = dict(compose.services())
    for command in (*settings.pre, *settings.post, *([settings.check] if settings.check else [])):
        _known_service(plan, nodes, command.service, "command")
    overrides = {dump.service: dump.kind for dump in settings.dumps}
    for name in overrides:
        _known_service(plan, nodes, name, "dump")
    declared = compose.section("volumes")
    found: dict[str, VolumePlan] = {}
    mounted_by: dict[str, list[str]] = {}
    dumped: dict[str, str] = {}
    live: dict[str, str] = {}
    for name, node in nodes.items():
        env = _environment(compose, node)
        detected = kind_of_image(_text(node.get("image")))
        kind = overrides.get(name, detected)
        dirs = data_dirs(kind, env) if kind and kind != "none" else ()
        recognised = data_dirs(detected, env) if detected else ()
        replaced = []
        for mount in mounts(node):
            if mount.kind == "bind":
                if mount.source not in plan.bind_mounts:
                    plan.bind_mounts.append(mount.source)
                continue
            if mount.kind != "volume" or not mount.source:
                continue
            key = mount.source
            if key not in found:
                volume_name, external = _engine_name(plan.project, key, declared)
                if declared is None or declared.get(key) is None:
                    plan.warnings.append(f"service {name} mounts volume {key}, which the Compose file does not declare")
                found[key] = VolumePlan(key, volume_name, external, (), COPY, node=mount.node)
            mounted_by.setdefault(key, []).append(name)
            if holds_data_of(mount.target, dirs):
                dumped.setdefault(key, name)
                replaced.append(found[key].name)
            elif holds_data_of(mount.target, recognised) and not settings.stop:
                live.setdefault(key, name)  # a recognised database whose dump darse.toml turned off
        if kind and kind != "none":
            plan.dumps.append(
                DumpPlan(
                    service=name,
                    kind=kind,
                    image=_text(node.get("image")),
                    detected=name not in overrides,
                    user=_user(kind, env),
                    command=dump_command(kind),
                    replaces=tuple(dict.fromkeys(replaced)),
                    file=f"{name}.{KINDS[kind].suffix}",
                )
            )
    excluded = set(settings.exclude)
    matched: set[str] = set()
    for key, volume in found.items():
        hit = {key, volume.name} & excluded
        matched |= hit
        if hit:
            action, by, unsafe = EXCLUDED, "", ""
        elif not plan.in_scope:
            action, by, unsafe = NOT_COVERED, "", ""
        elif key in dumped:
            action, by, unsafe = DUMP, dumped[key], ""
        else:
            action, by, unsafe = COPY, "", live.get(key, "")
        plan.volumes.append(
            VolumePlan(
                key,
                volume.name,
                volume.external,
                tuple(dict.fromkeys(mounted_by[key])),
                action,
                by,
                unsafe,
                volume.node,
            )
        )
        if unsafe:
            plan.warnings.append(
                f"volume {volume.name} holds the files of database service {unsafe}, copied while it runs "
                "(dump kind none, stop false): set stop = true, or let darse dump it"
            )
    for name in sorted(excluded - matched):
        known = [n for v in found.values() for n in (v.key, v.name)]
        plan.errors.append(
            f'darse.toml [backup.services."{plan.folder}"] excludes {name[:60]!r}, which no service of '
            f"{plan.compose_file or plan.folder} mounts" + (f" ({did_you_mean(name, known)})" if known else "")
        )


def _known_service(plan: FolderPlan, nodes: dict[str, YNode], name: str, what: str) -> None:
    if name not in nodes:
        hint = did_you_mean(name, nodes) or f"its services: {', '.join(nodes) or 'none'}"
        plan.errors.append(
            f'darse.toml [backup.services."{plan.folder}"]: {what} names Compose service {name!r}, '
            f"which {plan.compose_file} does not define ({hint})"
        )


def _engine_name(project: str, key: str, declared: YNode | None) -> tuple[str, bool]:
    """(the engine's name of volume `key`, whether it is external), as Compose names it."""
    node = declared.get(key) if declared is not None else None
    if node is None or not node.is_map:
        return f"{project}_{key}", False
    given = _text(node.get("name"))
    external = node.get("external")
    if external is not None and external.is_map:  # the legacy `external: {name: ...}`
        return _text(external.get("name")) or given or key, True
    if is_true(external):
        return given or key, True
    return given or f"{project}_{key}", False


# Variables read for the plan, and only these: a user name and a data folder, never a password.
_PLAN_KEYS = ("POSTGRES_USER", "POSTGRES_USER_FILE", "PGDATA", "MONGO_INITDB_ROOT_USERNAME")


def _environment(compose: ComposeFile, node: YNode) -> dict[str, str]:
    """The service's values of `_PLAN_KEYS`: its env_files, then `environment:` (which wins in Compose)."""
    out: dict[str, str] = {}
    for ref in env_files(node):
        path = env_file_path(compose.path, ref.path)
        if path is not None:
            values = read_env_file(path)
            out.update({key: values[key] for key in _PLAN_KEYS if key in values})
    for key, value in environment(node).items():
        if key in _PLAN_KEYS and value.text() is not None:
            out[key] = value.text() or ""
    return out


def _user(kind: str, env: dict[str, str]) -> str:
    if kind == "postgres" and env.get("POSTGRES_USER_FILE"):
        return "the user in $POSTGRES_USER_FILE"
    for key in KINDS[kind].user_keys:
        if env.get(key):
            return env[key][:MAX_USER]
    return KINDS[kind].default_user  # "": the dump connects without a user (Redis, MongoDB without auth)


def _text(node: YNode | None) -> str:
    return (node.text() or "") if node is not None else ""
