"""Hiding secret values in everything darse shows or stores: one `Masker` for every command.

Which values are secret: every value of a key that looks secret (PASSWORD, TOKEN, ...), whatever its
length, and every other value of 6 characters or more in a real secret file (an `env_file` of a
service, or a `*.secrets` file); anything shaped like a key (a private key block, a cloud token). Short
values of other keys (ports, booleans) stay visible: hiding `5432` everywhere would hide nothing.

The values are taken from the files by a reader that accepts more than any one syntax: Compose reads
`KEY=value`, `KEY: value`, `export KEY=value`, quoted values over several lines and values whose
quote never closes, and its errors quote what it read. Every reading of a line that Compose could
make is a value to hide (a value hidden once too often costs nothing; one shown is a leak).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darse.model.dotenv import env_line
from darse.secretlike import has_secret_shape, is_secret_name

MASK = "****"
MIN_LENGTH = 6  # shorter values of keys that do not look secret ("5432", "wiki") stay visible
MAX_ENV_FILE_BYTES = 1024 * 1024
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_SEPARATOR = re.compile(r"\s*[=:]\s?")
_PIECES = re.compile(r"[\s\\\"'`]+")


@dataclass(frozen=True)
class SecretValue:
    key: str  # "" when a line has no readable key (the inside of a multi-line value)
    value: str


@dataclass
class Masker:
    """Knows a service's secret values and hides them in text and in JSON-like data."""

    anywhere: set[str] = field(default_factory=set)  # hidden wherever they appear
    whole: set[str] = field(default_factory=set)  # short secret values: hidden where a string is exactly one
    keys: set[str] = field(default_factory=set)  # env keys whose value is hidden in any `environment`

    def add(self, key: str, value: str) -> None:
        value = value.strip("\r")
        if not value or value == MASK:
            return
        if key:
            self.keys.add(key)
        if len(value) >= MIN_LENGTH:
            self.anywhere.add(value)
            # errors quote values escaped (Go's %q doubles backslashes, escapes quotes and newlines):
            # the pieces between such characters are hidden on their own as well
            self.anywhere.update(piece for piece in _PIECES.split(value) if len(piece) >= MIN_LENGTH)
        elif key and is_secret_name(key):
            self.whole.add(value)

    def text(self, text: str) -> str:
        """`text` with every known secret value replaced by `****` (a key-shaped text entirely)."""
        if not text:
            return text
        if has_secret_shape(text) or text in self.whole:
            return MASK
        for value in sorted(self.anywhere, key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK)
        return text

    def data(self, node: Any) -> Any:
        """A copy of JSON-like data with every string masked, and every `environment` value of a key
        read from a secret file, or looking secret, replaced by `****`."""
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, list):
            return [self.data(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: self.data(value) for key, value in node.items()}
        environment = out.get("environment")
        if isinstance(environment, dict):
            for key, value in environment.items():
                if value is not None and (key in self.keys or is_secret_name(str(key))):
                    environment[key] = MASK
        return out


def secret_values(text: str) -> Iterator[SecretValue]:
    """Every value Compose could read in env-file `text`, under every syntax it accepts."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = env_line(lines[index])
        index += 1
        if line is None:
            continue
        key_match = _KEY.match(line)
        separator = _SEPARATOR.match(line, key_match.end()) if key_match else None
        if key_match is None or separator is None:  # no key: part of a value (or garbage): hide it whole
            yield SecretValue("", line)
            continue
        key, rest = key_match.group(), line[separator.end() :].strip()
        yield SecretValue(key, rest)
        if rest[:1] in ("'", '"'):
            quote, body = rest[0], rest[1:]
            following: list[str] = []
            ahead = index
            while quote not in body and ahead < len(lines) and len(following) < 1000:
                following.append(lines[ahead])  # Compose reads on until the quote closes...
                body += "\n" + lines[ahead]
                ahead += 1
            # ...and where it never closes, each following line is read again on its own below
            for part in (body, *(text.split(quote, 1)[0] for text in (body, *following))):
                yield SecretValue(key, part)
                if quote == '"':
                    yield SecretValue(key, part.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\"))
        elif " #" in rest or "\t#" in rest:
            yield SecretValue(key, re.split(r"\s#", rest, maxsplit=1)[0].rstrip())


def masker_for_files(secret_files: Iterable[Path]) -> Masker:
    """A Masker for every value of `secret_files`. (A `.env` mostly holds settings such as a domain
    name: `masker_for_compose` takes only its secret-named values.)"""
    masker = Masker()
    for path in secret_files:
        for entry in secret_values(_read(path)):
            masker.add(entry.key, entry.value)
    return masker


def masker_for_compose(*compose_paths: Path) -> Masker:
    """The Masker of Compose files (a release of an old commit and the working tree's file it stands
    for): their services' env_files, every `*.secrets` file beside them, and the secret-named values of
    the `.env` files Compose reads for interpolation."""
    from darse.model.compose import env_files, load_compose
    from darse.model.service import SECRET_SUFFIX, env_file_path

    files: dict[Path, None] = {}
    dotenvs: list[Path] = []
    literal_secrets: list[tuple[str, str]] = []
    for compose_path in dict.fromkeys(compose_paths):
        for _name, node in load_compose(compose_path).services():
            for ref in env_files(node):
                path = env_file_path(compose_path, ref.path)
                if path is not None:
                    files[path] = None
            literal_secrets.extend(_literal_secrets(node))
        for path in sorted(compose_path.parent.glob("*" + SECRET_SUFFIX)):
            files[path] = None
        dotenvs.append(compose_path.parent / ".env")
    masker = masker_for_files(files)
    for key, value in literal_secrets:
        masker.add(key, value)
    for dotenv in dotenvs:
        for entry in secret_values(_read(dotenv)):
            if is_secret_name(entry.key):
                masker.add(entry.key, entry.value)
            else:  # a setting, such as a URL: the password it may carry is a secret all the same
                password = _url_password(entry.value)
                if password:
                    masker.add("", password)
    return masker


def _url_password(value: str) -> str:
    """The password of `scheme://user:password@host...` in `value`, else ''."""
    found = re.search(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@", value)
    return found.group(1) if found else ""


def _literal_secrets(service: Any) -> Iterator[tuple[str, str]]:
    """Secret-named values written into a Compose file's `environment:` itself (lint says to move them to
    a secrets file; until then they are hidden like the others). `${VAR}` references are not values."""
    from darse.model.compose import environment

    for key, node in environment(service).items():
        value = node.text() or ""  # None for a bare `- KEY` (taken from the shell)
        if is_secret_name(key) and value and "$" not in value:
            yield key, value


def _read(path: Path) -> str:
    """A secret file's text, bounded. A real secret file may be a link (hosts keep secrets elsewhere),
    followed only to a regular file: a FIFO or a device would block or never end. Nothing to read
    (absent, special, huge) gives nothing to hide: Compose refuses such files as well."""
    from darse.fsutil import UnsafeFile, read_bounded

    try:
        return read_bounded(path, MAX_ENV_FILE_BYTES, within=Path("/")).decode("utf-8", "replace")
    except (UnsafeFile, OSError):
        return ""
