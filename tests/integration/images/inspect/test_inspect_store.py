"""The engine's overlay2 layer store against its export, on the real engine: for every test image, both
sources give the same report field by field and the same entries in the same order; a hostile image
reads nothing outside its layer directories; an image removed or retagged while read is a one-line error.

The fields allowed to differ are the ones that name how the image was read (docs/inspect.md, "Read
from the layer store"): the whole `source` block, each layer's `verified` (null from the store: the
digests are not recomputed) and `tar_size` (null from the store: no tar is made)."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
import uuid

import pytest
from test_inspect_images import DOCKERFILE, INSTALL_SH, KEY, OS_RELEASE, WASTED

from darse.engine import layer_store
from darse.errors import DarseError
from darse.images.inspect import analyse, open_source
from darse.images.inspect.extract import extract
from darse.images.inspect.report import build
from darse.images.inspect.sources import engine_source
from darse.images.inspect.sources.store import StoreSource

from helpers.engine import build_image, docker_cli, ensure_busybox
from helpers.inspect_tars import archive_of, config_for, layer_tar, member, sha
from helpers.tcp_engine import engine_over_tcp

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
# What may differ between the two ways of reading (and nothing else).
SOURCE_FIELDS = ("source",)
LAYER_FIELDS = ("verified", "tar_size")

SPECIAL = """FROM darse-test/busybox:base
RUN mkdir -p /dev2 /perm /tmpdir /perm/wwdir && mknod /dev2/null c 1 3 && mknod /dev2/blk b 7 200 \\
 && mkfifo /dev2/fifo && touch /perm/ww && chmod 666 /perm/ww && chmod 1777 /tmpdir && chmod 777 /perm/wwdir \\
 && touch /perm/sg && chmod 2755 /perm/sg && ln -s ../perm/ww /perm/rel && ln -s /nowhere /perm/dangling \\
 && echo a > /perm/x && ln /perm/x /perm/y && ln /perm/x /perm/z && head -c 150 /dev/urandom > /perm/key.pem \\
 && mkdir -p '/odd/a b' /odd/a.b /odd/a/b && echo 1 > '/odd/a b/f' && echo 2 > /odd/a.b/f && echo 3 > /odd/a/b/f
RUN rm /dev2/fifo && mknod /dev2/zero c 1 5 && rm /perm/y && chmod 600 /perm/z && echo bb > /perm/x2 \\
 && mv /perm/x2 /perm/x && rm -rf /perm/wwdir && mkdir /perm/wwdir && touch /perm/wwdir/new && rm -rf /odd/a
"""
# A second image on top of the first test image: its lower layers are the same directories.
SHARED = """FROM {base}
USER 0:0
RUN echo more > /more && rm /keep/k.bin && rm -rf /app
"""


def _tag(name: str) -> str:
    return f"darse-test/store-{name}-{uuid.uuid4().hex[:8]}:1"


def _load(layers: list[bytes], tag: str, tmp_path) -> None:
    """`docker load` an archive made by hand: whiteouts and opaque markers as the tar names them,
    which the engine turns into overlay2's character devices and xattrs when it stores the layers."""
    config = config_for(layers)
    name = sha(config)[7:] + ".json"
    names = [f"{sha(t)[7:]}/layer.tar" for t in layers]
    manifest = json.dumps([{"Config": name, "RepoTags": [tag], "Layers": names}]).encode()
    path = tmp_path / "load.tar"
    path.write_bytes(archive_of([*zip(names, layers, strict=True), (name, config), ("manifest.json", manifest)]))
    subprocess.run([docker_cli(), "load", "-q", "-i", str(path)], check=True, capture_output=True)


