"""Followed logs on the real engine, through both clients (the standard-library one on the local socket,
docker-py's): a container's stdout and stderr come stamped and in order, demultiplexed, a TTY
container's come as they are, a long line is cut, and `close()` from another thread ends the reading
thread at once even while the container writes nothing."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import docker
import pytest

from darse.engine.api import MAX_LOG_LINE
from darse.engine.docker import Engine
from darse.engine.docker_py import api_for
from darse.engine.docker_py import errors as docker_py_errors
from darse.engine.local import LocalEngine
from darse.engine.logs import LogRecord, follow_container

from helpers.engine import ensure_busybox

IMAGE = "darse-test/logs-app:1.0"
SCRIPT = (
    "echo out one; echo err one >&2; head -c 20000 /dev/zero | tr '\\0' x; echo; echo out two; "
    "trap 'exit 0' TERM; while true; do sleep 1; done"
)


@pytest.fixture(params=["local", "docker-py"])
def engine_client(request: pytest.FixtureRequest) -> Iterator[Engine]:
    local = request.param == "local"
    engine = Engine(LocalEngine()) if local else Engine(api_for(None, 60), errors=docker_py_errors)
    yield engine
    engine.close()


@pytest.fixture(params=[False, True], ids=["frames", "tty"])
def container(request: pytest.FixtureRequest, engine: docker.DockerClient) -> Iterator[str]:
    ensure_busybox(engine, IMAGE)
    name = f"darse-logs-{uuid.uuid4().hex[:8]}"
    started = engine.containers.run(IMAGE, ["sh", "-c", SCRIPT], name=name, detach=True, tty=request.param)
    try:
        yield started.id
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False, timeout=60)


def read_until(records: Iterator[LogRecord], count: int) -> list[LogRecord]:
    out = []
    for record in records:
        out.append(record)
        if len(out) == count:
            break
    return out


def test_a_followed_container_gives_stamped_lines_and_closes_at_once(engine_client: Engine, container: str) -> None:
    log = follow_container(engine_client, container, tail="all")
    records = read_until(iter(log), 4)
    texts = [r.text for r in records if not r.cut]
    assert sorted(texts) == ["err one", "out one", "out two"] and texts.index("out one") < texts.index("out two")
    long = next(r for r in records if r.cut)
    assert long.text == "x" * (MAX_LOG_LINE - len(long.time) - 1)  # bounded: the rest of the line dropped
    assert all(r.time.startswith("20") and r.time.endswith("Z") for r in records)

    ended = threading.Event()
    rest: list[LogRecord] = []

    def drain() -> None:
        rest.extend(log)  # blocks: the container writes nothing more
        ended.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    time.sleep(0.3)
    assert not ended.is_set(), rest
    log.close()
    assert ended.wait(10)  # the blocked read returned
    assert rest == []
