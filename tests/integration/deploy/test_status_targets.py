"""`darse status` on the real engine when a target does not answer, and after `darse down`.

The unreachable targets are real endpoints: a TCP port of this host nothing listens on (refused at once),
and a non-routable address (dropped, or refused by the network) tried with a short connection timeout.
The services on the local engine keep their exact rows; only those of the dead target say `unreachable`.
"""

from __future__ import annotations

import json
import socket

from darse import api
from darse.engine import connect as connect_module

from helpers.deploy import Stack, stack_fixture  # noqa: F401  (the `stack` fixture)

TIMEOUT = "30"
GHOST_COMPOSE = "services:\n  web:\n    image: darse-test/never-pulled:1\n    init: true\n"


def _closed_port() -> int:
    """A port of 127.0.0.1 that was free a moment ago (nothing listens: a connection is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _add_ghosts(stack: Stack, hosts: dict[str, tuple[str, str]]) -> dict[str, str]:
    """One service folder per target name: `{target: (kind, host)}`; returns target -> service folder."""
    config = stack.root / "darse.toml"
    text = config.read_text()
    folders = {}
    for target, (kind, host) in hosts.items():
        folder = f"{target}{stack.name[3:]}"
        (stack.root / folder).mkdir()
        (stack.root / folder / "compose.yaml").write_text(GHOST_COMPOSE)
        text += f'\n[targets.{target}]\nkind = "{kind}"\nhost = "{host}"\n[services."{folder}"]\ntarget = "{target}"\n'
        folders[target] = folder
    config.write_text(text)
    stack.commit("services on targets that do not answer")
    return folders


def test_an_unreachable_target_leaves_the_local_rows_exact(stack: Stack) -> None:
    up = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert up.returncode == 0, up.stdout + up.stderr
    port = _closed_port()
    folders = _add_ghosts(
        stack, {"ghost": ("compose", f"tcp://127.0.0.1:{port}"), "cluster": ("swarm", f"tcp://127.0.0.1:{port}")}
    )

    result = stack.darse("status", "--json")
    assert result.returncode == 1, result.stderr  # incomplete, but every row printed
    data = json.loads(result.stdout)
    rows = {row["service"]: row for row in data["services"]}
    mine = rows[stack.name]
    assert (mine["state"], mine["containers"], mine["error"]) == (
        "in-sync",
        {"running": 2, "healthy": 2, "total": 2},
        None,
    )
    for target, folder in folders.items():
        assert (rows[folder]["state"], rows[folder]["containers"], rows[folder]["target"]) == (
            "unreachable",
            None,
            target,
        )
        assert f"127.0.0.1:{port}" in rows[folder]["error"]
    unreachable = {t["target"]: t for t in data["unreachable"]}
    assert set(unreachable) == {"ghost", "cluster"}
    assert unreachable["ghost"]["services"] == [folders["ghost"]]
    assert "ConnectionRefusedError" in unreachable["ghost"]["error"]

    human = stack.darse("status", env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert human.returncode == 1 and "Traceback" not in human.stderr
    table = human.stdout
    assert stack.name in table and "in-sync" in table and "2/2 running" in table
    assert "unreachable" in table and human.stderr.count("did not answer") == 2
    assert "target ghost did not answer" in human.stderr and "ConnectionRefusedError" in human.stderr
    assert result.stderr.count("did not answer") == 2  # said on stderr with --json too


def test_a_non_routable_target_fails_within_the_connection_timeout(stack: Stack, monkeypatch) -> None:
    """10.255.255.1 answers nothing (or the network refuses it): the status does not wait minutes for it."""
    monkeypatch.setenv("DARSE_STATE_DIR", str(stack.state))
    monkeypatch.setattr(connect_module, "CONNECT_TIMEOUT", 1.0)
    up = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert up.returncode == 0, up.stdout + up.stderr
    folders = _add_ghosts(stack, {"far": ("compose", "tcp://10.255.255.1:2375")})
    report = api.status(api.open_deployments(stack.root))
    rows = {row.service: row for row in report.rows}
    assert (rows[stack.name].state, rows[stack.name].running) == ("in-sync", 2)
    assert rows[folders["far"]].state == "unreachable"
    (far,) = report.unreachable
    assert far.target == "far" and "cannot reach the Docker engine at tcp://10.255.255.1:2375" in far.message


def test_a_service_brought_down_is_down(stack: Stack) -> None:
    up = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert up.returncode == 0, up.stdout + up.stderr
    assert stack.darse("down", stack.name).returncode == 0
    result = stack.darse("status", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = [r for r in json.loads(result.stdout)["services"] if r["service"] == stack.name]
    assert (row["state"], row["containers"]["total"], row["last"]["action"]) == ("down", 0, "down")
    human = stack.darse("status", env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert human.returncode == 0 and " down " in human.stdout and "degraded" not in human.stdout
