"""`darse.toml`: the repository's own choices, read once and validated strictly.

An unknown key is an error rather than silently ignored, so a typo never turns a rule off unnoticed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darse.errors import DarseError

CONFIG_NAME = "darse.toml"
_TOP_KEYS = {"proxy_network", "domain", "registry", "skip", "lint", "inspect"}
_LINT_KEYS = {"fail_on", "disable", "severity", "per_path"}
_PER_PATH_KEYS = {"paths", "disable", "severity"}


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
class RepoConfig:
    proxy_network: str = "docker_default"
    domain: str = ""
    registry: str = ""
    skip: tuple[str, ...] = ()
    lint: LintSettings = field(default_factory=LintSettings)
    inspect: dict[str, Any] = field(default_factory=dict)  # `darse inspect --ci` thresholds (darse.inspect.ci)
    path: Path | None = None


def load_config(root: Path) -> RepoConfig:
    """Read `root/darse.toml` if present; defaults otherwise."""
    path = root / CONFIG_NAME
    if not path.is_file():
        return RepoConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DarseError(f"{path}: not valid TOML: {exc}", "fix the syntax of darse.toml") from None
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
    return RepoConfig(
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
    )


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
