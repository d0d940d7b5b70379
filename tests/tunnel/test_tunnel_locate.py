"""The plan's choices and refusals that the repository alone decides (no engine is asked): the target's
kind, the Compose service, the declared ports, the local bind, aliases of darse.toml."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from darse.config import parse_config, parse_local_bind
from darse.errors import DarseError
from darse.model.compose import load_compose
from darse.tunnel.locate import compose_ports, tunnel_plans

from helpers.cli import run_darse
from helpers.repo import write_tree

TOML = """
[targets.cluster]
kind = "swarm"
[targets.ctx]
context = "prod"
[targets.tcp]
host = "tcp://10.0.0.9:2375"
[services.swarmed]
target = "cluster"
[services.contexted]
target = "ctx"
[services.tcped]
target = "tcp"
[tunnels.wikidb]
service = "wiki"
to = "db"
[tunnels.ghost]
service = "nowhere"
"""
ONE = "services:\n  app:\n    image: busybox:1.36\n"
FILES = {
    "darse.toml": TOML,
    "wiki/compose.yaml": """
        services:
          web:
            image: example/wiki:2.5
            ports: ["8080:3000"]
          db:
            image: postgres:15
            expose: ["5432", "9187"]
        """,
    "swarmed/compose.yaml": ONE,
    "contexted/compose.yaml": ONE,
    "tcped/compose.yaml": ONE,
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("plan") / "fleet", FILES)


def _error(repo: Path, names: list[str], **options: object) -> str:
    with pytest.raises(DarseError) as caught:
        tunnel_plans(repo, names, **options)  # type: ignore[arg-type]
    line = caught.value.one_line()
    assert "\n" not in line
    return line


def test_a_swarm_target_is_refused_in_one_line(repo: Path) -> None:
    line = _error(repo, ["swarmed"])
    assert "Swarm target cluster" in line and "not reachable from a host" in line


def test_contexts_and_tcp_hosts_are_refused_for_now(repo: Path) -> None:
    assert "Docker context prod" in _error(repo, ["contexted"])
    line = _error(repo, ["tcped"])
    assert "tcp://" in line and "ssh://" in line


def test_several_compose_services_need_to(repo: Path) -> None:
    line = _error(repo, ["wiki"])
    assert "several Compose services (web, db)" in line and "--to" in line
    assert "did you mean db?" in _error(repo, ["wiki"], to="dbb")


def test_several_declared_ports_need_port(repo: Path) -> None:
    line = _error(repo, ["wiki"], to="db")
    assert "several ports (5432, 9187, from expose:/ports:)" in line and "--port" in line


def test_an_alias_names_its_compose_service(repo: Path) -> None:
    # the alias picks `db`, whose two ports are what is left to choose
    assert "several ports (5432, 9187" in _error(repo, ["wikidb"])


def test_an_alias_of_a_missing_folder_says_which_alias(repo: Path) -> None:
    line = _error(repo, ["ghost"])
    assert line.startswith("darse.toml [tunnels.ghost]: no service named 'nowhere'")


def test_an_unknown_name_suggests_aliases_and_folders(repo: Path) -> None:
    line = _error(repo, ["wikid"])
    assert "no service folder or tunnel alias named 'wikid'" in line and "wikidb" in line


def test_options_are_for_one_tunnel(repo: Path) -> None:
    assert "apply to one tunnel" in _error(repo, ["wiki", "wikidb"], port=5432)


def test_a_taken_local_port_is_one_line(repo: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        line = _error(repo, ["wiki"], to="db", port=5432, local=str(port))
    assert f"local port {port} on 127.0.0.1 is taken" in line


def test_compose_ports_reads_every_syntax(tmp_path: Path) -> None:
    path = (
        write_tree(
            tmp_path,
            {
                "compose.yaml": """
        services:
          app:
            image: x
            ports: ["127.0.0.1:8080:80/tcp", "9000", "53:53/udp", "7000-7002:7000-7002", {target: 443, published: 8443}]
            expose: [5432, "80"]
        """
            },
        )
        / "compose.yaml"
    )
    node = dict(load_compose(path).services())["app"]
    assert compose_ports(node) == [80, 9000, 443, 5432]


def test_local_binds() -> None:
    assert parse_local_bind("5432") == ("127.0.0.1", 5432)
    assert parse_local_bind("0.0.0.0:15432") == ("0.0.0.0", 15432)
    assert parse_local_bind("[::1]:5432") == ("::1", 5432)
    for bad in ("", "70000", "host:", "a b:1", "0"):
        with pytest.raises(DarseError):
            parse_local_bind(bad)


def test_tunnel_aliases_are_checked_like_every_table() -> None:
    config = parse_config({"tunnels": {"db": {"service": "apps/wiki/", "to": "db", "port": 5432, "local": 15432}}})
    alias = config.tunnels["db"]
    assert (alias.service, alias.to, alias.port, alias.local) == ("apps/wiki", "db", 5432, "15432")
    bad = [
        ({"db": {"service": "wiki", "prot": 1}}, "unknown key 'prot'"),
        ({"db": {"to": "db"}}, "service is missing"),
        ({"db": {"service": "wiki", "port": 70000}}, "port must be a container port number"),
        ({"db": {"service": "wiki", "port": True}}, "port must be a container port number"),
        ({"db": {"service": "wiki", "local": "here"}}, "is not a local [ADDR:]PORT"),
        ({"db": {"service": "wiki", "to": "no spaces"}}, "is not a Compose service name"),
        ({"bad name": {"service": "wiki"}}, "is not a tunnel name"),
        ({"db": "wiki"}, "must be a table"),
    ]
    for tables, message in bad:
        with pytest.raises(DarseError) as caught:
            parse_config({"tunnels": tables})
        assert message in caught.value.message


def test_the_cli_says_a_refusal_in_one_line_with_status_2(repo: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path))
    result = run_darse("tunnel", "swarmed", cwd=repo)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("darse: swarmed runs on the Swarm target cluster")
    result = run_darse("tunnel", "stop", cwd=repo)
    assert result.exit_code == 2 and "give its name" in result.stderr
