"""The engine's side of backups against the real engine: a command's standard output streamed out of a
running container in bounded chunks (standard error kept apart, only its tail), a failing, stalled or
abandoned command, a volume's content as a tar stream (modes, folders, symlinks as symlinks) through a
helper container that is always removed, a local volume's own directory, a restore into a new volume,
and containers stopped and started. Every name is unique; everything created is removed."""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from darse.engine import backup
from darse.engine.backup import BackupEngineError
from darse.engine.compose import Endpoint
from darse.engine.connect import connect
from darse.engine.docker import Engine, stop_timeout
from darse.engine.docker_py import DockerPyAPI
from darse.engine.local import LocalEngine

from helpers.engine import BASE_TAG
from helpers.tcp_engine import engine_over_tcp

FIVE_MB = 5 * 1024 * 1024
PATTERN = b"0123456789abcdef\n"


def unique(prefix: str) -> str:
    return f"darse-test-{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def ours(engine, busybox) -> Iterator[Engine]:
    """darse's Engine on the local engine."""
    connected = connect(Endpoint())
    yield connected
    connected.close()


@pytest.fixture(scope="module")
def running(engine: docker.DockerClient, busybox) -> Iterator[docker.models.containers.Container]:
    """One running busybox container the command tests exec into (its own command: `sleep 3600`)."""
    container = engine.containers.run(BASE_TAG, ["sleep", "3600"], detach=True, name=unique("exec"))
    yield container
    container.remove(force=True)


def collect(into: list[bytes]):
    return into.append


def processes(container) -> list[str]:
    return [row[-1] for row in container.top()["Processes"]]


def wait_gone(container, command: str, seconds: float = 15.0) -> list[str]:
    """The container's processes once `command` is no longer among them (or when the time is up)."""
    deadline = time.monotonic() + seconds
    while (listed := processes(container)) and command in listed and time.monotonic() < deadline:
        time.sleep(0.1)
    return listed


# --- commands --------------------------------------------------------------------------------------------


