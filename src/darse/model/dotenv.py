"""`.env` and env_file reading, the way Compose reads them: `KEY=VALUE`, quotes, comments, `export`.

Values are returned to the caller only; nothing here prints or logs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EnvEntry:
    key: str
    value: str
    line: int


def env_line(raw: str) -> str | None:
    """One line of an env file as Compose reads it before the key: stripped, `export ` dropped; None
    for a blank line or a comment. Shared by every reader of env files (entries, masking, checks)."""
    line = raw.strip()
    if not line or line.startswith("#"):
        return None
    return line[len("export ") :].lstrip() if line.startswith("export ") else line


def parse_env(text: str) -> list[EnvEntry]:
    """Parse env-file text into entries; malformed lines (no `=`, bad key) are skipped."""
    entries: list[EnvEntry] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line_no = index + 1
        line = env_line(lines[index])
        index += 1
        if line is None:
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key or any(c.isspace() for c in key):
            continue
        value = value.strip()
        if value[:1] in ("'", '"'):
            quote = value[0]
            body = value[1:]
            # a quoted value may span several lines
            while quote not in body and index < len(lines):
                body += "\n" + lines[index]
                index += 1
            value = body.split(quote, 1)[0]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        entries.append(EnvEntry(key, value, line_no))
    return entries


def read_env_file(path: Path) -> dict[str, str]:
    """Variables of an env file; an absent or unreadable file gives no variables."""
    from darse.fsutil import read_text_file

    try:
        text = read_text_file(path, errors="replace")
    except OSError:  # absent, unreadable; a link out of the repository or a special file (UnsafeFile)
        return {}
    return {entry.key: entry.value for entry in parse_env(text)}
