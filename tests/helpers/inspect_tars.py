"""Helpers for the pure inspect tests: layers, `docker save` archives and OCI layouts built in memory."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

from darse.images.inspect.sources.base import LoadedImage


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = mode
    info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    return info, (data if info.size else None)


def layer_tar(*members) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_for(layers: list[bytes], **settings) -> bytes:
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2025-01-02T03:04:05.123456789Z",
            "config": settings,
            "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in layers]},
            "history": [{"created_by": f"/bin/sh -c step {n}"} for n in range(len(layers))],
        }
    ).encode()


def docker_save(layers: list[bytes], manifest_first: bool = False, **settings) -> bytes:
    config = config_for(layers, **settings)
    config_name = sha(config)[7:] + ".json"
    names = [f"{sha(t)[7:]}/layer.tar" for t in layers]
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["x/y:1"], "Layers": names}]).encode()
    items = [(n, t) for n, t in zip(names, layers, strict=True)] + [(config_name, config)]
    items = [("manifest.json", manifest), *items] if manifest_first else [*items, ("manifest.json", manifest)]
    return archive_of(items)


def archive_of(items: list[tuple[str, bytes]], compress: bool = False) -> bytes:
    """A tar (gzip-compressed with `compress`) of regular files, in the order given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in items:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), 9) if compress else buffer.getvalue()


def oci_layout(root: Path, layers: list[bytes], platform=("linux", "amd64")) -> None:
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict:
        (blobs / sha(data)[7:]).write_bytes(data)
        return {"digest": sha(data), "size": len(data)}

    config = config_for(layers)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **put(gzip.compress(t))} for t in layers
            ],
        }
    ).encode()
    other = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": put(b"{}"),
            "layers": [],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **put(other),
                "platform": {"os": "linux", "architecture": "s390x"},
            },
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **put(manifest),
                "platform": {"os": platform[0], "architecture": platform[1]},
            },
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


def loaded(layers: list[bytes], **settings) -> LoadedImage:
    from darse.images.inspect.sources.archive import index_reader

    indexes = [index_reader(io.BytesIO(t), f"l{n}") for n, t in enumerate(layers)]
    return LoadedImage("test", "test", config_for(layers, **settings), indexes)
