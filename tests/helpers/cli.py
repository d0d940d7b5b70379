"""The `darse` CLI run in-process, as the tests of each command use it."""

from __future__ import annotations

import os
from pathlib import Path


def run_darse(*args: str, cwd: Path, input: str | None = None):
    """Run the `darse` CLI in-process (typer's CliRunner) from `cwd`; a DarseError ends as `run()` ends
    it: exit status 2 and one line on stderr. Returns the runner's Result (stdout, stderr, exit_code)."""
    from typer.testing import CliRunner

    from darse.cli import main
    from darse.errors import DarseError

    if not getattr(main, "_registered_for_tests", False):
        main._register()
        main._registered_for_tests = True
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main.app, list(args), input=input, env={"NO_COLOR": "1", "COLUMNS": "200"})
    finally:
        os.chdir(previous)
    if isinstance(result.exception, DarseError):
        result.exit_code = 2
        result.stderr_bytes = (result.stderr_bytes or b"") + f"darse: {result.exception.one_line()}\n".encode()
    return result
