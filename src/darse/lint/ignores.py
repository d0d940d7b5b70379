"""Inline ignores: `# darse: ignore[DF001,apt-lists-kept]`, in Dockerfiles and YAML alike.

A comment after code on a line covers that line only; a comment alone on its line covers the next
line (the one it sits above). In a Dockerfile the linter also asks about the first line of the
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
# Dockerfile instructions whose words Docker reads itself: a `#` after them is an argument, not a comment
_NOT_SHELL = {
    "FROM", "ADD", "COPY", "ENV", "ARG", "LABEL", "EXPOSE", "USER", "WORKDIR", "VOLUME", "STOPSIGNAL", "MAINTAINER",
}  # fmt: skip

IGNORE_UNKNOWN = parse_rule(
    "RP008",
    "ignore-unknown-rule",
    "Inline ignore that silences nothing",
    Severity.WARNING,
    """`# darse: ignore[...]` names rules by ID (`DC014`) or name (`secret-in-environment`); a name
    that no rule has silences nothing, so a typo would leave the finding it meant to silence, or
    worse, the reader would believe it silenced. `darse rules` lists every ID and name. In a
    Dockerfile, `#` starts a comment only at the start of a line (or in a RUN's shell script): after
    FROM, ADD, COPY, ENV... the words are arguments Docker passes on, so such an ignore is reported.""",
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
        lower = path.name.lower()
        dockerfile = lower in ("dockerfile", "containerfile") or lower.startswith("dockerfile.") or lower.endswith(
            ".dockerfile"
        )
        for number, line in enumerate(lines, start=1):
            match = _IGNORE.search(line)
            if match is None:
                continue
            names = {part.strip().lower() for part in match.group(1).split(",") if part.strip()}
            alone = not line[: match.start()].strip()
            if not alone and dockerfile and line.split(None, 1)[0].upper() in _NOT_SHELL:
                # Docker has no end-of-line comments: in `ADD a /b  # darse: ignore[DF012]` the words
                # are arguments (only a RUN's shell reads `#` as a comment), so it silences nothing
                found.unknown.append(
                    Hit(
                        "in a Dockerfile `#` starts a comment only at the start of a line: Docker reads this "
                        "ignore as arguments of the instruction; put it alone on the line above",
                        number,
                        match.start() + 1,
                        path,
                    )
                )
                continue
            covered = number + 1 if alone else number
            found.covered.setdefault(covered, set()).update(names)
            for name in sorted(names - self.known()):
                column = line.lower().find(name, match.start(1)) + 1
                written = line[column - 1 : column - 1 + len(name)] if column else name
                found.unknown.append(
                    Hit(f"darse: ignore[{written}] names no rule; see darse rules", number, max(column, 1), path)
                )
        self._cache[path] = found
        return found

    def known(self) -> set[str]:
        if self._known is None:
            self._known = {"all"} | {rule.id.lower() for rule in RULES.values()} | {r.name for r in RULES.values()}
        return self._known
