"""`darse.toml`: the repository's own choices, read once and validated strictly.

An unknown key is an error rather than silently ignored, so a typo never turns a rule off unnoticed.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darse.errors import DarseError

CONFIG_NAME = "darse.toml"
MAX_CONFIG_BYTES = 1024 * 1024
_TOP_KEYS = {
    "proxy_network",
    "domain",
    "registry",
    "skip",
    "lint",
    "state_dir",
    "target",
    "targets",
    "services",
    "inspect",
    "certs",
    "backup",
    "tunnels",
}
_LINT_KEYS = {"fail_on", "disable", "severity", "per_path"}
_PER_PATH_KEYS = {"paths", "disable", "severity"}
_TARGET_KEYS = {"kind", "context", "host"}
_CONTEXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}")  # the docker CLI's own rule for context names
_SERVICE_KEYS = {"target", "compose_file"}
_CERTS_KEYS = {"acme", "resolver", "warn_days"}
_RESOLVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_WARN_DAYS = 21
TARGET_KINDS = ("compose", "swarm")
LOCAL_TARGET = "local"
_HOST_SCHEMES = ("ssh://", "tcp://", "unix://", "npipe://")


@dataclass(frozen=True)
class Target:
    """Where a service runs: Compose or a Swarm, on the engine of a Docker context or a DOCKER_HOST.

    The built-in `local` target is Compose on the engine the environment points at (no context, no host).
    """

    name: str
    kind: str = "compose"
    context: str = ""
    host: str = ""

    @property
    def is_swarm(self) -> bool:
        return self.kind == "swarm"


@dataclass(frozen=True)
class PathOverride:
    """Lint settings that apply only to files matching one of `paths` (glob, relative to the root)."""

    paths: tuple[str, ...]
    disable: frozenset[str] = frozenset()
    severity: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LintSettings:
    fail_on: str = "error"
    disable: frozenset[str] = frozenset()
    severity: dict[str, str] = field(default_factory=dict)
    per_path: tuple[PathOverride, ...] = ()


@dataclass(frozen=True)
class CertsSettings:
    """`[certs]`: where Traefik's acme.json is, which certificate resolver consumers take from by
    default ("" = every resolver), and how many days before expiry `darse certs status` warns."""

    acme: str = ""
    resolver: str = ""
    warn_days: int = DEFAULT_WARN_DAYS


@dataclass(frozen=True)
class RepoConfig:
    proxy_network: str = "docker_default"
    domain: str = ""
    registry: str = ""
    skip: tuple[str, ...] = ()
    lint: LintSettings = field(default_factory=LintSettings)
    inspect: dict[str, Any] = field(default_factory=dict)  # `darse inspect --ci` thresholds (darse.images.inspect.ci)
    path: Path | None = None
    state_dir: str = ""  # where deployment history lives (darse.state); "" = the per-host default
    default_target: str = LOCAL_TARGET
    targets: dict[str, Target] = field(default_factory=lambda: {LOCAL_TARGET: Target(LOCAL_TARGET)})
    service_targets: dict[str, str] = field(default_factory=dict)
    compose_files: dict[str, str] = field(default_factory=dict)  # service folder -> the Compose file it deploys
    certs: CertsSettings = field(default_factory=CertsSettings)
    backup: BackupSettings = field(default_factory=lambda: BackupSettings())
    tunnels: dict[str, TunnelAlias] = field(default_factory=lambda: {})  # `[tunnels.NAME]`: docs/tunnel.md

    def target_for(self, service: str) -> Target:
        """The target of a service (its name is its folder relative to the root): its own, else the default."""
        return self.targets[self.service_targets.get(service, self.default_target)]


def find_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding darse.toml, else the Git top level, else `start`."""
    start = start.resolve()
    git_top = None
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
        if git_top is None and (folder / ".git").exists():
            git_top = folder
    return git_top or start


