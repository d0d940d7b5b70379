"""The test engine itself: the busybox base image builds, runs, and can pose as another image."""

from __future__ import annotations

import docker

from helpers.engine import ensure_busybox


def test_busybox_image_runs_a_shell(engine: docker.DockerClient, busybox) -> None:
    output = engine.containers.run(busybox.id, ["sh", "-c", "echo $((6 * 7))"], remove=True)
    assert output.strip() == b"42"


def test_base_image_can_pose_under_another_name(engine: docker.DockerClient, busybox) -> None:
    ensure_busybox(engine, "darse-test/fake-postgres:16-alpine")
    assert engine.images.get("darse-test/fake-postgres:16-alpine").id == busybox.id