def _hostile_layers() -> list[bytes]:
    """Links to host paths, devices and a FIFO; a later layer deletes, hides and overwrites."""
    first = layer_tar(
        member("dev/", kind=b"5", mode=0o755),
        member("dev/blk", kind=b"4", mode=0o600),
        member("dev/zero", kind=b"3", mode=0o666),
        member("escape", kind=b"2", link="/etc"),
        member("fifo", kind=b"6", mode=0o644),
        member("opq/", kind=b"5", mode=0o755),
        member("opq/old", b"old bytes" * 20),
        member("proc-env", kind=b"2", link="/proc/self/environ"),
        member("root-of-1", kind=b"2", link="/proc/1/root"),
        member("shadow-link", kind=b"2", link="/etc/shadow"),
        member("up", kind=b"2", link="../../../../../../etc/passwd"),
    )
    second = layer_tar(
        member(".wh.fifo"),
        member("data.bin", b"d" * 300),
        member("escape2", kind=b"2", link="/etc/shadow"),
        member("hard", kind=b"1", link="data.bin"),
        member("opq/", kind=b"5", mode=0o755),
        member("opq/.wh..wh..opq"),
        member("opq/new", b"new"),
    )
    return [first, second]


def _block_major_minor(tar: bytes) -> bytes:
    """tarfile writes device numbers 0/0 by default: give the devices real numbers (loop 200, zero)."""
    import io
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(tar)) as source, tarfile.open(fileobj=out, mode="w") as target:
        for info in source:
            if info.type == tarfile.BLKTYPE:
                info.devmajor, info.devminor = 7, 200
            elif info.type == tarfile.CHRTYPE:
                info.devmajor, info.devminor = 1, 5
            target.addfile(info, source.extractfile(info) if info.isfile() else None)
    return out.getvalue()


@pytest.fixture(scope="module")
def images(engine, tmp_path_factory):
    """Every image the inspect tests build, by what it exercises."""
    ensure_busybox(engine)
    made = {"main": _tag("main"), "special": _tag("special"), "loaded": _tag("loaded"), "hostile": _tag("hostile")}
    made["shared"] = _tag("shared")
    try:
        build_image(
            engine, made["main"], DOCKERFILE, {"install.sh": INSTALL_SH, "os-release": OS_RELEASE, "id_ed25519": KEY}
        )
        build_image(engine, made["shared"], SHARED.format(base=made["main"]))
        build_image(engine, made["special"], SPECIAL)
        folder = tmp_path_factory.mktemp("store-load")
        loaded = [
            layer_tar(
                member("a/", kind=b"5", mode=0o755),
                member("a/keep", b"k" * 200),
                member("a/one", b"1" * 120),
                member("a/sub/", kind=b"5", mode=0o755),
                member("a/sub/two", b"2" * 130),
                member("b/", kind=b"5", mode=0o755),
                member("b/file", b"f" * 140),
                member("b/link", kind=b"1", link="b/file"),
            ),
            layer_tar(
                member("a/", kind=b"5", mode=0o755),
                member("a/.wh.one"),
                member("a/.wh.sub"),
                member("b/", kind=b"5", mode=0o755),
                member("b/.wh..wh..opq"),
                member("b/file", b"F" * 150),
            ),
        ]
        _load(loaded, made["loaded"], folder)
        _load([_block_major_minor(t) for t in _hostile_layers()], made["hostile"], folder)
        yield made
    finally:  # also after a failed build: every tag made so far
        for tag in made.values():
            subprocess.run([docker_cli(), "image", "rm", "-f", tag], capture_output=True)


def _both(reference: str):
    store = open_source(reference, "engine", read="store")
    export = open_source(reference, "engine", read="export")
    assert isinstance(store, StoreSource)
    return store, store.load(), export, export.load()


def _comparable(document: dict) -> dict:
    document = {k: v for k, v in document.items() if k not in SOURCE_FIELDS}
    document["layers"] = [{k: v for k, v in layer.items() if k not in LAYER_FIELDS} for layer in document["layers"]]
    return document


def _entries(layer) -> list[tuple]:
    """Everything the index keeps of an entry, in order. Of the mode, the permission bits (the export
    keeps what the layer's tar said, the store has the file type bits too), and none for a symbolic
    link (Linux keeps no mode for links: the store says 0777 whatever a hand-made tar said); mtime is
    not indexed from a tar."""
    return [
        (e.path, e.kind, e.size, 0 if e.kind == "l" else e.mode & 0o7777, e.uid, e.gid, e.link, e.key_like, e.sparse)
        for e in layer.entries.values()
    ]


