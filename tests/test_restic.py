"""darse.restic, the one module that runs restic, against the real restic (Debian's 0.14 here) and real
repositories in temporary folders: init, incremental backups, tags, stream backups that must save
nothing when their producer fails, dump, restore, forget, and one-line errors that never show a
password or the credentials of a repository URL."""

from __future__ import annotations

import io
import os
import random
import shutil
import signal
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest

import darse.restic
from darse.errors import DarseError
from darse.restic import (
    NoRepository,
    RepositoryExists,
    Restic,
    ResticError,
    ResticFailed,
    ResticMissing,
    ResticTimeout,
    Status,
    StreamFailed,
    WrongPassword,
    _BackupOutput,
    make_password_file,
    mask,
)

TAGS = {"service": "wiki", "commit": "0123abcd", "darse": "0.1.0"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised, empty repository and its password file (restic's key derivation makes `init`
    slow on purpose: the tests copy it instead of making their own)."""
    folder = tmp_path_factory.mktemp("restic-template")
    make_password_file(folder / "secrets" / "restic.password")
    Restic(str(folder / "repo"), folder / "secrets" / "restic.password", cache_dir=folder / "cache").init()
    return folder


@pytest.fixture
def restic(template: Path, tmp_path: Path) -> Restic:
    """An initialised, empty repository of this test's own (its own cache folder too)."""
    shutil.copytree(template / "repo", tmp_path / "repo")
    shutil.copytree(template / "secrets", tmp_path / "secrets")
    return Restic(str(tmp_path / "repo"), tmp_path / "secrets" / "restic.password", cache_dir=tmp_path / "cache")


def _tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under `root`: (permission bits, content for a file)."""
    found = {}
    for path in sorted(root.rglob("*")):
        mode = stat.S_IMODE(path.lstat().st_mode)
        found[str(path.relative_to(root))] = (mode, path.read_bytes() if path.is_file() else None)
    return found


def _source(tmp_path: Path) -> Path:
    source = tmp_path / "volume"
    (source / "sub").mkdir(parents=True)
    (source / "readme.txt").write_text("hello\n")
    (source / "data.bin").write_bytes(random.Random(1).randbytes(200_000))
    (source / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (source / "sub" / "private").write_text("only me\n")
    os.chmod(source / "sub" / "run.sh", 0o750)
    os.chmod(source / "sub" / "private", 0o600)
    os.chmod(source / "sub", 0o700)
    return source


def _chunks(data: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_init_twice_refuses_and_an_empty_folder_is_no_repository(tmp_path: Path):
    password = tmp_path / "restic.password"
    make_password_file(password)
    restic = Restic(str(tmp_path / "repo"), password, cache_dir=tmp_path / "cache")
    assert not restic.is_initialised()
    restic.init()
    assert restic.is_initialised()
    assert (tmp_path / "repo" / "config").is_file()
    with pytest.raises(RepositoryExists) as exc:
        restic.init()
    assert "\n" not in exc.value.one_line() and exc.value.hint
    nothing = Restic(str(tmp_path / "nothing"), restic.password_file, cache_dir=tmp_path / "cache")
    assert not nothing.is_initialised()
    with pytest.raises(NoRepository, match="no restic repository at"):
        nothing.snapshots()


def test_a_second_backup_of_the_same_folder_is_incremental_and_tags_round_trip(restic: Restic, tmp_path: Path):
    source = _source(tmp_path)
    seen: list[Status] = []
    first = restic.backup_path(source, TAGS, host="darse-test", progress=seen.append)
    assert (first.files_new, first.files_changed) == (4, 0)
    assert first.bytes_added > 200_000
    assert seen and all(isinstance(s, Status) and 0 <= s.percent <= 100 for s in seen)
    second = restic.backup_path(source, {**TAGS, "commit": "4567cdef"}, host="darse-test")
    assert (second.files_new, second.files_changed, second.files_unmodified) == (0, 0, 4)
    assert second.bytes_added < 10_000  # only restic's own metadata: no file was read again
    listed = restic.snapshots({"service": "wiki"})
    assert [s.short_id for s in listed] == [first.snapshot_id, second.snapshot_id]
    assert listed[0].tags == TAGS and listed[1].tags["commit"] == "4567cdef"
    assert listed[0].paths == (str(source),) and listed[0].hostname == "darse-test"
    assert listed[1].parent == listed[0].id  # restic chose the first as the second's parent
    assert [s.id for s in restic.snapshots({"commit": "4567cdef"})] == [listed[1].id]
    assert restic.snapshots({"service": "other"}) == []


def test_restore_into_a_folder_gives_back_the_contents_and_modes(restic: Restic, tmp_path: Path):
    source = _source(tmp_path)
    saved = restic.backup_path(source, TAGS)
    target = tmp_path / "restored"
    restic.restore(saved.snapshot_id, target)
    assert _tree(target / source.relative_to("/")) == _tree(source)
    only = tmp_path / "only"
    restic.restore(saved.snapshot_id, only, include=str(source / "sub" / "private"))
    assert [p.name for p in only.rglob("*") if p.is_file()] == ["private"]


def test_a_stream_round_trips_through_dump_byte_for_byte(restic: Restic):
    data = random.Random(7).randbytes(3 * 1024 * 1024 + 17)

    def produce(sink: IO[bytes]) -> None:
        for chunk in _chunks(data):
            sink.write(chunk)

    saved = restic.backup_stream(produce, "wiki-db.sql", TAGS)
    assert saved.files_new == 1 and saved.bytes_processed == len(data)
    [snapshot] = restic.snapshots(TAGS)
    assert snapshot.paths == ("/wiki-db.sql",) and snapshot.short_id == saved.snapshot_id
    out = io.BytesIO()
    pieces: list[int] = []

    def write(chunk: bytes) -> None:
        pieces.append(len(chunk))
        out.write(chunk)

    assert restic.dump(snapshot.id, "/wiki-db.sql", write) == len(data)
    assert out.getvalue() == data
    assert max(pieces) <= 64 * 1024  # streamed in pieces, never the whole file at once


def test_a_producer_that_fails_half_way_leaves_no_snapshot_and_no_lock(restic: Restic, tmp_path: Path):
    before = restic.snapshots()
    data = random.Random(3).randbytes(2 * 1024 * 1024)

    def produce(sink: IO[bytes]) -> None:
        sink.write(data[: len(data) // 2])
        sink.flush()
        raise RuntimeError("pg_dumpall exited with status 1")

    with pytest.raises(RuntimeError, match="pg_dumpall"):
        restic.backup_stream(produce, "wiki-db.sql", TAGS)
    assert restic.snapshots() == before
    assert list((tmp_path / "repo" / "locks").iterdir()) == []  # restic left on SIGINT, removing its lock
    restic.forget_ids(["deadbeef"])  # an exclusive lock is still possible


def _restic_of(repository: Restic) -> int:
    """The pid of the restic running on this repository (read from its environment)."""
    wanted = f"RESTIC_REPOSITORY={repository.repository}".encode()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and wanted in (proc / "environ").read_bytes().split(b"\0"):
                return int(proc.name)
        except OSError:
            continue
    raise AssertionError("no restic runs on the repository")


def test_a_restic_that_ignores_sigint_is_killed_and_its_stale_lock_removed(
    restic: Restic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(darse.restic, "GRACE", 0.5)

    def produce(sink: IO[bytes]) -> None:
        sink.write(b"rows\n" * 10_000)
        sink.flush()
        locks = tmp_path / "repo" / "locks"
        for _ in range(300):  # until restic has opened the repository and taken its lock
            if any(locks.iterdir()):
                break
            time.sleep(0.1)
        os.kill(_restic_of(restic), signal.SIGSTOP)  # a stopped process cannot act on SIGINT
        raise RuntimeError("mariadb-dump failed")

    with pytest.raises(RuntimeError, match="mariadb-dump"):
        restic.backup_stream(produce, "db.sql", TAGS)
    assert list((tmp_path / "repo" / "locks").iterdir()) == []  # `restic unlock` removed the stale lock
    assert restic.snapshots() == []


def test_a_snapshot_saved_despite_a_failed_producer_is_forgotten(restic: Restic):
    """If restic saved the stream before it could be stopped, `_forget_partial` removes that snapshot
    (made after the stream started, of the same file, with the same tags) and nothing else."""
    older = restic.backup_stream(lambda sink: sink.write(b"good dump"), "db.sql", TAGS)
    started = datetime.now(UTC)
    restic.backup_stream(lambda sink: sink.write(b"half a dump"), "db.sql", TAGS)
    restic.backup_stream(lambda sink: sink.write(b"another file"), "other.sql", TAGS)
    state = _BackupOutput.__new__(_BackupOutput)
    state.summary = None
    restic._forget_partial(state, TAGS, "db.sql", None, started)
    assert sorted(s.paths[0] for s in restic.snapshots()) == ["/db.sql", "/other.sql"]
    assert [s.short_id for s in restic.snapshots() if s.paths == ("/db.sql",)] == [older.snapshot_id]


def test_an_empty_stream_leaves_no_snapshot(restic: Restic):
    before = restic.snapshots()
    with pytest.raises(StreamFailed, match="empty") as exc:
        restic.backup_stream(lambda sink: None, "wiki-db.sql", TAGS)
    assert "\n" not in exc.value.one_line()
    assert restic.snapshots() == before


def test_a_stream_that_stalls_is_stopped_and_leaves_no_snapshot(tmp_path: Path, restic: Restic):
    stalling = Restic(restic.repository, restic.password_file, cache_dir=tmp_path / "cache", stall=0.5)

    def produce(sink: IO[bytes]) -> None:
        sink.write(b"first rows\n")
        sink.flush()
        time.sleep(2)  # a dump stuck on a lock: far longer than the stall bound
        sink.write(b"more rows\n")
        sink.flush()

    with pytest.raises(ResticTimeout, match="no progress"):
        stalling.backup_stream(produce, "wiki-db.sql", TAGS)
    assert restic.snapshots() == []


def test_forget_keeps_the_last_and_returns_what_it_removed(restic: Restic):
    saved = [restic.backup_stream(lambda s, n=n: s.write(b"dump %d\n" % n), "db.sql", TAGS) for n in range(2)]
    other = restic.backup_stream(lambda s: s.write(b"x"), "db.sql", {"service": "other"})
    removed = restic.forget({"last": 1}, tags={"service": "wiki"})
    kept = restic.snapshots()
    assert sorted(r[:8] for r in removed) == [saved[0].snapshot_id]
    assert sorted(s.short_id for s in kept) == sorted([saved[1].snapshot_id, other.snapshot_id])
    restic.forget_ids([saved[1].snapshot_id])
    assert [s.short_id for s in restic.snapshots()] == [other.snapshot_id]
    with pytest.raises(ResticError, match="keep"):
        restic.forget({"last": 0})


def test_a_wrong_password_is_one_line_without_the_password(restic: Restic, tmp_path: Path):
    wrong = tmp_path / "wrong.password"
    make_password_file(wrong)
    password = wrong.read_text().strip()
    with pytest.raises(WrongPassword) as exc:
        Restic(restic.repository, wrong, cache_dir=tmp_path / "cache").snapshots()
    line = exc.value.one_line()
    assert "\n" not in line and password not in line and "password file" in exc.value.hint
    with pytest.raises(WrongPassword, match="cannot read"):
        Restic(restic.repository, tmp_path / "missing", cache_dir=tmp_path / "cache").snapshots()


def test_a_stream_into_a_repository_the_password_does_not_open_fails_with_restic_reason(restic: Restic, tmp_path: Path):
    wrong = tmp_path / "wrong.password"
    make_password_file(wrong)

    def produce(sink: IO[bytes]) -> None:
        for _ in range(64):  # far more than a pipe holds: restic exits while this writes
            sink.write(b"x" * 65536)

    with pytest.raises(WrongPassword) as exc:
        Restic(restic.repository, wrong, cache_dir=tmp_path / "cache").backup_stream(produce, "db.sql", TAGS)
    assert isinstance(exc.value.__cause__, BrokenPipeError)  # the producer's failure, explained
    assert restic.snapshots() == []


def test_the_password_is_never_on_a_command_line(restic: Restic):
    password = restic.password_file.read_bytes().strip()
    seen: dict[str, bool] = {}

    def produce(sink: IO[bytes]) -> None:
        sink.write(b"data")
        sink.flush()
        lines = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    lines.append((proc / "cmdline").read_bytes())
                except OSError:
                    continue
        seen["restic running"] = any(b"restic\0backup" in line for line in lines)
        seen["password shown"] = any(password in line for line in lines)

    restic.backup_stream(produce, "x.sql", TAGS)
    assert seen == {"restic running": True, "password shown": False}


@pytest.mark.parametrize(
    "url",
    ["s3:http://alice:s3cr3tpassw0rd@127.0.0.1:1/bucket", "rest:http://alice:s3cr3tpassw0rd@127.0.0.1:1/repo"],
)
def test_the_credentials_of_a_repository_url_never_appear_in_an_error(url: str, tmp_path: Path):
    password = tmp_path / "p"
    make_password_file(password)
    remote = Restic(url, password, cache_dir=tmp_path / "cache")
    assert "s3cr3t" not in remote.display and "alice" not in repr(remote)
    for action in (remote.snapshots, remote.init):
        with pytest.raises(ResticError) as exc:
            action()
        line = exc.value.one_line()
        assert "s3cr3tpassw0rd" not in line and "alice" not in line and "***@127.0.0.1:1" in line
        assert "\n" not in line


def test_mask_cuts_credentials_out_of_any_url():
    text = "Fatal: Get https://bob:pw@host/x failed for s3:https://k:s@s3.example/b and /srv/plain"
    assert (
        mask(text, hidden=["/srv/plain"])
        == "Fatal: Get https://***@host/x failed for s3:https://***@s3.example/b and ***"
    )


def test_restic_missing_is_one_line_with_a_hint(tmp_path: Path):
    with pytest.raises(ResticMissing) as exc:
        Restic(str(tmp_path / "repo"), tmp_path / "p", binary="no-such-restic").version()
    assert "\n" not in exc.value.one_line() and "apt-get install restic" in exc.value.hint
    with pytest.raises(ResticMissing):
        Restic(str(tmp_path / "repo"), tmp_path / "p", binary="no-such-restic").snapshots()


def test_the_installed_restic_is_recent_enough_and_an_old_one_is_refused(tmp_path: Path):
    assert Restic(str(tmp_path / "repo"), tmp_path / "p").version() >= (0, 14, 0)
    old = tmp_path / "old-restic"  # prints what restic 0.13 prints: darse's check of it, not restic's
    old.write_text("#!/bin/sh\necho 'restic 0.13.1 compiled with go1.17.8 on linux/amd64'\n")
    old.chmod(0o755)
    with pytest.raises(ResticMissing, match=r"0\.13\.1 is too old"):
        Restic(str(tmp_path / "repo"), tmp_path / "p", binary=str(old)).version()


def test_a_password_file_is_random_private_and_never_overwritten(tmp_path: Path):
    path = tmp_path / "deep" / "restic.password"
    make_password_file(path)
    first = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first.strip()) >= 40
    with pytest.raises(DarseError, match="never overwrites"):
        make_password_file(path)
    assert path.read_text() == first
    other = tmp_path / "other"
    make_password_file(other)
    assert other.read_text() != first


def test_tags_restic_would_split_or_misread_are_refused_before_running_it(restic: Restic, tmp_path: Path):
    for tags in ({"images": "a,b"}, {"bad key": "x"}, {"k": "two words"}):
        with pytest.raises(ResticError, match="cannot be a restic tag"):
            restic.backup_path(tmp_path, tags)
    with pytest.raises(ResticError, match="does not exist"):
        restic.backup_path(tmp_path / "missing", TAGS)
    with pytest.raises(ResticError, match="not a snapshot id"):
        restic.restore("--target=/", tmp_path / "x")
    with pytest.raises(ResticFailed):
        restic.dump("deadbeef", "/x.sql", lambda chunk: None)


def test_output_lines_are_bounded():
    stream = io.BytesIO(b"a" * (3 * darse.restic.MAX_LINE + 5) + b"\nok\n" + b"tail")
    lines = list(darse.restic._lines(stream))
    assert [len(line) for line in lines] == [darse.restic.MAX_LINE, 2, 4] and lines[1:] == ["ok", "tail"]
