"""Inline ignores: `# darse: ignore[DF001,apt-lists-kept]`, in Dockerfiles and YAML alike.

A comment after code on a line covers that line only; a comment alone on its line covers the next
line (the one it sits above). In a Dockerfile the engine also asks about the first line of the
instruction a finding is in, so a comment above a multi-line RUN covers the findings inside it. A
rule name that no rule has is itself reported (RP008): a typo must not silence nothing in silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from darse.fsutil import read_bounded
from darse.lint.rule import RULES, Hit, Severity, parse_rule

_IGNORE = re.compile(r"#\s*darse:\s*ignore\[([^\]]*)\]", re.IGNORECASE)
_MAX_BYTES = 4 << 20  # files larger than this are not searched for comments

IGNORE_UNKNOWN = parse_rule(
    "RP008",
    "ignore-unknown-rule",
    "Inline ignore names no rule",
    Severity.WARNING,
    """`# darse: ignore[...]` names rules by ID (`DC014`) or name (`secret-in-environment`); a name
    that no rule has silences nothing, so a typo would leave the finding it meant to silence, or
    worse, the reader would believe it silenced. `darse rules` lists every ID and name.""",
)


@dataclass
class _FileIgnores:
    covered: dict[int, set[str]] = field(default_factory=dict)  # line -> rule IDs/names it silences
    unknown: list[Hit] = field(default_factory=list)


class IgnoreIndex:
    """Reads each file's ignore comments once, on demand."""

    def __init__(self) -> None:
        self._cache: dict[Path, _FileIgnores] = {}
        self._known: set[str] | None = None

    def ignored(self, path: Path, lines: tuple[int, ...], rule_id: str, rule_name: str) -> bool:
        covered = self._read(path).covered
        if not covered:
            return False
        for line in lines:
            names = covered.get(line)
            if names and (rule_id.lower() in names or rule_name in names or "all" in names):
                return True
        return False

    def unknown_rules(self, path: Path, lines: list[str] | None = None) -> list[Hit]:
        """Ignore comments naming no rule, one hit per unknown name (`lines`: the file's text, if read)."""
        return self._read(path, lines).unknown

    def _read(self, path: Path, lines: list[str] | None = None) -> _FileIgnores:
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        found = _FileIgnores()
        if lines is None:
            try:
                raw = read_bounded(path, _MAX_BYTES)
            except OSError:  # UnsafeFile (a link out, a FIFO, too large) included: nothing read
                raw = b""
            text = raw.decode("utf-8", errors="replace") if b"darse:" in raw.lower() else ""
            lines = text.split("\n") if text else []  # BuildKit numbers lines by \n only
        elif not any("darse:" in line.lower() for line in lines):
            lines = []
        for number, line in enumerate(lines, start=1):
            match = _IGNORE.search(line)
            if match is None:
                continue
            names = {part.strip().lower() for part in match.group(1).split(",") if part.strip()}
            alone = not line[: match.start()].strip()
            target = number + 1 if alone else number
            found.covered.setdefault(target, set()).update(names)
            for name in sorted(names - self.known()):
                column = line.lower().find(name, match.start(1)) + 1
                found.unknown.append(
                    Hit(f"darse: ignore[{name}] names no rule; see darse rules", number, max(column, 1), path)
                )
        self._cache[path] = found
        return found

    def known(self) -> set[str]:
        if self._known is None:
            self._known = {"all"} | {rule.id.lower() for rule in RULES.values()} | {r.name for r in RULES.values()}
        return self._known
