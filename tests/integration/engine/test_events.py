"""The engine's event stream on the real engine, through both clients (the standard-library one on the
local socket, docker-py's): a Compose project started and stopped is seen as typed events (create,
start, health_status, stop, die) with its project and darse's service label; containers of other
projects are filtered out by the engine; `close()` from another thread ends the reading thread."""

from __future__ import annotations

import queue
import subprocess
import threading
import time

import pytest

from darse.engine.docker import SERVICE_LABEL, ContainerEvent, Engine
from darse.engine.docker_py import api_for
from darse.engine.local import LocalEngine

from helpers.engine import docker_cli

COMPOSE = """\
services:
  app:
    image: busybox:1.36
    init: true
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    labels:
      org.darse.service: "{project}"
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      timeout: 1s
      retries: 2
      start_period: 1s
"""
WAIT = 120  # seconds at most for an expected event (a shared machine)


def _client(kind: str):
    return LocalEngine() if kind == "local" else api_for(None, 60)


def _compose(folder, project: str, *args: str) -> None:
    subprocess.run(
        [docker_cli(), "compose", "--project-name", project, "-f", str(folder / "compose.yaml"), *args],
        check=True,
        capture_output=True,
        timeout=180,
    )


class Reader:
    """A thread iterating the stream, as the dashboard's watcher does."""

    def __init__(self, events) -> None:
        self.events = events
        self.seen: queue.Queue[ContainerEvent] = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for event in self.events:
            self.seen.put(event)

    def wait_for(self, project: str, action: str, health: str = "") -> list[ContainerEvent]:
        """Every event read until one of `project` with `action` (and `health`) arrives."""
        got: list[ContainerEvent] = []
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                event = self.seen.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            got.append(event)
            if event.project == project and event.action == action and (not health or event.health == health):
                return got
        raise AssertionError(f"no {action} {health} of {project} among {got}")


@pytest.mark.parametrize("kind", ["local", "docker-py"])
def test_a_compose_project_started_and_stopped_is_seen_live(kind, busybox, project_name, tmp_path):
    (tmp_path / "compose.yaml").write_text(COMPOSE.format(project=project_name))
    stranger = f"{project_name}x"  # another project, without darse's label
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "compose.yaml").write_text(COMPOSE.replace('org.darse.service: "{project}"', "x: y"))
    engine = Engine(_client(kind))
    events = engine.events(label=SERVICE_LABEL)
    reader = Reader(events)
    try:
        _compose(tmp_path / "other", stranger, "up", "-d")
        _compose(tmp_path, project_name, "up", "-d")
        started = reader.wait_for(project_name, "start")
        assert any(e.action == "create" for e in started if e.project == project_name)
        healthy = reader.wait_for(project_name, "health_status", "healthy")
        _compose(tmp_path, project_name, "stop", "--timeout", "10")
        stopped = reader.wait_for(project_name, "stop")
        seen = started + healthy + stopped
        ours = [e for e in seen if e.project == project_name]
        assert {e.service for e in ours} == {project_name}  # darse's label, from the event's attributes
        assert {e.container for e in ours} == {f"{project_name}-app-1"}
        assert "die" in {e.action for e in ours}
        assert all(e.project != stranger for e in seen)  # the engine filtered the unlabelled project out
        assert not any(e.action.startswith("exec_") for e in seen)  # healthcheck runs are not changes
    finally:
        events.close()
        reader.thread.join(timeout=30)
        alive = reader.thread.is_alive()
        for name, folder in ((project_name, tmp_path), (stranger, tmp_path / "other")):
            _compose(folder, name, "down", "--timeout", "1")
        engine.close()
    assert not alive  # close() from this thread ended the reading one


def test_a_project_filter_sees_that_project_alone(busybox, project_name, tmp_path):
    (tmp_path / "compose.yaml").write_text(COMPOSE.format(project=project_name))
    engine = Engine(LocalEngine())
    with engine.events(project=project_name) as events:
        reader = Reader(events)
        try:
            _compose(tmp_path, project_name, "up", "-d", "--no-start")
            got = reader.wait_for(project_name, "create")
            assert {e.project for e in got} == {project_name}
        finally:
            _compose(tmp_path, project_name, "down", "--timeout", "1")
    reader.thread.join(timeout=30)
    assert not reader.thread.is_alive()
    engine.close()


@pytest.mark.parametrize("kind", ["local", "docker-py"])
def test_closing_an_idle_stream_ends_the_reading_thread(kind):
    """Nothing happens on the stream (a label no container has): the reading thread is blocked in a
    read, and `close()` from another thread ends it, long before the client's own timeout would."""
    api = LocalEngine(timeout=900) if kind == "local" else api_for(None, 900)
    engine = Engine(api)
    events = engine.events(label="org.darse.test-no-container-has-this")
    reader = Reader(events)
    try:
        time.sleep(0.5)  # let the thread block in its read (the test holds either way)
        assert reader.thread.is_alive()
    finally:
        events.close()
        reader.thread.join(timeout=60)
        engine.close()
    assert not reader.thread.is_alive()
    assert reader.seen.empty()


def test_event_lines_are_bounded_and_split_anywhere():
    """The stream's bytes arrive in any pieces; an over-long line is dropped (never buffered whole), a
    line that is not a JSON object skipped, and the events around them kept."""
    from darse.engine.api import event_objects

    big = b'{"Action": "' + b"x" * 5000 + b'"}\n'
    raw = b'{"Action": "start"}\n' + big + b"not json\n[1, 2]\n\n" + b'{"Action": "die"}\n{"Action": "cut'
    pieces = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    assert list(event_objects(iter(pieces), limit=1000)) == [{"Action": "start"}, {"Action": "die"}]
