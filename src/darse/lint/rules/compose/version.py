"""The top-level `version` key: too old for the guide, or obsolete altogether."""

from __future__ import annotations

import re
from collections.abc import Iterator

from darse.lint.context import LintContext
from darse.lint.rule import Hit, Severity, compose_file_rule
from darse.model.compose import ComposeFile


@compose_file_rule(
    "DC002",
    "compose-version-old",
    "Compose file version below 3.7",
    Severity.WARNING,
    """The guide requires at least version 3.7 (for `init: true` among others). Modern Compose
    ignores the key altogether: remove it rather than raise it.""",
)
def compose_version_old(compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    version = compose.root.get("version") if compose.root else None
    if version is None:
        return
    numbers = re.findall(r"\d+", version.text() or "")
    if numbers and tuple(int(n) for n in numbers[:2]) < (3, 7):
        yield Hit(
            f"version {version.text()} is below 3.7; remove the obsolete version key", version.line, version.column
        )


@compose_file_rule(
    "DC003",
    "compose-version-obsolete",
    "Obsolete version key",
    Severity.INFO,
    """The Compose specification made the top-level `version` key obsolete: Compose v2 ignores it
    and warns. Files written for the guide's 3.7 minimum can simply drop it.""",
)
def compose_version_obsolete(compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    version = compose.root.get("version") if compose.root else None
    if version is None:
        return
    numbers = re.findall(r"\d+", version.text() or "")
    if not numbers or tuple(int(n) for n in numbers[:2]) >= (3, 7):
        key = compose.root.key_node("version")
        yield Hit("the version key is obsolete in the Compose specification; remove it", key.line, key.column)
