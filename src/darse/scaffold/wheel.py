"""A wheel of the darse that is running, packed byte for byte the same from the same source.

`darse serve init` puts it in the dashboard's service folder, whose Dockerfile installs it: darse is
not taken from a package index, so the image holds exactly the darse that wrote the folder, and the
wheel's sha256 in the folder's lock pins it like any other dependency. Entries are sorted and dated
1980-01-01 (the zip format's first day), so packing the same files again gives the same bytes and
the same hash; a change of darse's source gives a new hash that the Dockerfile's install refuses
until the lock is renewed with it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import darse

_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}
_DATE = (1980, 1, 1, 0, 0, 0)
_TAG = "py3-none-any"


@dataclass(frozen=True)
class Wheel:
    filename: str  # darse-VERSION-py3-none-any.whl
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest},{len(data)}"


def _package_files() -> list[tuple[str, bytes]]:
    """Every file of the darse package (code, templates, static files, data), by path in the wheel."""
    root = Path(darse.__file__).resolve().parent
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_dir() or _SKIP_DIRS.intersection(relative.parts) or path.suffix in _SKIP_SUFFIXES:
            continue
        if path.is_symlink():
            continue  # a link in a source tree is not part of the package
        files.append((f"darse/{relative.as_posix()}", path.read_bytes()))
    return files


def _metadata(version: str) -> str:
    """METADATA: name, version and the dependencies as the installed darse declares them."""
    installed = metadata.metadata("darse")
    lines = ["Metadata-Version: 2.1", "Name: darse", f"Version: {version}"]
    summary = installed.get("Summary")
    if summary:
        lines.append(f"Summary: {summary}")
    python = installed.get("Requires-Python")
    if python:
        lines.append(f"Requires-Python: {python}")
    lines += [f"Requires-Dist: {requirement}" for requirement in installed.get_all("Requires-Dist") or []]
    return "\n".join(lines) + "\n"


def build_wheel() -> Wheel:
    """Pack the running darse; the version is the installed distribution's."""
    version = metadata.version("darse")
    dist_info = f"darse-{version}.dist-info"
    entries = _package_files()
    entries += [
        (f"{dist_info}/METADATA", _metadata(version).encode("utf-8")),
        (
            f"{dist_info}/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: darse serve init\nRoot-Is-Purelib: true\nTag: {_TAG}\n".encode(),
        ),
        (f"{dist_info}/entry_points.txt", b"[console_scripts]\ndarse = darse.cli.main:run\n"),
    ]
    record = "".join(f"{name},{_record_hash(data)}\n" for name, data in entries) + f"{dist_info}/RECORD,,\n"
    entries.append((f"{dist_info}/RECORD", record.encode("utf-8")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return Wheel(f"darse-{version}-{_TAG}.whl", buffer.getvalue())