def load_config(root: Path) -> RepoConfig:
    """Read `root/darse.toml` if present; defaults otherwise."""
    from darse.fsutil import UnsafeFile, read_bounded

    path = root / CONFIG_NAME
    if not os.path.lexists(path):
        return RepoConfig()
    try:
        data = tomllib.loads(read_bounded(path, MAX_CONFIG_BYTES, within=root).decode("utf-8"))
    except UnsafeFile as exc:
        raise DarseError(exc.message, "darse.toml must be a regular file of the repository") from None
    except OSError as exc:
        raise DarseError(f"{path}: cannot read it ({exc.strerror})", "check its permissions") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DarseError(f"{path}: not valid TOML: {exc}", "fix the syntax of darse.toml") from None
    except RecursionError:
        raise DarseError(f"{path}: nested too deeply", "darse.toml holds a few tables, not deep nesting") from None
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path | None = None) -> RepoConfig:
    where = str(path or CONFIG_NAME)
    _check_keys(data, _TOP_KEYS, where)
    lint = data.get("lint", {})
    if not isinstance(lint, dict):
        raise DarseError(f"{where}: [lint] must be a table", "write it as [lint] followed by its keys")
    _check_keys(lint, _LINT_KEYS, f"{where} [lint]")
    per_path = []
    for entry in _list(lint, "per_path", f"{where} [lint]", dict):
        _check_keys(entry, _PER_PATH_KEYS, f"{where} [[lint.per_path]]")
        paths = _list(entry, "paths", f"{where} [[lint.per_path]]", str)
        if not paths:
            raise DarseError(f"{where}: a [[lint.per_path]] entry has no paths", 'add paths = ["dir/**"]')
        per_path.append(
            PathOverride(
                paths=tuple(paths),
                disable=frozenset(_list(entry, "disable", where, str)),
                severity=_severity_map(entry, where),
            )
        )
    inspect = data.get("inspect", {})
    if not isinstance(inspect, dict):
        raise DarseError(f"{where}: [inspect] must be a table", "write it as [inspect] followed by its keys")
    fail_on = lint.get("fail_on", "error")
    if fail_on not in ("error", "warning", "info"):
        raise DarseError(f"{where}: lint.fail_on is {fail_on!r}", "use one of error, warning, info")
    targets = _targets(data, where)
    default_target = _str(data, "target", LOCAL_TARGET, where)
    service_targets = _service_targets(data, where)
    for name in (default_target, *service_targets.values()):
        if name not in targets:
            raise DarseError(
                f"{where}: unknown target {name!r}", f"declare it as [targets.{name}], or use {', '.join(targets)}"
            )
    return RepoConfig(
        default_target=default_target,
        targets=targets,
        service_targets=service_targets,
        compose_files=_service_compose_files(data, where),
        proxy_network=_str(data, "proxy_network", "docker_default", where),
        domain=_str(data, "domain", "", where),
        registry=_str(data, "registry", "", where),
        skip=tuple(_list(data, "skip", where, str)),
        lint=LintSettings(
            fail_on=fail_on,
            disable=frozenset(_list(lint, "disable", f"{where} [lint]", str)),
            severity=_severity_map(lint, where),
            per_path=tuple(per_path),
        ),
        inspect=dict(inspect),
        path=path,
        state_dir=_str(data, "state_dir", "", where),
        certs=_certs(data, where),
        backup=_backup(data, where),
        tunnels=_tunnels(data, where),
    )


