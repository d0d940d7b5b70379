"""Example secret files (`NAME.secrets.example`), read strictly: they are darse's input, not Compose's.

An example is an env file: `KEY=VALUE` lines, `#` comments, blank lines, an optional `export `
prefix, values bare or in single or double quotes on one line. Each value is one of:

- a placeholder, replaced by a fresh random value: empty, `changeme` (also `change_me`,
  `change-me`, `CHANGE_ME`, any case), anything in angle brackets (`<your password>`), or `@generate`;
- a link, `@generate:LABEL`: every key of one service whose value is `@generate:LABEL` (with the same
  LABEL, in any of its example files) gets the same random value, for settings that must match
  (an application's database password and the database's own);
- anything else, a real default that is copied as written.

A line that is none of these is an error naming `file:line`, never the line's text: a real secret
pasted into an example by mistake must not be echoed to a terminal or a CI log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from darse.errors import DarseError

GENERATE = "@generate"
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_CHANGE_ME = {"changeme", "change_me", "change-me"}


@dataclass(frozen=True)
class ExampleEntry:
    key: str
    value: str  # unquoted
    line: int
    generate: bool  # a placeholder or a link: init writes a random value
    label: str | None = None  # the LABEL of `@generate:LABEL`
    export: bool = False  # written with an `export ` prefix


@dataclass(frozen=True)
class Example:
    path: Path
    lines: tuple[str, ...]  # the file's lines, to copy comments and defaults as written
    entries: tuple[ExampleEntry, ...]

    def keys(self) -> list[str]:
        return [entry.key for entry in self.entries]


class ExampleError(DarseError):
    """A malformed example line; the message names the file and line, never the content."""


def is_placeholder(value: str) -> bool:
    """Whether a value asks to be generated: empty, changeme, `<...>`, `@generate` or `@generate:LABEL`."""
    text = value.strip()
    return (
        not text
        or text.lower() in _CHANGE_ME
        or (len(text) >= 2 and text.startswith("<") and text.endswith(">"))
        or text == GENERATE
        or text.startswith(GENERATE + ":")
    )


def parse_example(text: str, where: str) -> tuple[ExampleEntry, ...]:
    """Parse an example's text; `where` names the file in errors (`wiki/secrets/wiki.secrets.example`)."""
    entries: list[ExampleEntry] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry = _parse_line(line, number, where)
        if entry.key in seen:
            raise ExampleError(
                f"{where}:{number}: key {entry.key} is already set on line {seen[entry.key]}",
                "each key appears once in an example",
            )
        seen[entry.key] = number
        entries.append(entry)
    return tuple(entries)


def _parse_line(line: str, number: int, where: str) -> ExampleEntry:
    export = line.startswith("export ")
    if export:
        line = line[len("export ") :].lstrip()
    key, sep, rest = line.partition("=")
    key = key.strip()
    if not sep or not _KEY.fullmatch(key):
        raise ExampleError(
            f"{where}:{number}: not a KEY=VALUE line",
            "write KEY=VALUE (KEY of letters, digits, _ . -), or start the line with # for a comment",
        )
    value = _unquote(rest.strip(), number, where)
    generate = is_placeholder(value)
    label = None
    if value.startswith(GENERATE + ":"):
        label = value[len(GENERATE) + 1 :]
        if not _LABEL.fullmatch(label):
            raise ExampleError(
                f"{where}:{number}: {key} has a malformed @generate label",
                "write @generate:LABEL with LABEL of letters, digits, _ . - (for example @generate:db-password)",
            )
    return ExampleEntry(key, value, number, generate, label, export)


def _unquote(value: str, number: int, where: str) -> str:
    if value[:1] not in ("'", '"'):
        if " #" in value:
            value = value.split(" #", 1)[0]
        return value.rstrip()
    quote = value[0]
    end = value.find(quote, 1)
    while quote == '"' and end > 0 and value[end - 1] == "\\":
        end = value.find(quote, end + 1)
    trailing = value[end + 1 :].strip() if end > 0 else ""
    if end < 0 or (trailing and not trailing.startswith("#")):
        raise ExampleError(
            f"{where}:{number}: unterminated or malformed quoted value",
            "close the quote on the same line; examples hold one-line values",
        )
    body = value[1:end]
    return body.replace('\\"', '"').replace("\\n", "\n") if quote == '"' else body


MAX_EXAMPLE_BYTES = 1024 * 1024


def load_example(path: Path, where: str, within: Path | None = None) -> Example:
    """Read and parse one example file; unreadable or malformed is a DarseError naming `where`. It is
    committed, so a link is followed only to a regular file inside `within` (the repository)."""
    from darse.fsutil import read_bounded

    try:
        # an editor's byte-order mark is not part of the first key
        text = read_bounded(path, MAX_EXAMPLE_BYTES, within=within or path.parent).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExampleError(f"{where}: not UTF-8 text", "save the example as UTF-8") from None
    except OSError as exc:
        raise ExampleError(f"{where}: cannot read: {exc.strerror}", "check the file's permissions") from None
    return Example(path, tuple(text.splitlines()), parse_example(text, where))
