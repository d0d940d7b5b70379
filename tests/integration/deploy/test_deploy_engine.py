"""`darse up`, automatic rollback, `rollback`, `status`, `down` on the real engine with a real Git repo."""

from __future__ import annotations

import json

from helpers.deploy import SECRET, Stack, git, stack_fixture  # noqa: F401  (the `stack` fixture)

TIMEOUT = "20"


def _volume_marker(stack: Stack) -> str:
    code, out = stack.containers()["db"].exec_run(["cat", "/data/marker"])
    return out.decode().strip() if code == 0 else f"missing (exit {code})"


def test_failed_deploy_is_reported_and_rolled_back_with_data_kept(stack: Stack) -> None:
    good = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert good.returncode == 0, good.stdout + good.stderr
    good_commit = stack.history()[0]["revision"]
    containers = stack.containers()
    assert set(containers) == {"web", "db"}
    web_labels = containers["web"].labels
    assert web_labels["org.darse.commit"] == good_commit
    assert web_labels["org.darse.dirty"] == "false"
    assert web_labels["org.darse.config-hash"].startswith("sha256:")
    assert web_labels["org.darse.deployed-at"].endswith("Z")
    # separate networks: the database is not on the proxy network
    web_nets = set(containers["web"].attrs["NetworkSettings"]["Networks"])
    db_nets = set(containers["db"].attrs["NetworkSettings"]["Networks"])
    assert stack.proxy in web_nets and stack.proxy not in db_nets
    assert web_nets & db_nets == {f"{stack.name}_backend"}
    code, _ = containers["db"].exec_run(["sh", "-c", "echo precious > /data/marker"])
    assert code == 0
    db_id = containers["db"].id

    # a broken commit: the web healthcheck probes a port nothing listens on
    stack.write(greeting="broken", health_port=9)
    broken_commit = stack.commit("broken healthcheck")
    failed = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "failed" in failed.stdout and "unhealthy" in failed.stdout
    assert f"rolled back to {good_commit[:12]}" in failed.stdout
    after = stack.containers()
    assert after["web"].status == "running"
    assert after["web"].labels["org.darse.commit"] == good_commit
    assert after["web"].attrs["State"]["Health"]["Status"] == "healthy"
    env = dict(item.split("=", 1) for item in after["web"].attrs["Config"]["Env"])
    assert env["GREETING"] == "hello"
    assert after["db"].id == db_id, "the database, unchanged, was not recreated"
    assert _volume_marker(stack) == "precious"
    records = stack.history()
    assert [(r["action"], r["outcome"]) for r in records[:3]] == [
        ("auto-rollback", "success"),
        ("up", "failed"),
        ("up", "success"),
    ]
    assert records[1]["revision"] == broken_commit
    assert records[0]["revision"] == good_commit
    assert set(records[2]["images"]) == {"web", "db"}
    assert records[2]["images"]["web"]["id"].startswith("sha256:")

    # a second kind of breakage: the database container exits at once
    stack.write(db_command='["sh", "-c", "exit 3"]')
    stack.commit("database exits")
    exits = stack.darse("up", stack.name, "--timeout", TIMEOUT, "--json")
    assert exits.returncode == 1
    report = json.loads(exits.stdout)[0]
    assert not report["ok"] and report["rollback"]["ok"]
    assert [f["container"] for f in report["failures"]] == [f"{stack.name}-db-1"]
    assert "exited or restarted" in report["deployment"]["message"]
    assert stack.containers()["db"].status == "running"
    assert _volume_marker(stack) == "precious"
    assert SECRET.encode() not in stack.history_bytes()