@pytest.mark.parametrize("name", ["main", "shared", "special", "loaded", "hostile"])
def test_store_and_export_give_the_same_report_and_entries(images, name):
    _store, from_store, _export, from_export = _both(images[name])
    assert len(from_store.layers) == len(from_export.layers)
    for store_layer, export_layer in zip(from_store.layers, from_export.layers, strict=True):
        assert _entries(store_layer) == _entries(export_layer)
        assert store_layer.whiteouts == export_layer.whiteouts
        assert store_layer.opaque == export_layer.opaque
        assert store_layer.captured == export_layer.captured
    store_doc = build(analyse(from_store), now=NOW)
    export_doc = build(analyse(from_export), now=NOW)
    assert _comparable(store_doc) == _comparable(export_doc)
    assert store_doc["source"]["read"] == "store" and export_doc["source"]["read"] == "export"
    assert store_doc["source"]["repo_tags"] == export_doc["source"]["repo_tags"] == [images[name]]
    assert all(layer["verified"] is None and layer["tar_size"] is None for layer in store_doc["layers"])
    assert all(layer["verified"] is True and layer["tar_size"] for layer in export_doc["layers"])
    assert not store_doc["warnings"]


def test_the_store_sees_what_the_images_hold(images):
    """Not only equal to the export: right (the figures the export tests check, from the store)."""
    main = build(analyse(open_source(images["main"], read="store").load()), now=NOW)
    assert main["waste"]["wasted_bytes"] == WASTED
    special = analyse(open_source(images["special"], read="store").load())
    first, second = special.image.layers[-2:]
    kinds = {path: entry.kind for path, entry in first.entries.items()}
    assert kinds["dev2/null"] == "c" and kinds["dev2/blk"] == "b" and kinds["dev2/fifo"] == "p"
    assert kinds["perm/y"] == "h" and kinds["perm/z"] == "h" and kinds["perm/x"] == "f"
    order = list(first.entries)
    assert order.index("odd/a/b/f") < order.index("odd/a b") < order.index("odd/a.b")  # depth first, bytewise
    assert "dev2/fifo" in second.whiteouts and "odd/a" in second.whiteouts and "perm/wwdir" in second.opaque
    findings = {(f.kind, f.path) for f in special.findings}
    assert {("setgid", "perm/sg"), ("world-writable", "perm/ww")} <= findings
    assert ("world-writable", "tmpdir") not in findings  # sticky


