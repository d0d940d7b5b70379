"""`compose.override.yaml` beside the deployed file is merged onto it on deploy, as `docker compose up`
in the folder does (the seed's way of deploying), and as darse lint reads it."""

from __future__ import annotations

import json

from helpers.deploy import Stack, stack_fixture  # noqa: F401  (the `stack` fixture)


def test_the_override_file_is_deployed_with_its_base(stack: Stack) -> None:
    (stack.folder / "compose.override.yaml").write_text(
        'services:\n  web:\n    environment:\n      FROM_OVERRIDE: "merged"\n'
    )
    stack.commit("an override")
    result = stack.darse("up", stack.name, "--timeout", "30")
    assert result.returncode == 0, result.stdout + result.stderr
    env = stack.containers()["web"].attrs["Config"]["Env"]
    assert "FROM_OVERRIDE=merged" in env and "GREETING=hello" in env
    diff = json.loads(stack.darse("diff", stack.name, "--json").stdout)
    assert diff["changed"] is False  # diff reads the same files as up
