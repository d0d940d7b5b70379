"""Hostile image archives and layouts: memory and time stay bounded, and every refusal is one line.

Each case is what an attacker who hands an admin an archive (or an OCI layout, or a registry) could
send; before these bounds existed they grew to gigabytes, ran for minutes, hung, or raised tracebacks.
"""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import pytest

from darse.errors import DarseError
from darse.images.inspect.analysis import analyse, load_config
from darse.images.inspect.sources import open_source
from darse.images.inspect.sources.archive import MAX_DOCUMENTS_BYTES

from helpers.inspect_tars import archive_of, config_for, docker_save, layer_tar, member, oci_layout, sha

LAYER = layer_tar(member("etc/hostname", b"box\n"))


def _load(path: Path):
    return analyse(open_source(str(path)).load())


def test_many_large_json_members_are_refused_not_kept(tmp_path: Path) -> None:
    """500 members of 4 MiB of JSON (a 2 MB .tar.gz) used to be kept in memory whole: 2 GB."""
    blob = b"[" + b" " * (4 * 1024 * 1024 - 2) + b"]"
    archive = tmp_path / "many.tar.gz"
    archive.write_bytes(archive_of([(f"doc{n}.json", blob) for n in range(40)], compress=True))
    tracemalloc.start()
    try:
        with pytest.raises(DarseError, match="bytes of JSON documents"):
            _load(archive)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_DOCUMENTS_BYTES + 32 * 1024 * 1024


def test_a_manifest_listing_one_layer_200000_times_is_refused(tmp_path: Path) -> None:
    config = config_for([LAYER] * 200_000)
    manifest = json.dumps([{"Config": "c.json", "Layers": ["l/layer.tar"] * 200_000}]).encode()
    archive = tmp_path / "repeat.tar"
    archive.write_bytes(archive_of([("l/layer.tar", LAYER), ("c.json", config), ("manifest.json", manifest)]))
    with pytest.raises(DarseError, match="lists 200000 layers"):
        _load(archive)


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("manifest.json", b"[" * 100_000 + b"]" * 100_000),
        ("index.json", b'{"manifests":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ],
)
def test_deeply_nested_manifests_are_one_line_errors(tmp_path: Path, name: str, document: bytes) -> None:
    archive = tmp_path / "deep.tar"
    archive.write_bytes(archive_of([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), (name, document)]))
    with pytest.raises(DarseError, match="nested too deeply"):
        _load(archive)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(rootfs=[1]), "rootfs is a list, not an object"),
        (lambda c: c["rootfs"].update(diff_ids=7), "diff_ids is not a list"),
        (lambda c: c.update(history="x"), "history is a string"),
        (lambda c: c["config"].update(Env={"A": "b"}), "config.Env is an object, not a list"),
        (lambda c: c["config"].update(ExposedPorts=["80/tcp"]), "config.ExposedPorts is a list"),
    ],
)
def test_config_fields_of_the_wrong_type_are_named(tmp_path: Path, change, message: str) -> None:
    config = json.loads(config_for([LAYER], User="app"))
    change(config)
    raw = json.dumps(config).encode()
    manifest = json.dumps([{"Config": "c.json", "Layers": ["l/layer.tar"]}]).encode()
    archive = tmp_path / "typed.tar"
    archive.write_bytes(archive_of([("l/layer.tar", LAYER), ("c.json", raw), ("manifest.json", manifest)]))
    with pytest.raises(DarseError, match=message):
        _load(archive)


def test_a_well_formed_config_still_loads() -> None:  # the near miss of the cases above
    config = load_config(config_for([LAYER], User="app", Env=["A=b"], ExposedPorts={"80/tcp": {}}))
    assert config["rootfs"]["diff_ids"] == [sha(LAYER)]


def _layout_with_blob_replaced(tmp_path: Path, make) -> Path:
    root = tmp_path / "layout"
    oci_layout(root, [LAYER])
    target = next(p for p in (root / "blobs" / "sha256").iterdir() if p.read_bytes()[:2] == b"\x1f\x8b")
    target.unlink()  # the gzip layer blob, replaced
    make(target)
    return root


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.symlink_to("/dev/zero"), "outside the tree"),
        (lambda p: p.symlink_to("/etc/passwd"), "outside the tree"),
        (lambda p: os.mkfifo(p), "not a regular file"),
    ],
    ids=["link-to-dev-zero", "link-out-of-the-layout", "fifo"],
)
def test_oci_layout_blobs_that_are_not_regular_files_are_refused(tmp_path: Path, make, message: str) -> None:
    root = _layout_with_blob_replaced(tmp_path, make)
    with pytest.raises(DarseError, match=message):
        _load(root)


def test_a_layout_whose_index_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    root.mkdir()
    os.mkfifo(root / "index.json")
    with pytest.raises(DarseError, match="not a regular file"):
        _load(root)


def test_an_honest_archive_still_reads(tmp_path: Path) -> None:  # the near miss of every case above
    archive = tmp_path / "good.tar"
    archive.write_bytes(docker_save([LAYER]))
    image = _load(archive)
    assert [layer.verified for layer in image.layers] == [True]