def _certs(data: dict[str, Any], where: str) -> CertsSettings:
    """`[certs]`: acme.json's path, the default resolver, the warning threshold (docs/certs.md)."""
    table = data.get("certs", {})
    here = f"{where} [certs]"
    if not isinstance(table, dict):
        raise DarseError(f"{where}: [certs] must be a table", "write it as [certs] followed by its keys")
    _check_keys(table, _CERTS_KEYS, here)
    acme = _str(table, "acme", "", here)
    if "\0" in acme:
        raise DarseError(f"{here}: acme is not a path", 'write acme = "/path/to/acme.json"')
    resolver = _str(table, "resolver", "", here)
    if resolver and not _RESOLVER_NAME.fullmatch(resolver):
        raise DarseError(
            f"{here}: resolver {resolver[:60]!r} is not a certificate resolver name",
            "the name given to Traefik's certificatesResolvers (letters, digits, '_', '-', '.')",
        )
    warn_days = table.get("warn_days", DEFAULT_WARN_DAYS)
    if isinstance(warn_days, bool) or not isinstance(warn_days, int) or not 0 <= warn_days <= 365:
        raise DarseError(f"{here}: warn_days must be a whole number of days from 0 to 365", "write warn_days = 21")
    return CertsSettings(acme=acme, resolver=resolver, warn_days=warn_days)


def _targets(data: dict[str, Any], where: str) -> dict[str, Target]:
    """`[targets.NAME]` tables; `local` (Compose on the current engine) always exists and may be redefined."""
    tables = _table(data, "targets", where)
    targets = {LOCAL_TARGET: Target(LOCAL_TARGET)}
    for name, table in tables.items():
        here = f"{where} [targets.{name}]"
        if not isinstance(table, dict):
            raise DarseError(f"{here}: must be a table", 'write [targets.NAME] with kind = "swarm" or "compose"')
        _check_keys(table, _TARGET_KEYS, here)
        kind = _str(table, "kind", "compose", here)
        if kind not in TARGET_KINDS:
            raise DarseError(f"{here}: kind is {kind!r}", f"use one of {', '.join(TARGET_KINDS)}")
        context, host = _str(table, "context", "", here), _str(table, "host", "", here)
        if context and host:
            raise DarseError(f"{here}: both context and host are set", "a target reaches one engine: keep one")
        if context and not _CONTEXT_NAME.fullmatch(context):
            raise DarseError(
                f"{here}: {context[:60]!r} is not a Docker context name",
                "a context name is letters, digits, '.', '_' and '-', starting with a letter or digit",
            )
        if host and not host.startswith(_HOST_SCHEMES):
            raise DarseError(
                f"{here}: host {host!r} is not a Docker host URL", "write ssh://user@host or tcp://host:2376"
            )
        targets[name] = Target(name, kind, context, host)
    return targets


def _service_targets(data: dict[str, Any], where: str) -> dict[str, str]:
    """`[services."apps/wiki"] target = "cluster"`: per-service choices, keyed by the service's folder."""
    out: dict[str, str] = {}
    for name, table in _table(data, "services", where).items():
        here = f'{where} [services."{name}"]'
        if not isinstance(table, dict):
            raise DarseError(f"{here}: must be a table", 'write [services."NAME"] with target = "..."')
        _check_keys(table, _SERVICE_KEYS, here)
        if "target" in table:
            out[name.strip("/")] = _str(table, "target", LOCAL_TARGET, here)
    return out


def _service_compose_files(data: dict[str, Any], where: str) -> dict[str, str]:
    """`[services."apps/wiki"] compose_file = "docker-compose-sqlite.yml"`: the file a service deploys,
    a plain file name in the service's folder (validated here; its existence when the folder is read)."""
    out: dict[str, str] = {}
    for name, table in _table(data, "services", where).items():
        if not isinstance(table, dict) or "compose_file" not in table:
            continue
        here = f'{where} [services."{name}"]'
        value = _str(table, "compose_file", "", here)
        if not value or "/" in value or "\\" in value or value in (".", "..") or "\0" in value:
            raise DarseError(
                f"{here}: compose_file {value!r} is not a file name",
                'give the name of a file in the service folder, e.g. compose_file = "docker-compose-sqlite.yml"',
            )
        out[name.strip("/")] = value
    return out


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise DarseError(f"{where}: {key} must be a table", f"write [{key}.NAME] sections")
    return value


