"""Secrets leaked into Git (`darse secrets check --history`): every commit of every ref, read as one
`git log -p` stream.

Reported: any real secret file ever added or changed in a commit, and any secret-looking literal
(`DB_PASSWORD: hunter2`, `ENV API_TOKEN=...`, a private key) added to a Compose file or a Dockerfile.
Each problem names the commit and the path; the values read from the stream are never kept.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath

from darse.errors import DarseError
from darse.git import Git
from darse.model.dockerfiles import DOCKERFILE_GLOBS
from darse.model.repository import Repository
from darse.model.service import SECRET_SUFFIX, Service
from darse.secretlike import has_secret_shape, is_secret_literal
from darse.secrets.check import LEAKED_FILE, LEAKED_LITERAL, SecretProblem
from darse.secrets.files import secret_pairs

_MARK = "\0"
_COMPOSE_GLOBS = ("*compose*.yaml", "*compose*.yml")  # compose.yaml, docker-compose.override.yml, ...
_DIFF = re.compile(r'^diff --git "?a/.*?"? "?b/(.*?)"?$')
_YAML_MAP = re.compile(r"""^\s*(?:-\s+)?["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?\s*:\s+(.*?)\s*$""")
_YAML_LIST = re.compile(r"""^\s*-\s+["']?([A-Za-z_][A-Za-z0-9_.\-]*)=(.*?)["']?\s*$""")
_DOCKER_ENV = re.compile(r"^\s*(ENV|ARG)\s+(.*)$", re.IGNORECASE)


def scan_leaks(repository: Repository, services: list[Service] | None = None) -> list[SecretProblem]:
    """Secrets ever committed, in the log of the whole repository or only of `services`' folders."""
    if not repository.git.is_repository:
        raise DarseError(f"{repository.root} is not in a Git repository", "--history reads the Git history")
    folders = None if services is None else [repository.relative(s.path) for s in services]
    owners = _owners(repository, services)
    known = {repository.relative(pair.real) for s in services or repository.services for pair in secret_pairs(s)}
    options = [
        "-p", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "--diff-filter=d",
        "--relative", "--format=%x00%H %cs",
    ]  # fmt: skip
    git = Git(repository.root, hint="--history reads the Git history")
    with git.log_lines(*options, paths=_pathspecs(folders, known)) as lines:
        return list(_scan(lines, known, owners))


def _owners(repository: Repository, services: list[Service] | None) -> list[tuple[str, str]]:
    """(folder prefix, service name), longest prefix first, to name the service of a path."""
    chosen = services if services is not None else repository.services
    pairs = [(repository.relative(s.path), s.name) for s in chosen]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def _pathspecs(folders: list[str] | None, known: set[str]) -> list[str]:
    names = ["*" + SECRET_SUFFIX, *_COMPOSE_GLOBS, *DOCKERFILE_GLOBS]
    bases = ["" if folder in ("", ".") else folder.rstrip("/") + "/" for folder in folders] if folders else [""]
    specs = [f":(glob,icase){base}**/{name}" for base in bases for name in names]
    specs += [f":(literal){path}" for path in sorted(known) if not path.endswith(SECRET_SUFFIX)]
    return specs


def _kind(path: str, known: set[str]) -> str | None:
    name = PurePosixPath(path).name
    if name.endswith(SECRET_SUFFIX) or path in known:
        return "secret"
    if any(fnmatch.fnmatch(name, pattern) for pattern in _COMPOSE_GLOBS):
        return "compose"
    lower = name.lower()
    if any(PurePosixPath(lower).match(pattern.lower()) for pattern in DOCKERFILE_GLOBS) and not lower.endswith(
        (".md", ".dockerignore")
    ):
        return "dockerfile"
    return None


def _scan(lines: Iterable[str], known: set[str], owners: list[tuple[str, str]]) -> Iterator[SecretProblem]:
    commit = date = path = ""
    kind: str | None = None
    seen: set[tuple[str, str, str]] = set()
    for line in lines:
        if line.startswith(_MARK):
            commit, _, date = line[1:].partition(" ")
            kind = None
            continue
        if line.startswith("diff --git "):
            match = _DIFF.match(line)
            path = match.group(1) if match else ""
            kind = _kind(path, known) if path else None
            if kind == "secret" and (commit, path, "") not in seen:
                seen.add((commit, path, ""))
                yield SecretProblem(
                    path,
                    LEAKED_FILE,
                    f"{path} was committed in {commit[:12]} ({date}): its values are public in the history; "
                    "change every one of them",
                    _owner(path, owners),
                    None,
                    commit,
                )
            continue
        if kind not in ("compose", "dockerfile") or not line.startswith("+") or line.startswith("+++"):
            continue
        for key in _literals(line[1:], kind):
            if (commit, path, key) in seen:
                continue
            seen.add((commit, path, key))
            what = f"a secret-looking value of {key}" if key != "*" else "a private key or token"
            yield SecretProblem(
                path,
                LEAKED_LITERAL,
                f"{what} was added to {path} in commit {commit[:12]} ({date}); change it and move it to an env_file",
                _owner(path, owners),
                None if key == "*" else key,
                commit,
            )


def _owner(path: str, owners: list[tuple[str, str]]) -> str:
    for prefix, name in owners:
        if not prefix or path == prefix or path.startswith(prefix + "/"):
            return name
    return ""


def _literals(text: str, kind: str) -> list[str]:
    """Names of the secret-looking literals on one added line (`*` for a key- or token-shaped value)."""
    found: list[str] = []
    if kind == "compose":
        for pattern in (_YAML_LIST, _YAML_MAP):
            match = pattern.match(text)
            if match:
                value = _strip_yaml_value(match.group(2))
                if is_secret_literal(match.group(1), value):
                    found.append(match.group(1))
                break
    else:
        match = _DOCKER_ENV.match(text)
        if match:
            for key, value in _docker_pairs(match.group(2)):
                if is_secret_literal(key, value):
                    found.append(key)
    if not found and has_secret_shape(text):
        found.append("*")
    return found


def _strip_yaml_value(value: str) -> str:
    if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) >= 2:
        return value[1:-1]
    if value[:1] in ("|", ">", "&", "*", "!", "{", "["):
        return ""  # a block, an anchor, a tag or a flow collection: not a plain literal
    return value.split(" #", 1)[0].strip()


def _docker_pairs(text: str) -> list[tuple[str, str]]:
    try:
        words = shlex.split(text, comments=False, posix=True)
    except ValueError:
        words = text.split()
    if not words:
        return []
    if "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]  # ENV KEY value (legacy form)
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if sep:
            pairs.append((key, value))
    return pairs