def test_hostile_image_reads_nothing_outside_its_layers(images, tmp_path, monkeypatch):
    """Every descriptor the store reader opens is under the engine's data root, and is a directory or a
    regular file unless it is a path-only one (`O_PATH`: no device is opened, no FIFO); links are
    reported by their text; devices, FIFOs and paths through links are refused."""
    opened: list[tuple[str, int, int]] = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *, dir_fd=None):
        fd = real_open(path, flags, mode, dir_fd=dir_fd)
        if sys._getframe(1).f_globals.get("__name__") == layer_store.__name__:  # not the -o file's
            opened.append((os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_mode, flags))
        return fd

    monkeypatch.setattr(layer_store.os, "open", spy)
    source = open_source(images["hostile"], read="store")
    analysis = analyse(source.load())
    rows = {row["path"]: row for row in _listing(analysis)}
    assert rows["/shadow-link"]["link"] == "/etc/shadow" and rows["/proc-env"]["link"] == "/proc/self/environ"
    assert rows["/dev/zero"]["type"] == "char" and rows["/dev/blk"]["type"] == "block"
    for path, hint in (
        ("/shadow-link", "symbolic link to /etc/shadow"),
        ("/escape/shadow", "in no layer"),
        ("/escape2", "symbolic link to /etc/shadow"),
        ("/dev/zero", "a device or FIFO"),
        ("/dev/blk", "a device or FIFO"),
        ("/root-of-1/etc/shadow", "in no layer"),
    ):
        with pytest.raises(DarseError, match=hint):
            extract(source, analysis, path, None, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    done = extract(source, analysis, "/hard", None, tmp_path / "hard")  # a hard link, inside its own layer
    assert (tmp_path / "hard").read_bytes() == b"d" * 300 and done.size == 300
    root = layer_store.locate(source._api, images["hostile"])
    top = root.layer_dirs[-1]
    for path in ("escape2", "escape/shadow"):
        with pytest.raises(OSError):
            layer_store.open_file(root.layer_dirs[0] if path.startswith("escape/") else top, path)
    with pytest.raises(OSError):
        layer_store.open_file(root.layer_dirs[0], "dev/zero")
    data_root = os.path.dirname(os.path.dirname(os.path.dirname(top)))
    assert opened
    for target, mode, flags in opened:
        assert target.startswith(data_root + "/"), target
        assert stat.S_ISDIR(mode) or stat.S_ISREG(mode) or flags & os.O_PATH, target  # O_PATH opens nothing
    assert any(stat.S_ISCHR(mode) for _target, mode, _flags in opened)  # dev/zero was looked at, path only


def _listing(analysis) -> list[dict]:
    from darse.images.inspect.extract import listing

    return listing(analysis, None, "/")


def test_extract_from_the_store_recovers_a_deleted_file(images, tmp_path):
    reference = images["main"]
    source = open_source(reference, read="store")
    analysis = analyse(source.load())
    done = extract(source, analysis, "/install.sh", None, tmp_path / "install.sh")
    assert (tmp_path / "install.sh").read_text() == INSTALL_SH and done.size == len(INSTALL_SH)
    with pytest.raises(DarseError, match="over the 10-byte extraction limit"):
        extract(source, analysis, "/install.sh", None, tmp_path / "big", max_bytes=10)
    proc = subprocess.run(
        [sys.executable, "-m", "darse", "inspect", reference, "--read", "store", "--extract", "/hl-dst", "-o",
         str(tmp_path / "hl")], capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "hl").stat().st_size == 900
    assert stat.S_IMODE((tmp_path / "hl").stat().st_mode) & 0o022 == 0


def test_an_image_removed_while_read_is_a_one_line_error(engine, images):
    ensure_busybox(engine)
    tag = _tag("gone")
    build_image(engine, tag, "FROM darse-test/busybox:base\nRUN echo gone > /gone && mkdir /d && echo 1 > /d/f\n")
    source = open_source(tag, read="store")

    def remove(_count: int) -> None:
        subprocess.run([docker_cli(), "image", "rm", "-f", tag], capture_output=True, check=True)

    try:
        with pytest.raises(DarseError) as caught:
            source.load(remove)  # removed after the first layer's walk
    finally:
        subprocess.run([docker_cli(), "image", "rm", "-f", tag], capture_output=True)
    assert "\n" not in str(caught.value) and ("removed" in str(caught.value) or "vanished" in str(caught.value))


def test_a_name_moved_to_another_image_while_read_is_a_one_line_error(engine, images):
    tag = _tag("moved")
    engine.images.get(images["special"]).tag(tag)
    source = open_source(tag, read="store")

    def retag(_count: int) -> None:
        engine.images.get(images["loaded"]).tag(tag)

    try:
        with pytest.raises(DarseError, match="names another image since it was read"):
            source.load(retag)
    finally:
        subprocess.run([docker_cli(), "image", "rm", tag], capture_output=True)


def test_auto_reads_the_store_and_falls_back_to_the_export(images):
    reference = images["loaded"]
    assert isinstance(open_source(reference), StoreSource)
    assert open_source(reference).load().read == "store"
    with engine_over_tcp() as remote:  # not this host's socket: the export, or a one-line refusal
        assert engine_source(reference, remote).load().read == "export"
        with pytest.raises(DarseError, match="from the engine's layer store: the engine is not this host's own"):
            engine_source(reference, remote, "store")
    proc = subprocess.run(
        [sys.executable, "-m", "darse", "inspect", reference, "--read", "store", "--source", "archive"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2 and "--read store reads an image of the local engine" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "darse", "inspect", reference], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "layer digests not recomputed" in proc.stdout
