"""Real-world files (tests/corpus, see its SOURCES.md) linted as they are: no crash, findings on real lines.

Each Dockerfile is linted in a service folder beside a minimal valid compose.yaml; each Compose file
is linted as a service's compose.yaml. The folders are read when the tests are collected, so a file
added to the corpus is tested without touching this module; an empty folder fails rather than
letting the parametrized test pass with nothing to check.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from darse.lint.linter import LintResult
from darse.model.dockerfiles import load_dockerfile

from helpers.lint import lint_tree

CORPUS = Path(__file__).parents[1] / "corpus"
DOCKERFILES = CORPUS / "dockerfiles"
COMPOSE_FILES = CORPUS / "compose"

# A Compose file that passes the Compose rules and builds the Dockerfile beside it.
MINIMAL_COMPOSE = """\
services:
  app:
    build: .
    image: example/svc:1.0
    restart: unless-stopped
    init: true
"""

# `${NAME:?message}` or `${NAME?message}`: a variable the file requires.
REQUIRED_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?")

# Files that BuildKit or Compose themselves refuse, so darse must report DF000 / DC000 for them (and
# nothing else is checked). Each entry says why; a listed file that parses fails the test, so the list
# cannot go stale.
EXPECTED_UNPARSEABLE = {
    # `RUN` alone on line 12, its script on the next lines without a continuation: line 13 starts with
    # `useradd`, an unknown instruction (`docker build` fails the same way).
    "docker__awesome-compose__apache-php_app.Dockerfile",
    # Committed with Git merge-conflict markers (`>>>>>>>>> Temporary merge branch 2`, line 19).
    "wtondossantos__JaVisitei.Brasil.Nuget__Dockerfile.Dockerfile",
}


def corpus_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.is_file() and not p.name.startswith("."))


def _params(folder: Path) -> list[object]:
    return [pytest.param(path, id=path.name) for path in corpus_files(folder)]


def line_count(path: Path) -> int:
    """Lines as the parsers number them (BuildKit: `\\n` only; YAML: `str.splitlines()` is a superset)."""
    text = path.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    if path.name == "Dockerfile":
        return len(text.split("\n")) - text.endswith("\n")
    return len(text.splitlines())


def check_findings(root: Path, result: LintResult) -> None:
    for finding in result.findings:
        path = root / finding.path
        assert path.is_file(), f"{finding} names a file that does not exist"
        last = max(line_count(path), 1)
        assert 1 <= finding.line <= last, f"{finding} points past the {last} line(s) of {finding.path}"
        assert finding.column >= 1, f"{finding} has a column below 1"
        if finding.rule.startswith("DF") and finding.rule != "DF000":
            spans = [(i.line, i.end_line) for i in load_dockerfile(path).instructions]
            assert any(start <= finding.line <= end for start, end in spans), f"{finding} is inside no instruction"


def _check_parsed(name: str, result: LintResult, syntax_rule: str) -> None:
    refused = [f for f in result.findings if f.rule == syntax_rule]
    if name in EXPECTED_UNPARSEABLE:
        assert refused, f"{name} is listed as unparseable but parsed; remove it from EXPECTED_UNPARSEABLE"
    else:
        assert not refused, f"{name} did not parse: {[f'{f.line}:{f.column} {f.message}' for f in refused]}"


@pytest.mark.parametrize("folder", [DOCKERFILES, COMPOSE_FILES], ids=["dockerfiles", "compose"])
def test_corpus_folder_is_not_empty(folder: Path) -> None:
    assert corpus_files(folder), f"{folder} holds no file: the corpus tests would check nothing"


def test_expected_unparseable_files_exist() -> None:
    present = {p.name for p in corpus_files(DOCKERFILES) + corpus_files(COMPOSE_FILES)}
    assert not EXPECTED_UNPARSEABLE - present, f"listed but absent: {sorted(EXPECTED_UNPARSEABLE - present)}"


@pytest.mark.parametrize("source", _params(DOCKERFILES))
def test_corpus_dockerfile(tmp_path: Path, source: Path) -> None:
    service = tmp_path / "svc"
    service.mkdir()
    (service / "compose.yaml").write_text(MINIMAL_COMPOSE, encoding="utf-8")
    shutil.copyfile(source, service / "Dockerfile")  # byte for byte: odd endings are part of the test
    result = lint_tree(tmp_path)
    check_findings(tmp_path, result)
    _check_parsed(source.name, result, "DF000")
    assert not [f for f in result.findings if f.rule == "DC000"], "the minimal compose.yaml must stay valid"


@pytest.mark.parametrize("source", _params(COMPOSE_FILES))
def test_corpus_compose_file(tmp_path: Path, source: Path) -> None:
    service = tmp_path / "svc"
    service.mkdir()
    shutil.copyfile(source, service / "compose.yaml")
    result = lint_tree(tmp_path)
    check_findings(tmp_path, result)
    required = sorted(set(REQUIRED_VARIABLE.findall(source.read_text(encoding="utf-8", errors="replace"))))
    if required:
        # `${VAR:?message}` makes Compose (and darse, with DC000) refuse the file until the host's .env
        # sets VAR. That is the deployment's business, not the file's syntax: set them, then lint again.
        (service / ".env").write_text("".join(f"{name}=set-by-test\n" for name in required), encoding="utf-8")
        result = lint_tree(tmp_path)
        check_findings(tmp_path, result)
    _check_parsed(source.name, result, "DC000")
