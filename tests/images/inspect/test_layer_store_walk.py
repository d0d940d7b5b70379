"""The layer store's walk on a directory made here as overlay2 stores a layer (root makes the whiteout
devices and the trusted xattr): what each entry becomes, in which order, and what is never opened."""

from __future__ import annotations

import os
import stat

import pytest

from darse.engine import layer_store
from darse.engine.layer_store import LNK, REG, SYM, LayerWalk, StoreChanged, open_file
from darse.images.inspect.layers import index_records


@pytest.fixture
def layer(tmp_path):
    root = tmp_path / "diff"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("deep")
    (root / "a b").mkdir()
    (root / "a.b").write_text("dot")
    (root / "z").write_bytes(b"z" * 200)
    os.link(root / "z", root / "y")  # y comes first: y is the file, z the link
    (root / "link").symlink_to("/etc/shadow")
    os.mkfifo(root / "fifo")
    os.mknod(root / "gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))  # a whiteout
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    (root / "opq").mkdir()
    os.setxattr(root / "opq", "trusted.overlay.opaque", b"y")
    (root / "opq" / "new").write_text("new")
    (root / os.fsdecode(b"\xff-raw")).write_text("not utf-8")
    (root / "\u00e9t\u00e9").write_text("utf-8")
    return root


def test_entries_come_as_the_export_writes_them(layer):
    records = list(LayerWalk(str(layer)))
    names = [r[0] for r in records]
    assert names == [
        "a",
        "a/b",
        "a/b/f",
        "a b",
        "a.b",
        "fifo",
        ".wh.gone",
        "link",
        "null",
        "opq",
        "opq/.wh..wh..opq",
        "opq/new",
        "y",
        "z",
        "\u00e9t\u00e9",  # bytewise: 0xc3 ... before 0xff
        os.fsdecode(b"\xff-raw"),
    ]
    by_name = {r[0]: r for r in records}
    assert by_name["y"][1] == REG and by_name["y"][2] == 200
    assert by_name["z"][1] == LNK and by_name["z"][7] == "y" and by_name["z"][2] == 0
    assert by_name["link"][1] == SYM and by_name["link"][7] == "/etc/shadow"
    assert by_name["fifo"][1] == b"6" and by_name["null"][1] == b"3"
    walk = LayerWalk(str(layer))
    index = index_records(walk, walk, str(layer))
    assert index.whiteouts == ["gone"] and index.opaque == ["opq"]
    assert index.entries["z"].kind == "h" and index.entries["z"].link == "y"


def test_special_files_and_links_are_never_opened(layer, monkeypatch):
    opened: list[tuple[str, int]] = []
    real = os.open

    def spy(path, flags, mode=0o777, *, dir_fd=None):
        fd = real(path, flags, mode, dir_fd=dir_fd)
        opened.append((os.readlink(f"/proc/self/fd/{fd}"), flags))
        return fd

    monkeypatch.setattr(layer_store.os, "open", spy)
    walk = LayerWalk(str(layer))
    index_records(walk, walk, str(layer))  # z (200 bytes) is sniffed for a key header: opened
    for path in ("link", "fifo", "null", "gone", "link/x"):
        with pytest.raises(OSError):
            open_file(str(layer), path)
    with open_file(str(layer), "a/b/f") as handle:
        assert handle.read() == b"deep"
    for target, flags in opened:
        assert target.startswith(str(layer)), target
        kind = os.lstat(target).st_mode
        assert stat.S_ISDIR(kind) or stat.S_ISREG(kind) or flags & os.O_PATH, target  # O_PATH opens nothing
    assert (str(layer / "y"), os.O_RDONLY | os.O_CLOEXEC) in opened  # the regular file, under its first name


def test_a_file_replaced_during_the_walk_is_refused(layer):
    walk = LayerWalk(str(layer))
    with pytest.raises(StoreChanged):
        for record in walk:
            if record[0] == "a.b":
                os.unlink(layer / "a.b")
                os.mkfifo(layer / "a.b")  # what the listing said was a file is now a FIFO
                walk.head(10)
