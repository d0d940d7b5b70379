"""Compose targets other than the local default: a Docker context and a DOCKER_HOST URL in darse.toml.

Both point at the test engine (the only one here), so what is checked is that darse goes through the
target it is given: a context that does not exist or a host nothing listens on is a one-line error.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

from helpers.deploy import Stack, stack_fixture  # noqa: F401  (the `stack` fixture)

TIMEOUT = "30"


@pytest.fixture
def context_name():
    name = f"darse-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "context", "create", name, "--docker", "host=unix:///var/run/docker.sock"],
        check=True,
        capture_output=True,
    )
    yield name
    subprocess.run(["docker", "context", "rm", "-f", name], capture_output=True, check=False)


def _target(stack: Stack, table: str) -> None:
    config = stack.root / "darse.toml"
    config.write_text(config.read_text() + f'\n[targets.there]\n{table}\n[services."{stack.name}"]\ntarget = "there"\n')
    stack.commit("deploy through another target")


def test_compose_through_a_docker_context(stack: Stack, context_name: str) -> None:
    _target(stack, f'context = "{context_name}"')
    result = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(stack.containers()) == {"web", "db"}
    status = stack.darse("status", "--json")
    assert status.returncode == 0, status.stderr
    assert '"state": "in-sync"' in status.stdout
    down = stack.darse("down", stack.name)
    assert down.returncode == 0, down.stderr
    assert not stack.containers()


def test_compose_through_a_docker_host_url(stack: Stack) -> None:
    _target(stack, 'host = "unix:///var/run/docker.sock"')
    result = stack.darse("up", stack.name, "--timeout", TIMEOUT, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert result.returncode == 0, result.stdout + result.stderr  # the target's host wins over the environment
    assert set(stack.containers()) == {"web", "db"}


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ('context = "no-such-context-darse"', "no-such-context-darse"),
        ('host = "unix:///nonexistent-darse.sock"', "cannot reach the Docker engine"),
    ],
)
def test_unreachable_target_is_one_line_and_changes_nothing(stack: Stack, table: str, words: str) -> None:
    _target(stack, table)
    result = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr
    assert not stack.containers()
    assert stack.history_rows() == 0