def test_rollback_steps_restores_earlier_config_and_status_shows_drift(stack: Stack) -> None:
    v1 = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert v1.returncode == 0, v1.stdout + v1.stderr
    commit_v1 = stack.history()[0]["revision"]
    stack.write(greeting="second")
    commit_v2 = stack.commit("second greeting")

    diff = stack.darse("diff", stack.name)
    assert diff.returncode == 0
    assert "-      GREETING: hello" in diff.stdout and "+      GREETING: second" in diff.stdout
    assert SECRET not in diff.stdout
    masked = json.loads(stack.stored_configs()[0])
    assert masked["services"]["db"]["environment"] == {"DB_PASSWORD": "****"}
    assert SECRET.encode() not in stack.history_bytes()

    assert stack.darse("up", stack.name, "--timeout", TIMEOUT).returncode == 0
    assert _greeting(stack) == "second"

    back = stack.darse("rollback", stack.name, "--steps", "1", "--timeout", TIMEOUT)
    assert back.returncode == 0, back.stdout + back.stderr
    assert _greeting(stack) == "hello"
    assert stack.containers()["web"].labels["org.darse.commit"] == commit_v1
    # the working tree is untouched: still v2, nothing modified
    assert 'GREETING: "second"' in (stack.folder / "compose.yaml").read_text()
    assert _git_status(stack) == ""

    status = json.loads(stack.darse("status", "--json").stdout)
    row = next(s for s in status["services"] if s["service"] == stack.name)
    assert row["deployed_revision"] == commit_v1 and row["head"] == commit_v2
    assert row["state"] == "drift" and f"{stack.name}/compose.yaml" in row["drift"]["files"]
    assert row["containers"] == {"running": 2, "healthy": 2, "total": 2}
    assert row["last"]["action"] == "rollback" and row["last"]["outcome"] == "success"

    # `up` returns to HEAD; then in sync; then a commit touching the service is drift again
    assert stack.darse("up", stack.name, "--timeout", TIMEOUT).returncode == 0
    assert _greeting(stack) == "second"
    row = _status_row(stack)
    assert row["state"] == "in-sync" and row["drift"]["files"] == []
    (stack.folder / "README.md").write_text("# changed\n")
    stack.commit("touch the README")
    row = _status_row(stack)
    assert row["state"] == "drift" and row["drift"]["files"] == [f"{stack.name}/README.md"]
    human = stack.darse("status")
    assert human.returncode == 0 and stack.name in human.stdout and "drift" in human.stdout

    # down keeps the volume; --volumes needs confirmation
    code, _ = stack.containers()["db"].exec_run(["sh", "-c", "echo kept > /data/marker"])
    assert code == 0
    assert stack.darse("down", stack.name).returncode == 0
    assert stack.containers() == {}
    assert stack.engine.volumes.get(f"{stack.name}_data")
    refused = stack.darse("down", stack.name, "--volumes")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert stack.darse("up", stack.name, "--timeout", TIMEOUT).returncode == 0
    assert _volume_marker(stack) == "kept"
    logs = stack.darse("logs", stack.name, "--tail", "5")
    assert logs.returncode == 0
    assert stack.darse("down", stack.name, "--volumes", "--yes").returncode == 0
    assert f"{stack.name}_data" not in {v.name for v in stack.engine.volumes.list()}


def _greeting(stack: Stack) -> str:
    env = dict(item.split("=", 1) for item in stack.containers()["web"].attrs["Config"]["Env"])
    return env["GREETING"]


def _git_status(stack: Stack) -> str:

    return git(stack.root, "status", "--porcelain")


def _status_row(stack: Stack) -> dict:
    result = stack.darse("status", "--json")
    assert result.returncode == 0, result.stderr
    return next(s for s in json.loads(result.stdout)["services"] if s["service"] == stack.name)


def test_up_of_an_unchanged_healthy_service_changes_nothing(stack: Stack) -> None:
    first = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert first.returncode == 0, first.stdout + first.stderr
    before = {name: c.id for name, c in stack.containers().items()}
    again = stack.darse("up", stack.name, "--timeout", TIMEOUT, "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert {name: c.id for name, c in stack.containers().items()} == before
    latest = stack.history()[0]
    assert (latest["action"], latest["outcome"], latest["message"]) == ("up", "success", "unchanged")

    # a stopped container is not "unchanged": compose up runs and starts it again
    stack.containers()["db"].stop(timeout=1)
    third = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert third.returncode == 0, third.stdout + third.stderr
    assert stack.containers()["db"].status == "running"
