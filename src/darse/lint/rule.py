"""Rules, the hits their checks return, and the findings a lint run reports.

A check is a plain generator function; the decorators below register it with its stable ID, title,
default severity and reason. The linter turns each `Hit` into a `Finding` once configuration and
inline ignores have been applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any


class Severity(IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


class Scope(StrEnum):
    """What a rule's check is given, hence when the linter runs it."""

    DOCKERFILE = "dockerfile"  # each Dockerfile
    COMPOSE_FILE = "compose-file"  # each Compose file, once
    COMPOSE_SERVICE = "compose-service"  # each service of a Compose file
    REPOSITORY = "repository"  # each service folder
    PARSE = "parse"  # no check: the parsers' own problems


@dataclass(frozen=True)
class Hit:
    """What a check reports: a message at a position (in the checked file unless `path` is given)."""

    message: str
    line: int = 1
    column: int = 1
    path: Path | None = None


@dataclass(frozen=True)
class Rule:
    id: str  # stable, e.g. "DF001"
    name: str  # short slug, e.g. "base-image-tag"
    title: str
    severity: Severity
    reason: str  # why the guide asks for it; shown by `darse rules` and in docs/rules.md
    scope: Scope
    check: Callable[..., Iterable[Hit]] | None = None


@dataclass(frozen=True)
class Finding:
    rule: str
    name: str
    severity: Severity
    message: str
    path: str  # relative to the repository root, with "/"
    line: int
    column: int
    service: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity.label,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "service": self.service,
        }


RULES: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    if rule.id in RULES or any(r.name == rule.name for r in RULES.values()):
        raise ValueError(f"duplicate rule {rule.id} / {rule.name}")
    RULES[rule.id] = rule
    return rule


def _decorator(scope: Scope, rule_id: str, name: str, title: str, severity: Severity, reason: str):
    def wrap(func: Callable[..., Iterable[Hit]]) -> Callable[..., Iterable[Hit]]:
        register(Rule(rule_id, name, title, severity, " ".join(reason.split()), scope, func))
        return func

    return wrap


def dockerfile_rule(rule_id: str, name: str, title: str, severity: Severity, reason: str):
    """Register `check(dockerfile, ctx) -> Iterable[Hit]`, run on every Dockerfile."""
    return _decorator(Scope.DOCKERFILE, rule_id, name, title, severity, reason)


def compose_file_rule(rule_id: str, name: str, title: str, severity: Severity, reason: str):
    """Register `check(compose, ctx) -> Iterable[Hit]`, run once per Compose file."""
    return _decorator(Scope.COMPOSE_FILE, rule_id, name, title, severity, reason)


def compose_service_rule(rule_id: str, name: str, title: str, severity: Severity, reason: str):
    """Register `check(name, node, compose, ctx) -> Iterable[Hit]`, run on every service of a Compose file."""
    return _decorator(Scope.COMPOSE_SERVICE, rule_id, name, title, severity, reason)


def repository_rule(rule_id: str, name: str, title: str, severity: Severity, reason: str):
    """Register `check(service, ctx) -> Iterable[Hit]`, run once per service folder."""
    return _decorator(Scope.REPOSITORY, rule_id, name, title, severity, reason)


def parse_rule(rule_id: str, name: str, title: str, severity: Severity, reason: str) -> Rule:
    """Register a rule whose hits come from the parsers themselves (no check function)."""
    return register(Rule(rule_id, name, title, severity, " ".join(reason.split()), Scope.PARSE))
