"""The newest version recorded in a service's CHANGELOG.md (the version its home-made image carries)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*)$")
_VERSION = re.compile(r"\[?v?(\d+(?:\.\d+)+(?:[-+][0-9A-Za-z][0-9A-Za-z.\-+]*)?)\]?")


@dataclass(frozen=True)
class ChangelogVersion:
    version: str
    line: int


def latest_version(path: Path) -> ChangelogVersion | None:
    """The first heading that names a version (`## [1.2.3] - date`, `## v1.2.3`, `# 5.2.1-1`)."""
    from darse.fsutil import read_text_file

    try:
        text = read_text_file(path, errors="replace")
    except OSError:  # absent, unreadable; a link out of the repository or a special file (UnsafeFile)
        return None  # is not read: RP009 reports it
    return latest_version_in(text)


def latest_version_in(text: str) -> ChangelogVersion | None:
    for number, line in enumerate(text.splitlines(), start=1):
        heading = _HEADING.match(line)
        if not heading:
            continue
        for word in heading.group(1).split():
            match = _VERSION.fullmatch(word.strip("(),:"))
            if match:
                return ChangelogVersion(match.group(1), number)
    return None
