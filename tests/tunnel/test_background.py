"""Background tunnels as real detached darse processes: started, listed, carrying traffic, stopped one
at a time or all at once; entries of processes that are gone are dropped. The far end is a TCP server
of this test on the loopback (a container's address is one more IP: the engine tests cover that)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from darse.errors import DarseError
from darse.tunnel import registry
from darse.tunnel.plan import LOCAL, TunnelPlan, free_port
from darse.tunnel.registry import TunnelEntry
from darse.tunnel.run import launch_background

from helpers.cli import run_darse
from helpers.tcp import echo, server


def plan(name: str, port: int) -> TunnelPlan:
    return TunnelPlan(
        name=name,
        folder="wiki",
        service="db",
        target="local",
        mode=LOCAL,
        host="",
        container="wiki-db-1",
        network="wiki_default",
        address="127.0.0.1",
        port=port,
        local_host="127.0.0.1",
        local_port=free_port(),
        kind="postgres",
    )


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    folder.mkdir()
    monkeypatch.setenv("DARSE_STATE_DIR", str(folder))
    (tmp_path / "fleet").mkdir()
    return folder


def talk(local: str, message: bytes) -> bytes:
    host, _sep, port = local.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(message)
        return conn.recv(100)


def test_background_tunnels_are_listed_carry_traffic_and_stop(state: Path) -> None:
    fleet = state.parent / "fleet"
    with server(echo) as port:
        entries = launch_background(state, [plan("one", port), plan("two", port)])
        assert [e.name for e in entries] == ["one", "two"]
        [pid] = {e.pid for e in entries}
        assert pid != os.getpid() and registry.process_alive(pid)
        assert talk(entries[0].local, b"ping") == b"ping"

        listed = json.loads(run_darse("tunnel", "ls", "--json", cwd=fleet).stdout)["tunnels"]
        assert [(t["name"], t["pid"], t["background"], t["hint"]) for t in listed] == [
            ("one", pid, True, f"psql -h 127.0.0.1 -p {entries[0].local.rsplit(':', 1)[1]} -U <user> <database>"),
            ("two", pid, True, f"psql -h 127.0.0.1 -p {entries[1].local.rsplit(':', 1)[1]} -U <user> <database>"),
        ]

        result = run_darse("tunnel", "stop", "one", cwd=fleet)
        assert result.exit_code == 0, result.output
        assert "one closed" in result.stdout
        assert [e.name for e in registry.entries(state)] == ["two"]
        assert registry.process_alive(pid)  # it still holds `two`
        assert talk(entries[1].local, b"still") == b"still"

        result = run_darse("tunnel", "stop", "--all", cwd=fleet)
        assert result.exit_code == 0, result.output
        assert registry.entries(state) == []
        assert not registry.process_alive(pid)


def test_a_name_already_open_is_refused(state: Path) -> None:
    with server(echo) as port:
        [entry] = launch_background(state, [plan("db", port)])
        try:
            with pytest.raises(DarseError) as caught:
                launch_background(state, [plan("db", port)])
            assert f"tunnel db is already open on {entry.local} (darse process {entry.pid})" in caught.value.message
        finally:
            run_darse("tunnel", "stop", "db", cwd=state.parent / "fleet")
    assert not registry.process_alive(entry.pid)


def test_a_far_end_that_refuses_is_an_error_and_no_process_stays(state: Path) -> None:
    with pytest.raises(DarseError) as caught:
        launch_background(state, [plan("db", free_port())])
    assert "refuses connections" in caught.value.message
    assert registry.entries(state) == []


def test_entries_of_ended_processes_are_dropped(state: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = TunnelEntry("old", "wiki", "db", "local", "127.0.0.1:1", "10.0.0.2:5432", int(gone.stdout), "2026-01-01")
    registry.write_entry(state, dead)
    # a live process that is not a darse: a number reused after a reboot
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "darse"])
    try:
        for name, pid in (("reused", other.pid), ("held", holder.pid)):
            registry.write_entry(state, TunnelEntry(name, "wiki", "db", "local", "127.0.0.1:2", "x", pid, "2026"))
        (registry.folder(state) / "junk.json").write_text("{not json")
        assert [e.name for e in registry.entries(state)] == ["held"]
    finally:
        for process in (other, holder):
            process.kill()
            process.wait()
    assert not registry.entry_path(state, "old").exists()
    result = run_darse("tunnel", "stop", "old", cwd=state.parent / "fleet")
    assert result.exit_code == 2 and "no open tunnel named 'old'" in result.stderr
