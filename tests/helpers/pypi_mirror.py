"""A PyPI mirror on 127.0.0.1 holding exactly the files of a lock, for image builds in tests.

The containers of a `docker build` here do not trust the HTTPS proxy this machine reaches PyPI
through, so pip inside a build cannot verify pypi.org. This host's pip can: it downloads the locked
files once per machine (cached by the lock's content), and a plain HTTP server serves them as a PEP 503
"simple" index that a build reaches with `--network host` and `--build-arg PIP_INDEX_URL=...`. The files
are PyPI's own, and pip in the build still checks every one against the lock's sha256.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import html
import http.server
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE = Path(tempfile.gettempdir()) / "darse-test-pypi"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _download(lock: Path, target: Path, extra: list[str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--require-hashes",
         "--no-deps", "-d", str(target), *extra, "-r", str(lock)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip


def mirror_files(locks: dict[Path, list[str]]) -> Path:
    """A folder with the files of every lock (each downloaded with its extra pip options), made once."""
    key = hashlib.sha256()
    for lock, extra in sorted(locks.items()):
        key.update(lock.read_bytes() + " ".join(extra).encode())
    folder = CACHE / key.hexdigest()[:16]
    if folder.is_dir():
        return folder
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not folder.is_dir():
            partial = Path(tempfile.mkdtemp(dir=CACHE, prefix=".partial-"))
            try:
                for lock, extra in locks.items():
                    _download(lock, partial, extra)
                partial.rename(folder)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
    return folder


def _simple_tree(files: Path, root: Path) -> None:
    """PEP 503: /simple/<project>/index.html linking to /files/<file>#sha256=..."""
    (root / "files").mkdir()
    projects: dict[str, list[Path]] = {}
    for path in sorted(files.iterdir()):
        if path.name.endswith((".whl", ".tar.gz")):
            shutil.copy(path, root / "files" / path.name)
            projects.setdefault(_canonical(path.name.split("-")[0]), []).append(path)
    for project, paths in projects.items():
        page = root / "simple" / project / "index.html"
        page.parent.mkdir(parents=True)
        links = "".join(
            f'<a href="/files/{html.escape(p.name)}#sha256={hashlib.sha256(p.read_bytes()).hexdigest()}">'
            f"{html.escape(p.name)}</a>\n"
            for p in paths
        )
        page.write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")


@contextmanager
def serve_mirror(files: Path) -> Iterator[str]:
    """Serve `files` as a simple index; yields its URL (http://127.0.0.1:PORT/simple)."""
    root = Path(tempfile.mkdtemp(prefix="darse-pypi-mirror-"))
    try:
        _simple_tree(files, root)
        handler = functools.partial(_QuietHandler, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/simple"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass
