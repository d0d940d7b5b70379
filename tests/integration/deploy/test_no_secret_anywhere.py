"""A unique value planted in every kind of secret file appears in no output of any command and in no
file darse writes: text, --json, SARIF and the other report formats, the progress lines, the logs of
a failed deployment, Compose's errors, and the SQLite history."""

from __future__ import annotations

import subprocess
import uuid

from helpers.deploy import Stack, stack_fixture  # noqa: F401  (the `stack` fixture)


def _planted() -> dict[str, str]:
    return {name: f"Pl{name}-{uuid.uuid4().hex[:12]}" for name in "ABCDEFGH"}


def test_planted_values_never_leave_the_secret_files(stack: Stack) -> None:
    value = _planted()
    (stack.root / ".gitignore").write_text("*.secrets\n.env\n")
    (stack.folder / "db.secrets").write_text(
        f"DB_PASSWORD={value['A']}\n"
        f"export API_TOKEN={value['B']}\n"
        f"SMTP_PASS: {value['C']}\n"  # Compose reads `KEY: value` lines too
        f'MOTD="{value["D"]}\n{value["E"]}"\n'  # a quoted value over two lines
        f"PLAIN_SETTING={value['F']}\n"  # a key that does not look secret, a long value
        "PORT=5432\n"
    )
    (stack.folder / ".env").write_text(f"ADMIN_PASSWORD={value['G']}\n")
    stack.write()
    compose = stack.folder / "compose.yaml"
    # the web service reads .env's password through interpolation; db prints its environment and,
    # on the second deployment, exits: its logs are shown in the failure report
    compose.write_text(
        compose.read_text().replace('GREETING: "hello"', 'GREETING: "hello"\n      ADMIN: "${ADMIN_PASSWORD}"')
    )
    stack.commit("secrets in every syntax")
    outputs: list[str] = []

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = stack.darse(*args)
        outputs.append(f"$ darse {' '.join(args)}\n{result.stdout}\n{result.stderr}")
        return result

    first = run("up", stack.name)
    assert first.returncode == 0, first.stderr
    for args in (
        ("up", stack.name, "--json"),
        ("status",),
        ("status", "--json"),
        ("history", stack.name, "--json"),
        ("diff", stack.name),
        ("diff", stack.name, "--json"),
        ("secrets", "check"),
        ("secrets", "check", "--json"),
        ("secrets", "diff", stack.name, "--json"),
        ("lint",),
        ("lint", "--format", "json"),
        ("lint", "--format", "sarif"),
        ("lint", "--format", "gnu"),
        ("lint", "--format", "codeclimate"),
    ):
        run(*args)
    # and the web service's healthcheck fails: the deployment fails for a reason that needs no timing
    stack.write(db_command=f'["sh", "-c", "env; echo {value["H"]}-marker; exit 3"]', health_port=9999)
    stack.commit("a database that prints its environment and dies")
    failed = run("up", stack.name, "--timeout", "20")
    assert failed.returncode != 0
    again = run("up", stack.name, "--json", "--timeout", "20")
    # the dying database's logs were shown (by one of the two failures at least: when web turns unhealthy
    # first, the report names the containers failing at that instant, and db may be between two restarts)
    assert "-marker" in failed.stdout + failed.stderr + again.stdout + again.stderr
    (stack.folder / "db.secrets").write_text(f'DB_PASSWORD="{value["A"]}\n')  # Compose refuses the file
    refused = run("diff", stack.name)
    assert refused.returncode == 2 and "compose cannot read" in refused.stderr
    run("down", stack.name)

    everything = "\n".join(outputs)
    stored = stack.history_bytes().decode("utf-8", "replace")
    for name, planted in value.items():
        if name == "H":
            continue  # echoed by the container itself, not a secret file's value
        assert planted not in everything, f"value {name} shown"
        assert planted not in stored, f"value {name} stored in the history"
