"""A Compose file read with positions, interpolated from the service's `.env`, with typed accessors.

Accessors understand both the short and the long syntax of ports, volumes, labels, networks,
environment and env_file, so rules never re-parse them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from darse.fsutil import UnsafeFile, read_text_file
from darse.model.dotenv import read_env_file
from darse.model.interpolate import InterpolationError, interpolate
from darse.model.yamlnode import YamlError, YNode, load_yaml

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


@dataclass(frozen=True)
class Problem:
    """Something wrong with the file itself rather than with a rule (parse or interpolation error)."""

    message: str
    line: int
    column: int
    fatal: bool  # True when Compose refuses the file: unreadable, or a `${VAR:?}` unset / malformed `${`


@dataclass(frozen=True)
class Mount:
    kind: str  # "bind", "volume", "tmpfs", "anonymous"
    source: str
    target: str
    node: YNode


@dataclass(frozen=True)
class EnvFileRef:
    path: str
    required: bool
    node: YNode


@dataclass
class ComposeFile:
    path: Path
    root: YNode | None
    problems: list[Problem] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def readable(self) -> bool:
        return self.root is not None and self.root.is_map

    def section(self, name: str) -> YNode | None:
        node = self.root.get(name) if self.root is not None else None
        return node if node is not None and node.is_map else None

    def services(self) -> list[tuple[str, YNode]]:
        section = self.section("services")
        return [(name, node) for name, node in section.items() if node.is_map] if section else []

    def service_key(self, name: str) -> YNode:
        section = self.section("services")
        assert section is not None
        return section.key_node(name)


def load_compose(path: Path) -> ComposeFile:
    """Read a Compose file; never raises for a broken file, which becomes a fatal `Problem`."""
    env = read_env_file(path.parent / ".env")
    compose = ComposeFile(path, None, env=env)
    try:
        text = read_text_file(path)
    except UnicodeDecodeError:
        compose.problems.append(Problem("file is not UTF-8 text", 1, 1, True))
        return compose
    except UnsafeFile as exc:
        compose.problems.append(Problem(f"not read: it is {exc.reason}", 1, 1, True))
        return compose
    except OSError as exc:
        compose.problems.append(Problem(f"cannot read file: {exc.strerror}", 1, 1, True))
        return compose
    try:
        root = load_yaml(text)
    except YamlError as exc:
        compose.problems.append(Problem(exc.message, exc.line, exc.column, True))
        return compose
    if root is None or not root.is_map:
        line, col = (root.line, root.column) if root else (1, 1)
        compose.problems.append(Problem("a Compose file must be a mapping with a services key", line, col, True))
        return compose
    compose.root = root
    _interpolate_tree(root, env, compose.problems, set())
    services = root.get("services")
    if services is not None and not services.is_map:
        compose.problems.append(Problem("services must be a mapping", services.line, services.column, False))
    return compose


def _interpolate_tree(node: YNode, env: dict[str, str], problems: list[Problem], done: set[int]) -> None:
    """Interpolate every string value in place (keys are never interpolated, as in Compose)."""
    if id(node) in done:  # shared through an anchor: interpolate once
        return
    done.add(id(node))
    if isinstance(node.value, str):
        if "$" not in node.value:
            return
        try:
            result = interpolate(node.value, env)
        except InterpolationError as exc:
            problems.append(Problem(str(exc), node.line, node.column, True))
            return
        for name in dict.fromkeys(result.missing):
            problems.append(
                Problem(f"variable {name} is not set; Compose will use an empty string", node.line, node.column, False)
            )
        if result.value != node.value:
            node.raw, node.value = node.value, result.value
        return
    for child in node.children():
        _interpolate_tree(child, env, problems, done)


# --- typed accessors over one service's YNode ----------------------------------------------------


def labels(service: YNode) -> dict[str, tuple[str, YNode]]:
    """Labels as `name -> (value, node)`, from the mapping or the `name=value` list form."""
    node = service.get("labels")
    out: dict[str, tuple[str, YNode]] = {}
    if node is None:
        return out
    if node.is_map:
        for key, value in node.items():
            out[key] = (value.text() or "", value)
    elif node.is_list:
        for item in node.value:
            text = item.text()
            if text is not None:
                key, _, value = text.partition("=")
                out[key.strip()] = (value.strip(), item)
    return out


def networks(service: YNode) -> dict[str, YNode]:
    """Networks a service joins, `name -> node`, from the list or mapping form."""
    node = service.get("networks")
    if node is None:
        return {}
    if node.is_map:
        return {name: node.key_node(name) for name in node.value}
    if node.is_list:
        return {item.text() or "": item for item in node.value if item.text()}
    return {}


def ports(service: YNode) -> list[YNode]:
    """Every entry of `ports:` (each publishes on the host, even `"80"` on a random port)."""
    node = service.get("ports")
    return list(node.value) if node is not None and node.is_list else []


def mounts(service: YNode) -> list[Mount]:
    node = service.get("volumes")
    if node is None or not node.is_list:
        return []
    out: list[Mount] = []
    for item in node.value:
        if item.is_map:
            kind = (item.get("type").text() if item.get("type") else "volume") or "volume"
            source = item.get("source").text() if item.get("source") else ""
            target = item.get("target").text() if item.get("target") else ""
            if kind == "volume" and not source:
                kind = "anonymous"
            out.append(Mount(kind, source or "", target or "", item))
            continue
        text = item.text()
        if not text:
            continue
        parts = text.split(":")
        if len(parts) == 1:
            out.append(Mount("anonymous", "", parts[0], item))
            continue
        source, target = parts[0], parts[1]
        kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
        out.append(Mount(kind, source, target, item))
    return out


def env_files(service: YNode) -> list[EnvFileRef]:
    node = service.get("env_file")
    if node is None:
        return []
    items = node.value if node.is_list else [node]
    out: list[EnvFileRef] = []
    for item in items:
        if item.is_map:
            path_node = item.get("path")
            required = item.get("required")
            if path_node is not None and path_node.text():
                out.append(
                    EnvFileRef(path_node.text() or "", required is None or required.value is not False, path_node)
                )
        elif item.text():
            out.append(EnvFileRef(item.text() or "", True, item))
    return out


def environment(service: YNode) -> dict[str, YNode]:
    """`environment:` as `name -> value node`; a bare `NAME` (taken from the shell) maps to its item."""
    node = service.get("environment")
    out: dict[str, YNode] = {}
    if node is None:
        return out
    if node.is_map:
        return dict(node.items())
    if node.is_list:
        for item in node.value:
            text = item.text() or ""
            key, sep, value = text.partition("=")
            raw = item.raw.partition("=")[2] if item.raw else None
            out[key.strip()] = YNode(value if sep else None, item.line, item.column, raw=raw)
    return out


def is_true(node: YNode | None) -> bool:
    return node is not None and (node.value is True or node.text() == "true")
