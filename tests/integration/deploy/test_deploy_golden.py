"""The JSON of `up`, `status`, `history`, `diff`, `rollback` and `down` on the real engine, held to
golden files (tests/golden/deploy-*.json; `helpers.golden` says what is normalised)."""

from __future__ import annotations

from helpers.deploy import Stack, stack_fixture  # noqa: F401  (the `stack` fixture)
from helpers.golden import check


def test_deploy_commands_keep_their_json(stack: Stack) -> None:
    names = {stack.name: "<service>", stack.proxy: "<proxy>", str(stack.root): "<ROOT>"}

    def run(*args: str, code: int = 0) -> str:
        result = stack.darse(*args)
        assert result.returncode == code, result.stdout + result.stderr
        return result.stdout

    check("deploy-up", run("up", stack.name, "--timeout", "30", "--json"), names)
    check("deploy-up-unchanged", run("up", stack.name, "--timeout", "30", "--json"), names)
    stack.write(greeting="second")
    stack.commit("second version")
    check("deploy-diff", run("diff", stack.name, "--json"), names)
    check("deploy-status-drift", run("status", "--json"), names)
    run("up", stack.name, "--timeout", "30", "--json")
    check("deploy-status", run("status", "--json"), names)
    check("deploy-rollback", run("rollback", stack.name, "--steps", "1", "--timeout", "30", "--json"), names)
    check("deploy-history", run("history", stack.name, "--json"), names)
    check("deploy-down", run("down", stack.name, "--json"), names)
