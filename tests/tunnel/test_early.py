"""Which tunnel names `darse tunnel`'s first step reads from the words, before the CLI parses them
(darse.tunnel.early): it starts the SSH logins those names need, so it must not start any for the
commands that open no tunnel here."""

from __future__ import annotations

import pytest

from darse.tunnel.early import tunnel_names


@pytest.mark.parametrize(
    ("words", "names"),
    [
        (["wiki"], ["wiki"]),
        (["wiki", "db-admin"], ["wiki", "db-admin"]),
        (["open", "wiki"], ["wiki"]),
        (["--to", "db", "wiki", "--port", "5432", "--local", "6000"], ["wiki"]),
        (["wiki", "--json", "--local=127.0.0.1:6000"], ["wiki"]),
        (["wiki", "--background"], []),  # the detached process logs in itself
        (["ls"], []),
        (["stop", "wiki"], []),
        (["wiki", "--help"], []),
        ([], []),
    ],
)
def test_the_names_read_before_parsing(words: list[str], names: list[str]) -> None:
    assert tunnel_names(words) == names
