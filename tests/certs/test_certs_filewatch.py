"""The watch `darse certs watch` uses on acme.json: real files in a temporary folder, with inotify and with
polling, every way the file can change (and ways it must not count as changed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from darse.certs.filewatch import EVENT, IN_IGNORED, IN_MODIFY, FileWatch, parse_events

CHANGE = 10.0  # seconds a wait may take to see a change that happened: generous, it returns at once
QUIET = 0.3  # seconds a wait listens to show that nothing was seen

MakeWatch = Callable[[Path], FileWatch]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(params=["inotify", "polling"])
def watch(request: pytest.FixtureRequest) -> Iterator[MakeWatch]:
    """`watch(path)`: a FileWatch of each kind (polling fast), closed after the test."""
    made: list[FileWatch] = []

    def make(path: Path) -> FileWatch:
        w = FileWatch(path, poll_interval=0.02, force_polling=request.param == "polling")
        assert w.kind == request.param
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    folder = tmp_path / "traefik"
    folder.mkdir()
    path = folder / "acme.json"
    path.write_bytes(b"{}")
    return path


def test_inotify_on_linux_unless_polling_is_asked(acme: Path) -> None:
    with FileWatch(acme) as w:
        assert (w.kind, w.fallback_reason) == ("inotify", None)
    with FileWatch(acme, force_polling=True) as w:
        assert w.kind == "polling"


def test_a_rewrite_in_place_is_seen(watch: MakeWatch, acme: Path) -> None:
    w = watch(acme)
    with acme.open("r+b") as f:
        f.write(b'{"le": {}}')
    assert w.wait(CHANGE)
    assert not w.wait(QUIET)


def test_a_rename_replace_is_seen_and_the_new_file_is_watched(watch: MakeWatch, acme: Path) -> None:
    w = watch(acme)
    tmp = acme.with_name("acme.json.tmp")
    tmp.write_bytes(b'{"le": {"Certificates": []}}')
    os.replace(tmp, acme)
    assert w.wait(CHANGE)
    w.settle(QUIET, CHANGE)
    acme.write_bytes(b'{"le": {}}')  # the file that came by rename is watched as well
    assert w.wait(CHANGE)


def test_a_delete_then_a_re_create_are_each_seen(watch: MakeWatch, acme: Path) -> None:
    w = watch(acme)
    acme.unlink()
    assert w.wait(CHANGE)
    w.settle(QUIET, CHANGE)
    acme.write_bytes(b'{"le": {}}')
    assert w.wait(CHANGE)


def test_a_change_of_attributes_is_seen(watch: MakeWatch, acme: Path) -> None:
    w = watch(acme)
    acme.chmod(0o600)
    assert w.wait(CHANGE)


def test_changes_to_other_files_in_the_folder_are_not_changes(watch: MakeWatch, acme: Path) -> None:
    w = watch(acme)
    other = acme.with_name("other.json")
    other.write_bytes(b"{}")
    tmp = acme.with_name("acme.json.tmp")
    tmp.write_bytes(b"{}")
    os.replace(tmp, other)
    other.chmod(0o600)
    other.unlink()
    acme.with_name("acme.json.d").mkdir()
    assert not w.wait(QUIET)
    acme.write_bytes(b'{"le": {}}')  # and the watch was listening all along
    assert w.wait(CHANGE)


def test_a_timeout_without_change_is_false(watch: MakeWatch, acme: Path) -> None:
    w = watch(acme)
    assert not w.wait(QUIET)
    assert not w.wait(0)


def test_a_missing_file_is_watched_until_it_appears(watch: MakeWatch, tmp_path: Path) -> None:
    w = watch(tmp_path / "acme.json")
    assert not w.wait(QUIET)
    (tmp_path / "acme.json").write_bytes(b"{}")
    assert w.wait(CHANGE)


def test_a_link_to_a_file_beside_it_sees_the_target_rewritten(watch: MakeWatch, acme: Path) -> None:
    target = acme.with_name("acme-real.json")
    target.write_bytes(b"{}")
    link = acme.with_name("acme-link.json")
    link.symlink_to("acme-real.json")
    w = watch(link)
    target.write_bytes(b'{"le": {}}')
    assert w.wait(CHANGE)


def test_settle_returns_once_a_burst_of_writes_has_ended(watch: MakeWatch, acme: Path) -> None:
    w = watch(acme)
    done = threading.Event()

    def burst() -> None:
        for i in range(25):
            acme.write_bytes(b"x" * (i + 3))  # every size differs: polling sees each write
            if i == 24:
                done.set()
            time.sleep(0.01)

    writer = threading.Thread(target=burst)
    writer.start()
    try:
        assert w.wait(CHANGE)
        w.settle(quiet=0.75, longest=60)
        assert done.is_set()  # settle waited for the last write
    finally:
        writer.join()
    assert not w.wait(0)  # and took every change of the burst with it: one reload for the burst


def test_settle_is_capped_by_longest_for_a_file_rewritten_for_ever(watch: MakeWatch, acme: Path) -> None:
    w = watch(acme)
    stop = threading.Event()
    writes = [0]

    def for_ever() -> None:
        while not stop.is_set() and writes[0] < 3000:  # ~30 s: only there to end a failing test
            acme.write_bytes(b"x" * (writes[0] % 50 + 3))
            writes[0] += 1
            time.sleep(0.01)

    writer = threading.Thread(target=for_ever)
    writer.start()
    try:
        assert w.wait(CHANGE)
        w.settle(quiet=0.5, longest=1.0)
        still_writing = writer.is_alive() and not stop.is_set()
    finally:
        stop.set()
        writer.join()
    assert still_writing  # settle returned while the writes went on


def test_a_deleted_folder_falls_back_to_polling(acme: Path) -> None:
    before = open_fds()
    with FileWatch(acme, poll_interval=0.02) as w:
        assert w.kind == "inotify" and open_fds() == before + 1
        shutil.rmtree(acme.parent)
        assert w.wait(CHANGE)
        if w.kind == "inotify":  # the file's deletion may come in a read of its own, before the folder's
            assert w.wait(CHANGE)
        assert w.kind == "polling" and "folder" in (w.fallback_reason or "")
        assert open_fds() == before  # the dead watch's descriptor is released at once
        assert not w.wait(QUIET)
        acme.parent.mkdir()
        acme.write_bytes(b"{}")
        assert w.wait(CHANGE)


def test_a_folder_moved_away_falls_back_to_polling_its_path(acme: Path) -> None:
    with FileWatch(acme, poll_interval=0.02) as w:
        moved = acme.parent.with_name("traefik.old")
        acme.parent.rename(moved)
        assert w.wait(CHANGE)
        assert w.kind == "polling"
        (moved / "acme.json").write_bytes(b'{"le": {}}')  # no longer the watched path
        assert not w.wait(QUIET)
        acme.parent.mkdir()
        acme.write_bytes(b"{}")
        assert w.wait(CHANGE)


def test_a_missing_folder_polls_its_path(tmp_path: Path) -> None:
    acme = tmp_path / "traefik" / "acme.json"
    with FileWatch(acme, poll_interval=0.02) as w:
        assert w.kind == "polling" and "No such file" in (w.fallback_reason or "")
        assert not w.wait(QUIET)
        acme.parent.mkdir()
        acme.write_bytes(b"{}")
        assert w.wait(CHANGE)


def test_no_descriptor_left_falls_back_to_polling(acme: Path) -> None:
    """inotify_init1 failing (EMFILE here, as ENOSPC would) leaves a working watch that polls."""
    program = """