def _check_keys(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise DarseError(f"{where}: unknown key {unknown[0]!r}", f"allowed keys are {', '.join(sorted(allowed))}")


def _str(data: dict[str, Any], key: str, default: str, where: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise DarseError(f"{where}: {key} must be a string", f'write {key} = "..."')
    return value


def _list(data: dict[str, Any], key: str, where: str, kind: type) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, kind) for item in value):
        raise DarseError(f"{where}: {key} must be a list", f"write {key} = [...] with {kind.__name__} items")
    return value


def _severity_map(data: dict[str, Any], where: str) -> dict[str, str]:
    value = data.get("severity", {})
    if not isinstance(value, dict):
        raise DarseError(f"{where}: severity must be a table", 'write severity = { DC003 = "info" }')
    for rule, level in value.items():
        if level not in ("error", "warning", "info"):
            raise DarseError(f"{where}: severity of {rule} is {level!r}", "use one of error, warning, info")
    return dict(value)


# --- [backup] (docs/backup.md) ----------------------------------------------------------------------

BACKUP_POLICIES = ("always", "on-image-change", "never")
DUMP_KINDS = ("postgres", "mariadb", "mysql", "redis", "mongodb", "none")
KEEP_KEYS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
_BACKUP_KEYS = {"repository", "password_file", "keep", "before_deploy", "services"}
_BACKUP_SERVICE_KEYS = {"exclude", "stop", "pre", "post", "check", "dump"}
_COMMAND_KEYS = {"service", "command"}
_DUMP_KEYS = {"service", "kind"}
_COMPOSE_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_MAX_REPOSITORY = 4096
# `scheme://user:password@host`: the userinfo runs to the last `@` before the first `/` of the authority
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s]*)@")
_SECRET_PARAM = re.compile(r"pass|secret|token|key|auth|credential|signature", re.IGNORECASE)
_QUERY_PARAM = re.compile(r"(?P<head>[?&;](?P<key>[^=&;#\s]+)=)(?P<value>[^&;#\s]*)")


def mask_repository(text: str) -> str:
    """A restic repository string fit to show: the password of `rest:https://user:password@host/`
    and the values of secret-named query parameters (`?secret=...`) become `****`. restic reads its
    other credentials (S3, B2, Azure keys) from the environment, never from this string."""

    def userinfo(match: re.Match[str]) -> str:
        user, colon, _password = match["userinfo"].partition(":")
        return f"{match['scheme']}{user}{':****' if colon else ''}@"

    def param(match: re.Match[str]) -> str:
        return match["head"] + ("****" if _SECRET_PARAM.search(match["key"]) and match["value"] else match["value"])

    return _QUERY_PARAM.sub(param, _URL_USERINFO.sub(userinfo, text))


@dataclass(frozen=True)
class BackupCommand:
    """A command run inside one Compose service of the folder (`docker compose exec`), as an argument list."""

    service: str
    command: tuple[str, ...]


@dataclass(frozen=True)
class BackupDump:
    """`dump = {service = "db", kind = "postgres"}`: the dump of a Compose service, chosen by hand
    (`kind = "none"`: no dump, even for an image darse recognises)."""

    service: str
    kind: str


@dataclass(frozen=True)
class BackupServiceSettings:
    """`[backup.services."FOLDER"]`: what differs from the plan darse infers for one service folder."""

    exclude: tuple[str, ...] = ()  # volume names: the Compose key (`cache`) or the engine's (`wiki_cache`)
    stop: bool = False  # stop the folder's services while their volumes are copied
    pre: tuple[BackupCommand, ...] = ()
    post: tuple[BackupCommand, ...] = ()
    check: BackupCommand | None = None  # run by `darse restore --verify`
    dumps: tuple[BackupDump, ...] = ()


@dataclass(frozen=True)
class BackupSettings:
    """`[backup]`: the restic repository (may carry credentials: show `shown_repository`, never
    `repository`), its password file on the host, retention, the policy before deploys, and the
    per-folder settings. `configured` once the table names a repository."""

    repository: str = field(default="", repr=False)
    password_file: str = ""
    keep: dict[str, int] = field(default_factory=dict)
    before_deploy: str = "on-image-change"
    services: dict[str, BackupServiceSettings] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.repository)

    @property
    def shown_repository(self) -> str:
        return mask_repository(self.repository)

    def for_folder(self, folder: str) -> BackupServiceSettings:
        return self.services.get(folder, BackupServiceSettings())


