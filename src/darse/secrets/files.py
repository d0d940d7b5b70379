"""Which real secret files a service has, reading them, and writing them safely (0600, atomic, no clobber)."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from darse.errors import DarseError
from darse.fsutil import read_bounded
from darse.model.compose import env_files
from darse.model.dotenv import EnvEntry, env_line, parse_env
from darse.model.service import Service, env_file_path, example_for, real_for

SECRET_MODE = 0o600
MAX_SECRET_FILE_BYTES = 1024 * 1024
_PLAIN = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-]*)\s*=")
_COLON = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-]*)\s*:")


@dataclass(frozen=True)
class SecretPair:
    """A real secret file (present or not) and its committed example (None when it has none)."""

    real: Path
    example: Path | None


@dataclass(frozen=True)
class EnvFileUse:
    """An `env_file:` entry of a Compose service, resolved."""

    compose_service: str
    path: Path
    required: bool


def secret_pairs(service: Service) -> list[SecretPair]:
    """Every example's real file, then every other real secret file the model knows (env_files with a
    `.secrets` name or an example, `*.secrets` files in the folder), each once, in a stable order."""
    found: dict[Path, Path | None] = {}
    for example in sorted(service.example_paths):
        found[real_for(example)] = example
    for real in service.secret_files:
        if real not in found:
            example = example_for(real)
            found[real] = example if example.exists() else None
    return [SecretPair(real, example) for real, example in found.items()]


def env_file_uses(service: Service) -> list[EnvFileUse]:
    """Every env_file of every Compose service of the folder (a broken Compose file has none)."""
    uses = []
    for name, node in service.compose.services():
        for ref in env_files(node):
            path = env_file_path(service.compose_path, ref.path)
            if path is not None:
                uses.append(EnvFileUse(name, path, ref.required))
    return uses


def read_real_text(path: Path, errors: str = "replace") -> str:
    """A real secret file's text. It may be a link (hosts keep secrets elsewhere), but only to a regular
    file (`UnsafeFile`, a DarseError, otherwise) and of at most MAX_SECRET_FILE_BYTES. OSError propagates."""
    return read_bounded(path, MAX_SECRET_FILE_BYTES, within=Path("/")).decode("utf-8", errors)


def read_real(path: Path) -> list[EnvEntry]:
    """A real secret file's entries, read the lenient way Compose reads env files. OSError propagates."""
    return parse_env(read_real_text(path))


def unusual_lines(text: str) -> list[tuple[int, str, str]]:
    """`(line, key, why)` for each line that is not plain `KEY=value` and that Compose reads otherwise
    than darse's examples mean: `KEY: value`, a quote not closed on its line, a line with no key.
    Never the value: callers report the line number and the key only."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = env_line(raw)
        if line is None:
            continue
        match = _PLAIN.match(line)
        if match is None:
            colon = _COLON.match(line)
            if colon is not None:
                found.append((number, colon.group(1), "is written `KEY: value`; write KEY=value, as the example does"))
            else:
                found.append((number, "", "is not KEY=value"))
            continue
        value = line[match.end() :].strip()
        quote = value[:1]
        if quote in ("'", '"') and quote not in value[1:].replace("\\" + quote, ""):
            found.append(
                (number, match.group(1), "opens a quote it does not close: Compose reads the next lines into it")
            )
    return found


def write_secret(path: Path, text: str, overwrite: bool) -> None:
    """Write `text` to `path` with mode 0600, atomically: a temporary file in the same folder, created
    0600 from the start, fsynced, then linked into place (which fails if `path` exists, so a file
    made meanwhile is never overwritten) or, with `overwrite`, renamed over it."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, SECRET_MODE)
        if overwrite:
            os.replace(temp, path)
            return
        try:
            os.link(temp, path)
        except FileExistsError:
            raise DarseError(
                f"{path.name} appeared while darse was writing it; it was left as it is",
                "run the command again",
            ) from None
        except OSError:  # a file system without hard links: check, then rename
            if path.exists():
                raise DarseError(f"{path.name} already exists; it was left as it is", "use --force") from None
            os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)
