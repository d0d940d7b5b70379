"""The `darse` program's first step, before the CLI framework is imported (a tenth of a second or more):
a command that will wait on the network starts that wait here, so that both go on at once. Only
`darse tunnel NAME...` does, for its SSH logins (`darse.tunnel.early`)."""

from __future__ import annotations

import sys
from pathlib import Path


def run() -> None:
    """Console-script entry: `darse.cli.main.run` does the rest."""
    words = sys.argv[1:]
    while words and words[0] in ("--debug", "--no-color"):  # the global flags (darse.cli.main.GLOBAL_FLAGS)
        words = words[1:]
    if words[:1] == ["tunnel"]:
        from darse import api

        api.begin_tunnel_logins(Path.cwd(), words[1:])
    from darse.cli.main import run as run_cli

    run_cli()
