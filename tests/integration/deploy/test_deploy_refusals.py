"""Mistakes stop `darse up` with one line and exit 2 before anything changes on the engine or in history."""

from __future__ import annotations

import subprocess

from helpers.deploy import Stack, git, stack_fixture  # noqa: F401  (the `stack` fixture)

TIMEOUT = "20"


def _assert_refused(stack: Stack, result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("darse: ") and "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert stack.containers() == {}
    assert stack.history_rows() == 0
    assert stack.proxy not in {n.name for n in stack.engine.networks.list(names=[stack.proxy])}


def test_engine_unreachable(stack: Stack) -> None:
    result = stack.darse("up", stack.name, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    _assert_refused(stack, result, "cannot reach the Docker engine at unix:///nonexistent.sock", "hint:")
    status = stack.darse("status", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert status.returncode == 1 and "cannot reach the Docker engine" in status.stderr  # incomplete, said
    assert stack.name in status.stdout and "unreachable" in status.stdout  # the rows, still printed


def test_missing_secret_file(stack: Stack) -> None:
    (stack.folder / "db.secrets").unlink()
    result = stack.darse("up", stack.name)
    missing = f"env_file {stack.name}/db.secrets of service db does not exist"
    _assert_refused(stack, result, missing, f"darse secrets init {stack.name}")


def test_unknown_service(stack: Stack) -> None:
    result = stack.darse("up", "no-such-service")
    _assert_refused(stack, result, "no service named 'no-such-service'")
    assert stack.darse("rollback", "no-such-service").returncode == 2


def test_dirty_tree(stack: Stack) -> None:
    stack.write(greeting="uncommitted")
    result = stack.darse("up", stack.name)
    _assert_refused(stack, result, "uncommitted changes", f"{stack.name}/compose.yaml", "--allow-dirty")
    (stack.folder / "notes.txt").write_text("an untracked file counts too\n")
    git(stack.root, "checkout", "--", ".")
    _assert_refused(stack, stack.darse("up", stack.name), "uncommitted changes", "notes.txt")


def test_lint_errors_block_unless_forced(stack: Stack) -> None:
    stack.write(web_image="darse-test/deploy-web:latest")
    stack.commit("latest tag")
    _assert_refused(stack, stack.darse("up", stack.name), "lint error", "DC015", "--force")
    forced = stack.darse("up", stack.name, "--force", "--allow-dirty", "--timeout", TIMEOUT)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    # the proxy network was missing: darse created it
    assert stack.engine.networks.list(names=[stack.proxy])
    assert stack.containers()["web"].labels["org.darse.dirty"] == "false"


def test_rollback_without_history_and_bad_revision(stack: Stack) -> None:
    _assert_refused(stack, stack.darse("rollback", stack.name, "--steps", "1"), "earlier deployment")
    _assert_refused(stack, stack.darse("rollback", stack.name, "--to", "nonexistent-rev"), "unknown revision")