def _backup(data: dict[str, Any], where: str) -> BackupSettings:
    """`[backup]` and its `[backup.services."FOLDER"]` tables (docs/backup.md). Errors never quote the
    repository: it may hold a password."""
    table = data.get("backup", {})
    here = f"{where} [backup]"
    if not isinstance(table, dict):
        raise DarseError(f"{where}: [backup] must be a table", "write it as [backup] followed by its keys")
    _check_keys(table, _BACKUP_KEYS, here)
    repository = _str(table, "repository", "", here)
    if "repository" in table and (
        not repository.strip()
        or len(repository) > _MAX_REPOSITORY
        or any(ord(c) < 32 or c == "\x7f" for c in repository)
    ):
        raise DarseError(
            f"{here}: repository is not a restic repository",
            'write repository = "/srv/backup" or "sftp:user@host:/srv"',
        )
    password_file = _str(table, "password_file", "", here)
    if "\0" in password_file or (password_file and not password_file.strip()):
        raise DarseError(f"{here}: password_file is not a path", 'write password_file = "/etc/darse/restic.password"')
    keep = table.get("keep", {})
    if not isinstance(keep, dict):
        raise DarseError(f"{here}: keep must be a table", "write keep = { daily = 7, weekly = 4 }")
    _check_keys(keep, set(KEEP_KEYS), f"{here} keep")
    for key, value in keep.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000:
            raise DarseError(f"{here}: keep.{key} must be a whole number of snapshots", f"write keep = {{ {key} = 7 }}")
    before = _str(table, "before_deploy", "on-image-change", here)
    if before not in BACKUP_POLICIES:
        raise DarseError(f"{here}: before_deploy is {before[:40]!r}", f"use one of {', '.join(BACKUP_POLICIES)}")
    services = {}
    for name, entry in _table(table, "services", here).items():
        services[name.strip("/")] = _backup_service(entry, f'{where} [backup.services."{name}"]')
    return BackupSettings(repository, password_file, dict(keep), before, services)


def _backup_service(entry: Any, here: str) -> BackupServiceSettings:
    if not isinstance(entry, dict):
        raise DarseError(f"{here}: must be a table", 'write [backup.services."FOLDER"] with exclude, stop, pre, ...')
    _check_keys(entry, _BACKUP_SERVICE_KEYS, here)
    stop = entry.get("stop", False)
    if not isinstance(stop, bool):
        raise DarseError(f"{here}: stop must be true or false", "write stop = true")
    check = _backup_commands(entry, "check", here)
    if len(check) > 1:
        raise DarseError(f"{here}: check is one command", 'write check = { service = "app", command = [...] }')
    dumps = []
    for item in _tables(entry, "dump", here, 'dump = { service = "db", kind = "postgres" }'):
        _check_keys(item, _DUMP_KEYS, f"{here} dump")
        kind = _str(item, "kind", "", f"{here} dump")
        if kind not in DUMP_KINDS:
            raise DarseError(f"{here}: dump kind is {kind[:40]!r}", f"use one of {', '.join(DUMP_KINDS)}")
        dumps.append(BackupDump(_compose_service(item, f"{here} dump"), kind))
    return BackupServiceSettings(
        exclude=tuple(_list(entry, "exclude", here, str)),
        stop=stop,
        pre=tuple(_backup_commands(entry, "pre", here)),
        post=tuple(_backup_commands(entry, "post", here)),
        check=check[0] if check else None,
        dumps=tuple(dumps),
    )


