"""Inline ignores: `# darse: ignore[DF001,apt-lists-kept]` on the finding's line or the line above.

The same comment works in Dockerfiles and YAML. In a Dockerfile a comment cannot share a line with an
instruction, so the line above the instruction also counts for findings inside a multi-line one.
"""

from __future__ import annotations

import re
from pathlib import Path

_IGNORE = re.compile(r"#\s*darse:\s*ignore\[([^\]]*)\]", re.IGNORECASE)


class IgnoreIndex:
    """Reads each file's ignore comments once, on demand."""

    def __init__(self) -> None:
        self._cache: dict[Path, dict[int, set[str]]] = {}

    def ignored(self, path: Path, lines: tuple[int, ...], rule_id: str, rule_name: str) -> bool:
        comments = self._comments(path)
        if not comments:
            return False
        for line in lines:
            for candidate in (line, line - 1):
                names = comments.get(candidate)
                if names and (rule_id.lower() in names or rule_name in names or "all" in names):
                    return True
        return False

    def _comments(self, path: Path) -> dict[int, set[str]]:
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        found: dict[int, set[str]] = {}
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        if "darse:" in text.lower():
            for number, line in enumerate(text.split("\n"), start=1):  # BuildKit numbers lines by \n only
                match = _IGNORE.search(line)
                if match:
                    found[number] = {part.strip().lower() for part in match.group(1).split(",") if part.strip()}
        self._cache[path] = found
        return found
