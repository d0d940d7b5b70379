"""Volumes and data: named volumes for databases, bind mounts that exist, no external volumes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from darse.lint.context import LintContext
from darse.lint.knowledge import database_data_dirs, telltale_data_dirs
from darse.lint.rule import Hit, Severity, compose_file_rule, compose_service_rule
from darse.lint.rules.compose.common import is_external, service_image
from darse.lint.shell import split_commands
from darse.model.compose import ComposeFile, Mount, environment, mounts
from darse.model.image import ImageRef
from darse.model.service import EXAMPLE_SUFFIX, SECRET_SUFFIX
from darse.model.yamlnode import YNode


@compose_file_rule(
    "DC011",
    "volume-external",
    "Volume declared external",
    Severity.WARNING,
    """The guide avoids `external` volumes: a volume made outside Compose can be used without the
    flag, while an external volume that does not exist yet makes every Compose command fail.""",
)
def volume_external(compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    section = compose.section("volumes")
    if section is None:
        return
    for volume_name, volume in section.items():
        if is_external(volume):
            key = section.key_node(volume_name)
            yield Hit(
                f"volume {volume_name} is declared external; declare it normally (name: if needed)",
                key.line,
                key.column,
            )


@compose_service_rule(
    "DC012",
    "data-on-volume",
    "Database data directory not on a named volume",
    Severity.ERROR,
    """A database's data directory (`/var/lib/postgresql/data`, `/var/lib/mysql`, ...) must be a
    named Docker volume, or the data goes with the container (the guide's 'Volumes Docker').
    Known images and their directories are data (`darse/data/images.toml`); an image darse does not
    know is a database when it mounts a directory only databases use (`/var/lib/postgresql/data`).""",
)
def data_on_volume(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    image = service_image(node)
    data_dirs = database_data_dirs(image) if image is not None else None
    if data_dirs is None:  # an image darse does not know, mounted where a database keeps its data
        data_dirs = [m.target.rstrip("/") for m in mounts(node) if m.target.rstrip("/") in telltale_data_dirs()]
    if not data_dirs or _cache_only(image, node):
        return
    env = environment(node)
    pgdata = env.get("PGDATA")
    if pgdata is not None and pgdata.text():
        data_dirs = [pgdata.text() or ""]
    service_mounts = mounts(node)
    for data_dir in data_dirs:
        covering = [m for m in service_mounts if m.target and _covers(m.target, data_dir)]
        if not covering:
            key = compose.service_key(name)
            yield Hit(
                f"database {name} keeps {data_dir} in the container's own layer, lost when the container is "
                "recreated; mount a named volume there",
                key.line,
                key.column,
            )
        elif covering[-1].kind != "volume":
            mount = covering[-1]
            yield Hit(
                f"{data_dir} of {name} {_mount_phrase(mount)}; use a named volume", mount.node.line, mount.node.column
            )


_REDIS_LIKE = {"redis", "valkey", "keydb"}


def _cache_only(image: ImageRef | None, node: YNode) -> bool:
    """A Redis run with snapshots off (`--save ""`) and no append-only file writes nothing to /data:
    a cache that starts empty by design (seen in searxng's Compose file), not a database to keep."""
    if image is None or image.name not in _REDIS_LIKE:
        return False
    command = node.get("command")
    if command is None:
        return False
    if command.is_list:
        words = [item.text() or "" for item in command.value]
    else:
        words = [word for part in split_commands(command.text() or "") for word in part]
    pairs = dict(zip(words, [*words[1:], None], strict=True))
    return "--save" in pairs and pairs["--save"] in ("", None) and pairs.get("--appendonly", "no") != "yes"


def _mount_phrase(mount: Mount) -> str:
    """What really holds the data, said plainly: a host folder, an unnamed volume, memory."""
    if mount.kind == "bind":
        return f"is a bind mount of the host folder {mount.source}" if mount.source else "is a bind mount"
    if mount.kind == "anonymous":
        return "is on an anonymous volume, which no name finds again after docker compose down"
    if mount.kind == "tmpfs":
        return "is on a tmpfs mount, in memory: lost at every restart"
    return f"is on a {mount.kind} mount"


def _covers(mounted: str, directory: str) -> bool:
    mounted = mounted.rstrip("/") or "/"
    return directory == mounted or directory.startswith(mounted + "/")


@compose_service_rule(
    "DC013",
    "bind-source-missing",
    "Relative bind mount source missing",
    Severity.ERROR,
    """A relative bind mount points at a file versioned next to the Compose file; if it is not in
    the repository, Docker silently creates an empty directory in its place on deploy. Real secret
    files are checked by RP004 instead.""",
)
def bind_source_missing(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    base = compose.path.parent
    for mount in mounts(node):
        # long syntax resolves `source: conf` against the Compose file too, not only `./conf`
        if mount.kind != "bind" or not mount.source or mount.source.startswith(("/", "~", "$")):
            continue
        source = base / mount.source
        if source.name.endswith((SECRET_SUFFIX, EXAMPLE_SUFFIX)) or Path(str(source) + EXAMPLE_SUFFIX).exists():
            continue
        if not source.exists():
            yield Hit(
                f"bind mount source {mount.source} does not exist in the repository", mount.node.line, mount.node.column
            )