def _backup_commands(entry: dict[str, Any], key: str, here: str) -> list[BackupCommand]:
    """`pre = { service = "app", command = ["..."] }`, or a list of such tables."""
    out = []
    for item in _tables(entry, key, here, f'{key} = {{ service = "app", command = ["..."] }}'):
        _check_keys(item, _COMMAND_KEYS, f"{here} {key}")
        command = item.get("command")
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(word, str) and "\0" not in word for word in command)
        ):
            raise DarseError(f"{here}: {key}.command must be a list of strings", 'write command = ["sh", "-c", "..."]')
        out.append(BackupCommand(_compose_service(item, f"{here} {key}"), tuple(command)))
    return out


def _tables(entry: dict[str, Any], key: str, here: str, example: str) -> list[dict[str, Any]]:
    """A table, or a list of tables, under `key` (absent: none)."""
    value = entry.get(key, [])
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise DarseError(f"{here}: {key} must be a table", f"write {example}")
    return items


def _compose_service(item: dict[str, Any], here: str) -> str:
    name = _str(item, "service", "", here)
    if not _COMPOSE_SERVICE_NAME.fullmatch(name):
        raise DarseError(f"{here}: service {name[:60]!r} is not a Compose service name", 'write service = "db"')
    return name


# --- [tunnels] (docs/tunnel.md) ---------------------------------------------------------------------

_TUNNEL_KEYS = {"service", "to", "port", "local"}
_TUNNEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_LOCAL_BIND = re.compile(r"(?:(?P<host>[0-9A-Za-z.:_-]{1,253}|\[[0-9A-Fa-f:]{2,45}\]):)?(?P<port>[0-9]{1,5})")


@dataclass(frozen=True)
class TunnelAlias:
    """`[tunnels.NAME]`: a tunnel the team opens often, by name: the service folder, the Compose
    service in it (`to`), the container port, the local `[ADDR:]PORT` ("" and 0: darse chooses)."""

    name: str
    service: str
    to: str = ""
    port: int = 0
    local: str = ""


def parse_local_bind(text: str, where: str = "--local") -> tuple[str, int]:
    """`[ADDR:]PORT` as (address, port): 127.0.0.1 when no address is given; `[::1]:5432` for IPv6."""
    match = _LOCAL_BIND.fullmatch(text.strip())
    port = int(match["port"]) if match else 0
    if match is None or not 0 < port < 65536:
        raise DarseError(f"{where}: {text[:60]!r} is not a local [ADDR:]PORT", "write 5432 or 127.0.0.1:5432")
    host = (match["host"] or "127.0.0.1").strip("[]")
    return host, port


def _tunnels(data: dict[str, Any], where: str) -> dict[str, TunnelAlias]:
    out: dict[str, TunnelAlias] = {}
    for name, table in _table(data, "tunnels", where).items():
        here = f"{where} [tunnels.{name}]"
        if not _TUNNEL_NAME.fullmatch(name):
            raise DarseError(f"{where}: [tunnels.{name[:60]}] is not a tunnel name", "letters, digits, '_', '-', '.'")
        if not isinstance(table, dict):
            raise DarseError(f"{here}: must be a table", 'write [tunnels.NAME] with service = "FOLDER"')
        _check_keys(table, _TUNNEL_KEYS, here)
        service = _str(table, "service", "", here).strip("/")
        if not service or "\0" in service:
            raise DarseError(f"{here}: service is missing", 'name the service folder: service = "wiki"')
        to = _str(table, "to", "", here)
        if "to" in table and not _COMPOSE_SERVICE_NAME.fullmatch(to):
            raise DarseError(f"{here}: to {to[:60]!r} is not a Compose service name", 'write to = "db"')
        port = table.get("port", 0)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
            raise DarseError(f"{here}: port must be a container port number", "write port = 5432")
        local = table.get("local", "")
        if isinstance(local, int) and not isinstance(local, bool):
            local = str(local)
        if not isinstance(local, str):
            raise DarseError(f"{here}: local must be a port or ADDR:PORT", 'write local = 15432 or "127.0.0.1:15432"')
        if local:
            parse_local_bind(local, f"{here} local")
        out[name] = TunnelAlias(name, service, to, port, local)
    return out
