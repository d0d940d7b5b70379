"""`feed_command` on the real engine, locally and over TCP: the whole input reaches the command's standard
input (its end too), exit codes and standard error's tail come back, standard output is never kept; a
command that quits early, stalls, or whose source fails is ended with a one-line error."""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from collections.abc import Iterator

import docker
import pytest

from darse.engine import backup
from darse.engine.backup import BackupEngineError
from darse.engine.compose import Endpoint
from darse.engine.connect import connect
from darse.engine.docker import Engine

from helpers.engine import BASE_TAG
from helpers.tcp_engine import engine_over_tcp

DATA = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32)  # 3 MiB, not one repeated byte


@pytest.fixture(scope="module")
def ours(engine, busybox) -> Iterator[Engine]:
    connected = connect(Endpoint())
    yield connected
    connected.close()


@pytest.fixture(scope="module")
def remote(engine, busybox) -> Iterator[Engine]:
    with engine_over_tcp() as connected:
        yield connected


@pytest.fixture(scope="module")
def running(engine: docker.DockerClient, busybox):
    container = engine.containers.run(
        BASE_TAG, ["sleep", "3600"], detach=True, name=f"darse-test-feed-{uuid.uuid4().hex[:10]}"
    )
    yield container
    container.remove(force=True)


def gone(container, command: str, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if command not in [row[-1] for row in container.top()["Processes"]]:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("where", ["ours", "remote"])
def test_the_whole_input_reaches_the_command_and_its_end_too(where, request, running):
    engine = request.getfixturevalue(where)
    command = ["sh", "-c", "sha256sum >&2; echo 'stdout is dropped'; echo 'last words' >&2; exit 3"]
    result = backup.feed_command(engine, running.id, command, io.BytesIO(DATA).read, stall=30)
    assert result.exit_code == 3 and result.written == len(DATA)
    said = result.stderr_tail.decode()
    assert said.startswith(hashlib.sha256(DATA).hexdigest()) and result.last_error_line() == "last words"
    assert b"stdout is dropped" not in result.stderr_tail


def test_a_command_that_stops_reading_early_is_an_error_unless_it_failed(ours, running):
    with pytest.raises(BackupEngineError, match="exited before reading all of its input"):
        backup.feed_command(ours, running.id, ["head", "-c", "10"], io.BytesIO(DATA).read, stall=30)
    failed = backup.feed_command(ours, running.id, ["sh", "-c", "head -c 10; exit 5"], io.BytesIO(DATA).read, stall=30)
    assert failed.exit_code == 5 and failed.written < len(DATA)


def test_a_stalled_command_is_stopped_at_the_bound(ours, running):
    started = time.monotonic()
    with pytest.raises(BackupEngineError, match="wrote nothing for 1 s"):
        backup.feed_command(ours, running.id, ["sh", "-c", "sleep 297"], io.BytesIO(DATA).read, stall=1)
    assert time.monotonic() - started < 60
    assert gone(running, "sleep 297")


def test_a_failing_source_ends_the_command_and_its_error_goes_on(ours, running):
    pieces = iter([b"a" * 1000, b"b" * 1000])

    def read(_size: int) -> bytes:
        piece = next(pieces, None)
        if piece is None:
            raise RuntimeError("restic broke")
        return piece

    with pytest.raises(RuntimeError, match="restic broke"):
        backup.feed_command(ours, running.id, ["sh", "-c", "cat > /dev/null; sleep 298"], read, stall=30)
    assert gone(running, "sleep 298")


def test_a_stopped_container_is_a_one_line_error(ours, engine, busybox):
    created = engine.containers.create(BASE_TAG, ["true"], name=f"darse-test-feed-{uuid.uuid4().hex[:10]}")
    try:
        with pytest.raises(BackupEngineError) as error:
            backup.feed_command(ours, created.id, ["cat"], io.BytesIO(b"x").read, stall=5)
        assert "\n" not in error.value.message and "cannot run 'cat'" in error.value.message
    finally:
        created.remove(force=True)
