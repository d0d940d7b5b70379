"""The darse image of `darse serve init` and `darse certs init`, built for the tests that run it.

A full build takes minutes (Debian's packages, then every locked package through a PyPI mirror on
127.0.0.1, tests/helpers/pypi_mirror.py), so each image is built once per machine and source of darse:
its tag is the hash of the build context, and a test reuses it by tag. The dashboard's image is built
first; the watcher's folder has the same install steps and files (tests/scaffold/test_certs_init.py),
so its build takes every install layer from Docker's cache of the dashboard's and only adds its last
lines. The build cache is keyed by the mirror's address too (a build argument), so the watcher's build
is given the one the dashboard's layers were made with, and no network: a cache miss fails the build
instead of installing again.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import tempfile
from pathlib import Path

from darse.scaffold.darse_image import COMPOSE_BACKEND, COMPOSE_LOCK_NAME, LOCK_NAME, image_lock, split_lock

from helpers.debian import debian_base, image_exists
from helpers.pypi_mirror import mirror_files, serve_mirror

BUILD_TIMEOUT = 1200
SERVE_REPOSITORY = "darse-test/serve"


def _docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check:
        assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr[-2000:]}"
    return proc


def context_tag(folder: Path, files: list[str], repository: str) -> str:
    """`repository:HASH`, HASH of what the build reads (README.md names a run's temporary paths, and no
    step copies it)."""
    inputs = ["Dockerfile", LOCK_NAME, COMPOSE_LOCK_NAME, *(name for name in files if name.endswith(".whl"))]
    context = b"".join((folder / name).read_bytes() for name in inputs)
    return f"{repository}:{hashlib.sha256(context).hexdigest()[:16]}"


def serve_image(folder: Path, files: list[str]) -> str:
    """The image of a `darse serve init` folder (named darse), built now if this machine has none yet."""
    tag = context_tag(folder, files, SERVE_REPOSITORY)
    if image_exists(tag):
        return tag
    base = debian_base()
    with tempfile.TemporaryDirectory(prefix="darse-test-locks-") as temp:
        locks = Path(temp)
        rest, compose = split_lock(image_lock())
        (locks / LOCK_NAME).write_text(rest)
        (locks / COMPOSE_LOCK_NAME).write_text(compose)
        (locks / "backend.lock").write_text(COMPOSE_BACKEND + "\n")
        files_dir = mirror_files(
            {
                locks / LOCK_NAME: ["--only-binary=:all:"],
                locks / "backend.lock": ["--only-binary=:all:"],
                locks / COMPOSE_LOCK_NAME: ["--no-binary=:all:"],
            }
        )
    with serve_mirror(files_dir) as index:
        build = _docker(
            "build", "--network", "host", "--build-arg", f"DEBIAN_IMAGE={base}",
            "--build-arg", f"PIP_INDEX_URL={index}", "-t", tag, str(folder),
            timeout=BUILD_TIMEOUT, check=False,
        )  # fmt: skip
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-2000:]
    # the images of earlier sources of darse (~900 MB each) go; one in use by a container stays
    for old in _docker("images", "-q", "--filter", f"reference={SERVE_REPOSITORY}", check=False).stdout.split():
        if old != _docker("images", "-q", tag).stdout.strip():
            _docker("rmi", old, check=False)
    return tag


def index_url_of(tag: str) -> str:
    """The PIP_INDEX_URL the install step of image `tag` was built with (its history records it)."""
    history = _docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", tag).stdout
    found = re.search(r"PIP_INDEX_URL=(\S+)", history)
    assert found, f"{tag} has no install step built with PIP_INDEX_URL"
    return found.group(1)


def image_like(folder: Path, files: list[str], repository: str, like: str) -> str:
    """The image of another darse folder whose install steps are those of image `like`: every install
    layer comes from the build cache, and a miss fails (no network), so nothing is installed twice."""
    tag = context_tag(folder, files, repository)
    if image_exists(tag):
        return tag
    build = _docker(
        "build", "--network", "none", "--build-arg", f"DEBIAN_IMAGE={debian_base()}",
        "--build-arg", f"PIP_INDEX_URL={index_url_of(like)}", "-t", tag, str(folder),
        timeout=300, check=False,
    )  # fmt: skip
    assert build.returncode == 0, "not built from the cache: " + build.stdout[-4000:] + build.stderr[-2000:]
    assert "Using cache" in build.stdout  # the classic builder says so of each layer it reuses
    for old in _docker("images", "-q", "--filter", f"reference={repository}", check=False).stdout.split():
        if old != _docker("images", "-q", tag).stdout.strip():
            _docker("rmi", old, check=False)
    return tag