import os, resource, sys
from pathlib import Path
from darse.certs.filewatch import FileWatch
resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
held = []
try:
    while True:
        held.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
w = FileWatch(Path(sys.argv[1]), poll_interval=0.02)
print(w.kind, w.fallback_reason)
os.close(held.pop())
Path(sys.argv[1]).write_bytes(b'{"le": {}}')
print(w.wait(10))
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run(
        [sys.executable, "-c", program, str(acme)], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert run.returncode == 0, run.stderr
    made, changed = run.stdout.splitlines()
    assert made.startswith("polling ") and "Too many open files" in made
    assert changed == "True"


def test_an_overflowed_queue_counts_as_a_change(acme: Path) -> None:
    """Events lost to a full queue might have been the file's: the watch says changed."""
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    others = [acme.with_name("a.json"), acme.with_name("b.json")]
    for other in others:
        other.write_bytes(b"{}")
    with FileWatch(acme) as w:
        for i in range(limit + 100):
            os.utime(others[i % 2])  # alternating names: the kernel merges only repeated events
        assert w.wait(CHANGE)


def test_close_releases_the_descriptor(acme: Path) -> None:
    before = open_fds()
    w = FileWatch(acme)
    assert open_fds() == before + 1
    w.close()
    w.close()
    assert open_fds() == before
    with FileWatch(acme, force_polling=True):
        assert open_fds() == before


def test_event_records_are_parsed_with_their_padding() -> None:
    one = EVENT.pack(1, IN_MODIFY, 0, 16) + b"acme.json".ljust(16, b"\0")
    ignored = EVENT.pack(1, IN_IGNORED, 0, 0)
    cut = EVENT.pack(1, IN_MODIFY, 0, 32) + b"other"
    assert parse_events(one + ignored + cut) == [(1, IN_MODIFY, b"acme.json"), (1, IN_IGNORED, b"")]
    assert parse_events(one[:10]) == []
