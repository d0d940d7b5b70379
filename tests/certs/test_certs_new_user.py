"""What a newcomer sees from `darse certs` before anything is set up: one line and a hint that names
the next step, exit 2."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from helpers.certs_repo import ldap_compose
from helpers.cli import run_darse
from helpers.repo import git_init, write_tree


@pytest.mark.parametrize("command", ["sync", "status", "watch"])
def test_without_darse_toml_the_error_says_so_and_names_both_ways_out(tmp_path: Path, command: str) -> None:
    write_tree(tmp_path, {"ldap/compose.yaml": ldap_compose()})
    git_init(tmp_path)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    result = run_darse("certs", command, cwd=tmp_path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"darse: darse.toml names no acme.json: there is no darse.toml in {tmp_path} (")
    assert "[certs] acme" in result.stderr and "--acme PATH" in result.stderr
    assert {number: signal.getsignal(number) for number in handlers} == handlers  # watch gave them back


def test_a_darse_toml_without_certs_is_named(tmp_path: Path) -> None:
    write_tree(tmp_path, {"darse.toml": 'registry = "registry.example.org"\n', "ldap/compose.yaml": ldap_compose()})
    git_init(tmp_path)
    result = run_darse("certs", "sync", cwd=tmp_path)
    assert result.exit_code == 2
    assert result.stderr.startswith("darse: darse.toml names no acme.json (hint: set [certs] acme =")
