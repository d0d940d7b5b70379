"""A Debian base image made from Debian's own packages, for the tests that need real software.

Nothing can be pulled from Docker Hub here, so `debian:bookworm-slim` does not exist: the tests build
`darse-test/debian:bookworm` once per machine instead (debootstrap's minbase variant, imported with
`docker import`, as shared/DESIGN.md shows) and reuse it by tag afterwards. A file lock keeps
parallel test runs on one machine from building it twice.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
from pathlib import Path

DEBIAN_IMAGE = "darse-test/debian:bookworm"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
LOCK = Path(tempfile.gettempdir()) / "darse-test-debian-bookworm.lock"
BUILD_TIMEOUT = 900  # seconds: debootstrap takes about 30 s with a near mirror, more on a busy one


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def debian_base() -> str:
    """The tag of the Debian base, built now if this machine has none yet."""
    if image_exists(DEBIAN_IMAGE):
        return DEBIAN_IMAGE
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be building it: wait, then look again
        if not image_exists(DEBIAN_IMAGE):
            _build()
    return DEBIAN_IMAGE


def _build() -> None:
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    rootfs = Path(tempfile.mkdtemp(prefix="darse-debian-"))
    try:
        subprocess.run(
            [debootstrap, "--variant=minbase", SUITE, str(rootfs), MIRROR],
            check=True,
            capture_output=True,
            timeout=BUILD_TIMEOUT,
        )
        # apt's lists and cache of the bootstrap are not part of a base image
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / leftover).glob("*.deb"):
                entry.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        try:
            subprocess.run(
                ["docker", "import", "--change", "CMD /bin/bash", "-", DEBIAN_IMAGE],
                stdin=tar.stdout,
                check=True,
                capture_output=True,
                timeout=BUILD_TIMEOUT,
            )
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            tar.wait(timeout=60)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