def test_stdout_streams_whole_in_bounded_chunks(ours, running):
    chunks: list[bytes] = []
    command = ["sh", "-c", f"yes 0123456789abcdef | head -c {FIVE_MB}; echo 'a progress line' >&2"]
    result = backup.stream_command(ours, running.id, command, collect(chunks), stall=30)
    expected = (PATTERN * (FIVE_MB // len(PATTERN) + 1))[:FIVE_MB]
    assert result.exit_code == 0 and result.ok
    assert result.written == FIVE_MB == sum(len(c) for c in chunks)
    assert hashlib.sha256(b"".join(chunks)).digest() == hashlib.sha256(expected).digest()
    assert max(len(c) for c in chunks) <= backup.CHUNK and len(chunks) > 1  # never held whole
    assert result.stderr_tail == b"a progress line\n"  # standard error kept apart from the dump


def test_failure_reports_code_and_stderr_tail_never_stdout(ours, running):
    chunks: list[bytes] = []
    script = (
        "echo 'COPY secret_rows FROM stdin'; i=0; while [ $i -lt 1500 ]; do echo \"noise line $i\" >&2; "
        "i=$((i+1)); done; echo 'pg_dump: error: connection refused' >&2; exit 3"
    )
    result = backup.stream_command(ours, running.id, ["sh", "-c", script], collect(chunks), stall=30)
    assert result.exit_code == 3 and not result.ok
    assert b"".join(chunks) == b"COPY secret_rows FROM stdin\n" and result.written == len(b"".join(chunks))
    assert len(result.stderr_tail) <= backup.STDERR_TAIL  # only the end of a long standard error
    assert result.stderr_tail.endswith(b"pg_dump: error: connection refused\n")
    assert b"noise line 0\n" not in result.stderr_tail
    assert result.last_error_line() == "pg_dump: error: connection refused"
    assert b"secret_rows" not in result.stderr_tail


class WriterFailed(Exception):
    pass


def test_a_writer_that_raises_stops_the_stream_and_the_command(ours, running):
    seen: list[int] = []

    def write(chunk: bytes) -> None:
        seen.append(len(chunk))
        if len(seen) == 3:
            raise WriterFailed("restic went away")

    with pytest.raises(WriterFailed):
        backup.stream_command(ours, running.id, ["yes", "endless dump"], write, stall=30)
    assert len(seen) == 3  # not one chunk read after the writer failed
    assert "yes endless dump" not in wait_gone(running, "yes endless dump")  # the command was ended too


def test_a_stalled_command_stops_at_the_bound(ours, running):
    chunks: list[bytes] = []
    with pytest.raises(BackupEngineError) as stalled:
        backup.stream_command(ours, running.id, ["sh", "-c", "echo begin; exec sleep 299"], collect(chunks), stall=1)
    message = str(stalled.value)
    assert "wrote nothing for 1 s" in message and "\n" not in message and "begin" not in message
    assert b"".join(chunks) == b"begin\n"
    assert "sleep 299" not in wait_gone(running, "sleep 299")


def test_progress_on_standard_error_is_no_stall(ours, running):
    """Silent on standard output for longer than the bound, but never silent for that long at all."""
    script = 'for i in 1 2 3 4 5 6; do echo "progress $i" >&2; sleep 0.5; done; echo dump'
    chunks: list[bytes] = []
    result = backup.stream_command(ours, running.id, ["sh", "-c", script], collect(chunks), stall=2)
    assert result.ok and b"".join(chunks) == b"dump\n" and result.last_error_line() == "progress 6"


def test_a_stopped_script_still_cleans_up_after_its_command(ours, running):
    """Only the innermost process is ended first: the script around it removes its temporary file (as
    the MongoDB dump removes its credentials file) before anything else is ended."""
    marker = f"/tmp/{unique('credentials')}"
    script = f"echo secret > {marker}; echo begin; sleep 298; rm -f {marker}; sleep 297"
    with pytest.raises(BackupEngineError):
        backup.stream_command(ours, running.id, ["sh", "-c", script], lambda _chunk: None, stall=1)
    assert "sleep 298" not in wait_gone(running, "sleep 298")
    left = wait_gone(running, "sleep 297")
    assert "sleep 297" not in left and not any("sleep 298" in p for p in left)
    listing = running.exec_run(["ls", "/tmp"]).output.decode()
    assert marker.rsplit("/", 1)[1] not in listing


def test_a_container_not_running_is_a_one_line_error(ours, engine, busybox):
    created = engine.containers.create(BASE_TAG, ["true"], name=unique("stopped"))
    try:
        with pytest.raises(BackupEngineError) as refused:
            backup.stream_command(ours, created.id, ["true"], lambda _chunk: None, stall=5)
        assert "is not running" in str(refused.value) and "\n" not in str(refused.value)
    finally:
        created.remove(force=True)


@pytest.fixture(scope="module")
def over_tcp(engine, busybox) -> Iterator[Engine]:
    """darse's Engine on the local engine reached over TCP (a forwarder to its socket), as a remote
    engine is: docker-py's client, its HTTP over a TCP connection."""
    with engine_over_tcp() as connected:
        yield connected


def test_a_remote_engine_streams_and_stalls_alike(over_tcp, running):
    assert isinstance(over_tcp.api, DockerPyAPI) and over_tcp.url.startswith("tcp://")
    chunks: list[bytes] = []
    command = ["sh", "-c", "yes 0123456789abcdef | head -c 1048576; echo 'pg_dump: fine' >&2; exit 4"]
    result = backup.stream_command(over_tcp, running.id, command, collect(chunks), stall=30)
    assert result.exit_code == 4 and result.last_error_line() == "pg_dump: fine"
    assert b"".join(chunks) == (PATTERN * (1048576 // len(PATTERN) + 1))[:1048576]
    with pytest.raises(BackupEngineError) as stalled:
        backup.stream_command(over_tcp, running.id, ["sleep", "296"], collect(chunks), stall=1)
    assert "wrote nothing for 1 s" in str(stalled.value)
    assert "sleep 296" not in wait_gone(running, "sleep 296")
    assert backup.volume_mountpoint(over_tcp, "anything") is None


# --- volumes ---------------------------------------------------------------------------------------------

POPULATE = (
    "mkdir -p /v/sub/deeper && printf hello > /v/a.txt && chmod 640 /v/a.txt "
    "&& yes 'volume data' | head -c 300000 > /v/sub/deeper/big.bin && chmod 755 /v/sub/deeper/big.bin "
    "&& chmod 700 /v/sub && ln -s /etc/shadow /v/shadow-link && ln -s ../a.txt /v/sub/relative-link "
    "&& chown 1234:5678 /v/a.txt"
)


@pytest.fixture(scope="module")
def volume(engine: docker.DockerClient, busybox) -> Iterator[str]:
    """A volume holding files, folders, modes, an owner and two symlinks (one to the host's /etc/shadow)."""
    name = unique("vol")
    engine.volumes.create(name)
    try:
        engine.containers.run(
            BASE_TAG, ["sh", "-c", POPULATE], volumes={name: {"bind": "/v", "mode": "rw"}}, remove=True
        )
        yield name
    finally:
        engine.volumes.get(name).remove(force=True)


def helpers_of(engine: docker.DockerClient, volume_name: str) -> list[str]:
    return [c.id for c in engine.containers.list(all=True, filters={"label": f"{backup.HELPER_LABEL}={volume_name}"})]


def members(data: bytes) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for member in archive:
            handle = archive.extractfile(member) if member.isreg() else None
            out[member.name] = (member, handle.read() if handle else b"")
    return out


def test_volume_streams_as_a_tar_with_modes_folders_and_symlinks(ours, engine, volume):
    chunks: list[bytes] = []
    total = backup.stream_volume(ours, volume, collect(chunks), image=BASE_TAG)
    data = b"".join(chunks)
    assert total == len(data) and max(len(c) for c in chunks) <= backup.CHUNK
    found = members(data)
    assert set(found) == {
        ".", "./a.txt", "./sub", "./sub/deeper", "./sub/deeper/big.bin", "./shadow-link", "./sub/relative-link"
    }  # fmt: skip
    a_txt = found["./a.txt"][0]
    assert found["./a.txt"][1] == b"hello" and a_txt.mode & 0o7777 == 0o640 and (a_txt.uid, a_txt.gid) == (1234, 5678)
    assert found["./sub"][0].isdir() and found["./sub"][0].mode & 0o7777 == 0o700
    assert found["./sub/deeper/big.bin"][1] == (b"volume data\n" * 30000)[:300000]
    assert found["./sub/deeper/big.bin"][0].mode & 0o7777 == 0o755
    shadow = found["./shadow-link"][0]
    assert shadow.issym() and shadow.linkname == "/etc/shadow" and shadow.size == 0  # a link, not the file
    host_shadow = Path("/etc/shadow").read_bytes()
    assert not host_shadow.strip() or host_shadow not in data
    assert found["./sub/relative-link"][0].issym() and found["./sub/relative-link"][0].linkname == "../a.txt"
    assert helpers_of(engine, volume) == []  # the helper is gone


def test_the_helper_is_removed_when_the_writer_fails(ours, engine, volume):
    def write(_chunk: bytes) -> None:
        raise WriterFailed("disk full")

    with pytest.raises(WriterFailed):
        backup.stream_volume(ours, volume, write, image=BASE_TAG)
    assert helpers_of(engine, volume) == []


def test_an_image_the_engine_lacks_is_a_one_line_error(ours, engine, volume):
    with pytest.raises(BackupEngineError) as missing:
        backup.stream_volume(ours, volume, lambda _c: None, image=f"darse-test/absent-{uuid.uuid4().hex[:8]}:1")
    assert "cannot create the helper container" in str(missing.value) and "\n" not in str(missing.value)
    assert helpers_of(engine, volume) == []


def test_a_missing_volume_is_an_error_and_is_not_created(ours, engine, busybox):
    name = unique("absent")
    with pytest.raises(BackupEngineError) as missing:
        backup.stream_volume(ours, name, lambda _c: None, image=BASE_TAG)
    assert f"there is no volume named {name}" in str(missing.value)
    with pytest.raises(docker.errors.NotFound):
        engine.volumes.get(name)
    assert backup.volume_mountpoint(ours, name) is None


def test_a_remote_engine_streams_a_volume_alike(ours, over_tcp, engine, volume):
    here, there = io.BytesIO(), io.BytesIO()
    backup.stream_volume(ours, volume, here.write, image=BASE_TAG)
    backup.stream_volume(over_tcp, volume, there.write, image=BASE_TAG)
    assert {n: c for n, (_m, c) in members(here.getvalue()).items()} == {
        n: c for n, (_m, c) in members(there.getvalue()).items()
    }
    assert helpers_of(engine, volume) == []


def test_volume_mountpoint_is_the_local_volume_directory(ours, engine, volume):
    found = backup.volume_mountpoint(ours, volume)
    fresh = Engine(LocalEngine(), url=ours.url)
    assert backup.volume_mountpoint(fresh, volume) == found
    assert fresh._docker_py is None  # asked through the local socket's own client: docker-py not needed
    assert found == Path(engine.volumes.get(volume).attrs["Mountpoint"])
    assert (found / "a.txt").read_bytes() == b"hello"
    assert (found / "shadow-link").is_symlink()


def test_no_mountpoint_for_a_volume_mounted_only_in_use_nor_a_remote_engine(ours, engine, volume):
    """A local volume with options (tmpfs here, NFS in real life) is mounted only while a container uses
    it: its directory says nothing of its content. A remote engine's paths are not this machine's."""
    name = unique("tmpfs")
    engine.volumes.create(name, driver_opts={"type": "tmpfs", "device": "tmpfs"})
    try:
        assert backup.volume_mountpoint(ours, name) is None
    finally:
        engine.volumes.get(name).remove(force=True)
    remote = Engine(ours.api, url="tcp://192.0.2.1:2376")
    assert backup.volume_mountpoint(remote, volume) is None


def test_restore_fills_a_new_volume_and_refuses_a_full_one(ours, engine, volume):
    source = io.BytesIO()
    backup.stream_volume(ours, volume, source.write, image=BASE_TAG)
    target = unique("restored")
    engine.volumes.create(target)
    try:
        source.seek(0)
        backup.restore_volume(ours, target, source, image=BASE_TAG)
        again = io.BytesIO()
        backup.stream_volume(ours, target, again.write, image=BASE_TAG)
        before, after = members(source.getvalue()), members(again.getvalue())
        assert set(before) == set(after)
        for name, (member, content) in before.items():
            restored, restored_content = after[name]
            assert (restored.type, restored.mode, restored.uid, restored.gid, restored.linkname) == (
                member.type, member.mode, member.uid, member.gid, member.linkname
            ), name  # fmt: skip
            assert restored_content == content, name
        source.seek(0)
        with pytest.raises(BackupEngineError) as refused:
            backup.restore_volume(ours, target, source, image=BASE_TAG)
        assert f"the volume {target} is not empty" in str(refused.value)
        assert helpers_of(engine, target) == []
    finally:
        engine.volumes.get(target).remove(force=True)


def test_an_empty_or_failing_stream_stops_the_restore_with_its_own_error(ours, engine, volume):
    source = io.BytesIO()
    backup.stream_volume(ours, volume, source.write, image=BASE_TAG)
    source.seek(0)
    served = [0]

    def read(size: int) -> bytes:
        if served[0] >= 2:
            raise WriterFailed("restic dump failed")
        served[0] += 1
        return source.read(size)

    target = unique("partial")
    engine.volumes.create(target)
    try:
        with pytest.raises(BackupEngineError) as empty:
            backup.restore_volume(ours, target, io.BytesIO(b""), image=BASE_TAG)
        assert "nothing to restore" in str(empty.value)
        with pytest.raises(WriterFailed):
            backup.restore_volume(ours, target, read, image=BASE_TAG)
        assert served[0] == 2 and helpers_of(engine, target) == []
    finally:
        engine.volumes.get(target).remove(force=True)


# --- containers ------------------------------------------------------------------------------------------


def test_stop_and_start_containers(ours, engine, busybox):
    container = engine.containers.run(BASE_TAG, ["sleep", "3600"], detach=True, name=unique("stop"))
    try:
        backup.stop_containers(ours, [container.id], timeout=1)
        container.reload()
        assert container.status == "exited"
        backup.start_containers(ours, [container.id])
        container.reload()
        assert container.status == "running"
    finally:
        container.remove(force=True)
    with pytest.raises(BackupEngineError) as gone:
        backup.start_containers(ours, [container.id])
    assert "cannot start container" in str(gone.value) and "\n" not in str(gone.value)


def test_a_container_with_its_own_stop_grace_period_gets_that_one(ours, engine, busybox, monkeypatch) -> None:
    """Compose's `stop_grace_period` (the engine's StopTimeout) beats darse's default: `sleep` as PID 1
    ignores SIGTERM and is killed after its own 1 s; a container without one gets STOP_TIMEOUT."""
    created = engine.api.create_container(BASE_TAG, ["sleep", "3600"], name=unique("grace"), stop_timeout=1)
    engine.api.start(created["Id"])
    own = engine.containers.get(created["Id"])
    handles_term = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    plain = engine.containers.run(BASE_TAG, handles_term, detach=True, name=unique("nograce"))
    asked: list[tuple[str, int]] = []
    real_stop = ours.docker_api.stop

    def stop(container: str, timeout: int) -> None:
        asked.append((container, timeout))
        real_stop(container, timeout=timeout)

    monkeypatch.setattr(ours.docker_api, "stop", stop)
    try:
        assert stop_timeout(ours.docker_api, own.id, 30) == 1
        assert stop_timeout(ours.docker_api, plain.id, 30) == 30
        assert stop_timeout(ours.docker_api, "no-such-container", 30) == 30  # the stop reports it
        backup.stop_containers(ours, [own.id, plain.id])
        assert asked == [(own.id, 1), (plain.id, backup.STOP_TIMEOUT)]
        own.reload()
        plain.reload()
        assert own.status == plain.status == "exited"
        assert own.attrs["State"]["ExitCode"] == 137 and plain.attrs["State"]["ExitCode"] == 0  # killed; ended
    finally:
        own.remove(force=True)
        plain.remove(force=True)
