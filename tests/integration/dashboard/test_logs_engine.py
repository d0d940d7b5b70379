"""The dashboard's log follower against the real engine: a Compose service's container, its planted secret
masked, lines written after the follower started, a redeploy (`--force-recreate`) in the middle of the
stream, and every task of a service on the three-node Swarm, whatever node runs it."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from darse import api
from darse.dashboard.logs import LogFollower, LogLine
from darse.masking import MASK

from helpers.logs import SECRET, LogsService
from helpers.swarm_nodes import Cluster

WAIT = 60.0  # seconds: a shared machine; the tests assert what arrives, not how fast


@pytest.fixture
def service(tmp_path: Path, engine: docker.DockerClient) -> Iterator[LogsService]:
    logs = LogsService(tmp_path / "repo", engine)
    try:
        yield logs
    finally:
        logs.close()


def collect(follower: LogFollower, seen: list[LogLine], until: Callable[[list[LogLine]], bool]) -> list[LogLine]:
    """Read lines into `seen` until `until(seen)` holds (a failure after WAIT seconds)."""
    deadline = time.monotonic() + WAIT
    while not until(seen):
        assert time.monotonic() < deadline, [line.text for line in seen]
        seen.extend(follower.wait(1.0))
    return seen


def texts(lines: list[LogLine]) -> list[str]:
    return [line.text for line in lines if not line.note]


def test_follows_masks_and_survives_a_redeploy(service: LogsService) -> None:
    service.up()
    first = service.running()
    ctx = api.open_deployments(service.root)
    seen: list[LogLine] = []
    with api.follow_logs(ctx, service.name, tail=10) as follower:
        collect(follower, seen, lambda s: any("starts with token" in t for t in texts(s)))
        greeting = next(line for line in seen if "starts with token" in line.text)
        assert greeting.text == f"app starts with token {MASK}"  # the planted secret, masked
        assert greeting.source == f"{service.name}-app-1" and greeting.time.endswith("Z")

        marker = uuid.uuid4().hex
        service.write(f"before the redeploy {marker} token={SECRET}")
        collect(follower, seen, lambda s: any(marker in t for t in texts(s)))
        assert f"before the redeploy {marker} token={MASK}" in texts(seen)

        service.up("--force-recreate")  # a redeploy: the container is replaced
        deadline = time.monotonic() + WAIT
        while (second := service.running()) == first:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        after = uuid.uuid4().hex
        service.write(f"after the redeploy {after}", second)
        collect(follower, seen, lambda s: any(after in t for t in texts(s)))
        assert follower.followed_count == 2  # the first container, then its successor
    assert follower.stopped
    assert all(SECRET not in line.text for line in seen)


def test_the_filter_applies_to_masked_lines(service: LogsService) -> None:
    service.up()
    service.running()
    ctx = api.open_deployments(service.root)
    marker = uuid.uuid4().hex
    seen: list[LogLine] = []
    with api.follow_logs(ctx, service.name, tail=0, text_filter=marker.upper()) as follower:
        service.write(f"not this one {uuid.uuid4().hex}")
        service.write(f"this one {marker} {SECRET}")
        collect(follower, seen, lambda s: bool(texts(s)))
    assert texts(seen) == [f"this one {marker} {MASK}"]  # case-insensitive; the other line filtered out
    secret_probe: list[LogLine] = []
    with api.follow_logs(ctx, service.name, tail=10, text_filter=SECRET[:12]) as follower:
        service.write(f"probe {marker}")
        secret_probe.extend(follower.wait(3.0))
    assert texts(secret_probe) == []  # the secret cannot be searched for: the filter sees masked lines


def test_every_task_of_a_swarm_service(swarm_cluster: Cluster, tmp_path: Path) -> None:
    service = LogsService(tmp_path / "repo", swarm_cluster.manager, swarm_cluster)
    try:
        service.up()
        ctx = api.open_deployments(service.root)
        seen: list[LogLine] = []
        with api.follow_logs(ctx, service.name, tail=10) as follower:
            collect(follower, seen, lambda s: any("starts with token" in t for t in texts(s)))
            marker = uuid.uuid4().hex
            first = service.running()
            service.write(f"from the task {marker} {SECRET}", first)
            collect(follower, seen, lambda s: any(marker in t for t in texts(s)))

            update = ["docker", "service", "update", "--force", "--detach", "--", f"{service.name}_app"]
            subprocess.run(update, check=True, capture_output=True, timeout=120)  # a redeploy: a new task
            deadline = time.monotonic() + WAIT
            while (second := service.running()) == first:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            after = uuid.uuid4().hex
            service.write(f"from the new task {after}", second)
            collect(follower, seen, lambda s: any(after in t for t in texts(s)))
        line = next(line for line in seen if marker in line.text)
        assert line.text == f"from the task {marker} {MASK}"
        assert line.source == f"{service.name}_app.1" and line.time.endswith("Z")
        assert next(line for line in seen if after in line.text).source.startswith(f"{service.name}_app.")
        assert all(SECRET not in line.text for line in seen)
    finally:
        service.close()
