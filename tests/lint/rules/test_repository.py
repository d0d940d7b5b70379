"""Repository rules RP001-RP009: each fires where it should, at the exact place, and not on near misses.

Every case writes a repository holding one service folder `app/` and compares the full list of one
rule's findings (path, line, column), so an extra, missing or misplaced finding fails. The Git rules
need real repositories: a case either has none, or gets one whose single commit holds exactly the files
it lists, added with `--force` (a secret committed by mistake despite `.gitignore`); every other file is
left untracked, as on a host where `darse secrets init` wrote the real secrets after the clone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.lint.rule import RULES

from helpers.lint import GOOD_SERVICE, NO_GIT, Fifo, Link, lint_repository, rule_hits

COMPOSE = "app/compose.yaml"
README = {"app/README.md": "# app\n"}
DOCKERFILE = "FROM alpine:3.22\nUSER app\n"

# The image's last path component is the folder name, so it is the image app/Dockerfile builds.
HOME_MADE = """
services:
  app:
    image: registry.example.org/team/app:{tag}
    restart: unless-stopped
    init: true
  db:
    image: postgres:16
    restart: unless-stopped
    init: true
"""
# env_file entries: the short form on line 4 (column 15), then the long form's path on line 10 (column 15).
ENV_FILES = """
services:
  app:
    image: example/app:1.0
    env_file: app.secrets
    restart: unless-stopped
    init: true
  worker:
    image: example/worker:1.0
    env_file:
      - path: ./db.secrets
        required: true
"""


def changelog(*headings: str) -> str:
    return "# Changelog\n\n" + "".join(f"{heading}\n\n- changes\n\n" for heading in headings)


def home_made(tag: str, *headings: str) -> dict[str, str]:
    """The `app` service building its own image, deployed with `tag`, and its CHANGELOG."""
    return {
        COMPOSE: HOME_MADE.format(tag=tag),
        "app/Dockerfile": DOCKERFILE,
        "app/CHANGELOG.md": changelog(*headings),
        **README,
    }


def secret_repo(gitignore: str | None, **extra: str) -> dict[str, str]:
    """`app` with a real `x.secrets` and its example, under the given `.gitignore` (None: no file)."""
    files = {COMPOSE: GOOD_SERVICE, "app/x.secrets": "TOKEN=real\n", "app/x.secrets.example": "TOKEN=\n", **README}
    if gitignore is not None:
        files[".gitignore"] = gitignore
    return {**files, **extra}


# (rule, files, Git: NO_GIT or the paths committed, [(path, line, column), ...] of every finding)
TRUE_POSITIVES = [
    pytest.param(
        "RP010",
        {COMPOSE: GOOD_SERVICE, **README, "app-x/compose.yaml": GOOD_SERVICE, "app/x/compose.yaml": GOOD_SERVICE},
        NO_GIT,
        [("app-x/compose.yaml", 1, 1), ("app/x/compose.yaml", 1, 1)],
        id="RP010-slash-and-dash",
    ),
    pytest.param(
        "RP009",
        {COMPOSE: GOOD_SERVICE, **README, "app/CHANGELOG.md": Link("/dev/zero")},
        NO_GIT,
        [("app/CHANGELOG.md", 1, 1)],
        id="RP009-changelog-to-dev-zero",
    ),
    pytest.param(
        "RP009",
        {COMPOSE: GOOD_SERVICE, **README, "app/.env": Link("{outside}")},
        NO_GIT,
        [("app/.env", 1, 1)],
        id="RP009-dotenv-out-of-the-repository",
    ),
    pytest.param(
        "RP009",
        {COMPOSE: GOOD_SERVICE, **README, "app/x.secrets.example": Fifo()},
        NO_GIT,
        [("app/x.secrets.example", 1, 1)],
        id="RP009-example-fifo",
    ),
    pytest.param("RP001", {COMPOSE: GOOD_SERVICE}, NO_GIT, [(COMPOSE, 1, 1)], id="RP001-no-readme"),
    pytest.param(
        "RP001",
        {COMPOSE: GOOD_SERVICE, "app/docs/README.md": "# app\n"},
        NO_GIT,
        [(COMPOSE, 1, 1)],
        id="RP001-readme-only-in-subfolder",
    ),
    pytest.param(
        "RP002",
        {COMPOSE: GOOD_SERVICE, "app/Dockerfile": DOCKERFILE, **README},
        NO_GIT,
        [("app/Dockerfile", 1, 1)],
        id="RP002-dockerfile",
    ),
    pytest.param(
        "RP002",
        {COMPOSE: GOOD_SERVICE, "app/worker/Dockerfile": DOCKERFILE, **README},
        NO_GIT,
        [("app/worker/Dockerfile", 1, 1)],
        id="RP002-dockerfile-in-subfolder",
    ),
    pytest.param("RP003", home_made("1.1.0", "## 1.2.0", "## 1.1.0"), NO_GIT, [(COMPOSE, 3, 12)], id="RP003-older-tag"),
    pytest.param(
        "RP003", home_made("1.3.0", "## [1.2.0] - 2026-01-01"), NO_GIT, [(COMPOSE, 3, 12)], id="RP003-newer-tag"
    ),
    pytest.param(
        "RP003",
        {**home_made("1.0.0"), "app/CHANGELOG.md": "# Changelog\n\nNothing released yet.\n"},
        NO_GIT,
        [("app/CHANGELOG.md", 1, 1)],
        id="RP003-changelog-without-version",
    ),
    pytest.param(
        "RP003",
        {
            COMPOSE: "services:\n  web:\n    build: .\n    image: example/site:0.9\n",
            "app/Dockerfile": DOCKERFILE,
            "app/CHANGELOG.md": changelog("## 1.0.0"),
        },
        NO_GIT,
        [(COMPOSE, 4, 12)],
        id="RP003-linked-by-build",
    ),
    pytest.param(
        "RP003",
        {
            COMPOSE: "services:\n  worker:\n    image: example/worker:0.9\n",
            "app/worker/Dockerfile": DOCKERFILE,
            "app/CHANGELOG.md": changelog("## v1.0.0"),
        },
        NO_GIT,
        [(COMPOSE, 3, 12)],
        id="RP003-linked-by-subfolder-name",
    ),
    pytest.param("RP004", {COMPOSE: ENV_FILES, **README}, NO_GIT, [(COMPOSE, 4, 15), (COMPOSE, 10, 15)], id="RP004"),
    pytest.param(
        "RP005",
        {COMPOSE: GOOD_SERVICE, "app/conf/extra.secrets": "A=1\n", **README},
        NO_GIT,
        [("app/conf/extra.secrets", 1, 1)],
        id="RP005-no-example",
    ),
    pytest.param(
        "RP006", secret_repo("*.secrets\n"), ("app/x.secrets",), [("app/x.secrets", 1, 1)], id="RP006-force-added"
    ),
    pytest.param(
        "RP006",
        secret_repo(None),
        (COMPOSE, "app/x.secrets"),
        [("app/x.secrets", 1, 1)],
        id="RP006-committed-without-gitignore",
    ),
    pytest.param("RP007", secret_repo(".env\n"), (), [("app/x.secrets", 1, 1)], id="RP007-gitignore-lacks-it"),
    pytest.param(
        "RP007",
        secret_repo("*.secrets\n!x.secrets\n"),
        (".gitignore",),
        [("app/x.secrets", 1, 1)],
        id="RP007-negated-pattern",
    ),
    pytest.param(
        "RP007",
        {
            COMPOSE: ENV_FILES,
            "app/app.secrets.example": "TOKEN=\n",
            "app/db.secrets.example": "PASSWORD=\n",
            ".gitignore": ".env\n",
            **README,
        },
        (),
        [(COMPOSE, 4, 15), (COMPOSE, 10, 15)],
        id="RP007-real-file-not-created-yet-points-at-env-file",
    ),
    # RP008: an ignore comment naming no rule is reported where the name is written
    pytest.param(
        "RP008",
        {
            COMPOSE: GOOD_SERVICE.replace("restart: unless-stopped", "restart: unless-stopped  # darse: ignore[DC04]"),
            "app/Dockerfile": "FROM alpine:3.20\n# darse: ignore[DF001, base-image-tga]\nUSER app\n",
            **README,
        },
        NO_GIT,
        [("app/Dockerfile", 2, 24), (COMPOSE, 4, 46)],
        id="RP008-typos",
    ),
]


@pytest.mark.parametrize(("rule", "files", "git", "expected"), TRUE_POSITIVES)
def test_rule_fires_at_exact_place(
    tmp_path: Path,
    rule: str,
    files: dict[str, str],
    git: tuple[str, ...] | None,
    expected: list[tuple[str, int, int]],
) -> None:
    assert rule_hits(lint_repository(tmp_path, files, git), rule) == expected


# (rule, files, Git: NO_GIT or the paths committed) that must not make the rule fire
NEAR_MISSES = [
    pytest.param(
        "RP010",
        {COMPOSE: GOOD_SERVICE, **README, "app-x/compose.yaml": GOOD_SERVICE, "app/y/compose.yaml": GOOD_SERVICE},
        NO_GIT,
        id="RP010-different-projects",
    ),
    pytest.param(
        "RP009",
        {COMPOSE: GOOD_SERVICE, **README, "app/notes.md": "## 1.0\n", "app/CHANGELOG.md": Link("notes.md")},
        NO_GIT,
        id="RP009-link-inside-the-repository",
    ),
    pytest.param("RP009", {COMPOSE: GOOD_SERVICE, **README, "app/.env": "A=1\n"}, NO_GIT, id="RP009-plain-file"),
    pytest.param(
        "RP009",
        {COMPOSE: GOOD_SERVICE, **README, "app/x.secrets": Link("{outside}"), "app/x.secrets.example": "X=\n"},
        NO_GIT,
        id="RP009-real-secret-file-may-live-elsewhere",
    ),
    pytest.param("RP001", {COMPOSE: GOOD_SERVICE, **README}, NO_GIT, id="RP001-readme"),
    pytest.param("RP001", {COMPOSE: GOOD_SERVICE, "app/readme.md": "# app\n"}, NO_GIT, id="RP001-lower-case"),
    pytest.param("RP002", home_made("1.0.0", "## 1.0.0"), NO_GIT, id="RP002-changelog"),
    pytest.param("RP002", {COMPOSE: GOOD_SERVICE, **README}, NO_GIT, id="RP002-no-dockerfile"),
    pytest.param("RP003", home_made("1.2.0", "## 1.2.0", "## 1.1.0"), NO_GIT, id="RP003-equal"),
    pytest.param("RP003", home_made("v1.2.0", "## 1.2.0"), NO_GIT, id="RP003-v-prefix-on-tag"),
    pytest.param("RP003", home_made("1.2.0", "## [v1.2.0] - 2026-01-01"), NO_GIT, id="RP003-v-prefix-in-changelog"),
    pytest.param(
        "RP003",
        {
            COMPOSE: "services:\n  app:\n    image: example/other:0.1\n",
            "app/Dockerfile": DOCKERFILE,
            "app/CHANGELOG.md": changelog("## 1.0.0"),
        },
        NO_GIT,
        id="RP003-image-of-another-name",
    ),
    pytest.param(
        "RP003",
        {COMPOSE: GOOD_SERVICE, "app/CHANGELOG.md": "# Changelog\n", **README},
        NO_GIT,
        id="RP003-no-dockerfile",
    ),
    pytest.param(
        "RP004",
        {COMPOSE: ENV_FILES, "app/app.secrets.example": "TOKEN=\n", "app/db.secrets.example": "PASSWORD=\n"},
        NO_GIT,
        id="RP004-examples-only",
    ),
    pytest.param(
        "RP004",
        {COMPOSE: ENV_FILES, "app/app.secrets": "TOKEN=x\n", "app/db.secrets": "PASSWORD=y\n"},
        NO_GIT,
        id="RP004-real-files-only",
    ),
    pytest.param(
        "RP004",
        {COMPOSE: ENV_FILES.replace("required: true", "required: false"), "app/app.secrets.example": "TOKEN=\n"},
        NO_GIT,
        id="RP004-not-required",
    ),
    pytest.param("RP005", secret_repo(None), NO_GIT, id="RP005-example"),
    pytest.param("RP006", secret_repo("*.secrets\n"), (), id="RP006-ignored"),
    pytest.param("RP006", secret_repo(None), NO_GIT, id="RP006-no-repository"),
    pytest.param("RP007", secret_repo("*.secrets\n"), (), id="RP007-ignored"),
    pytest.param("RP007", secret_repo(None), ("app/x.secrets",), id="RP007-tracked-is-RP006s"),
    pytest.param("RP007", secret_repo("/app/*.secrets\n"), (), id="RP007-ignored-anchored"),
    pytest.param("RP007", secret_repo(None), NO_GIT, id="RP007-no-repository"),
    pytest.param(
        "RP007",
        {COMPOSE: ENV_FILES, "app/app.secrets.example": "", "app/db.secrets.example": "", ".gitignore": "*.secrets\n"},
        (),
        id="RP007-env-file-not-created-yet-but-ignored",
    ),
    pytest.param(
        "RP008",
        {
            COMPOSE: GOOD_SERVICE.replace("init: true", "init: true  # darse: ignore[DC005, init-missing, all]"),
            **README,
        },
        NO_GIT,
        id="RP008-known-ids-and-names",
    ),
]


@pytest.mark.parametrize(("rule", "files", "git"), NEAR_MISSES)
def test_rule_does_not_fire_on_near_miss(
    tmp_path: Path, rule: str, files: dict[str, str], git: tuple[str, ...] | None
) -> None:
    result = lint_repository(tmp_path, files, git)
    assert rule_hits(result, rule) == []
    assert rule_hits(result, "DC000") == [], "the Compose file must parse for the near miss to mean anything"


def test_every_repository_rule_has_true_positives_and_near_misses() -> None:
    repository_rules = {rule for rule in RULES if rule.startswith("RP")}
    fired = {case.values[0] for case in TRUE_POSITIVES if case.values[3]}
    assert fired == repository_rules
    assert {case.values[0] for case in NEAR_MISSES} == repository_rules


def test_rp006_and_rp007_report_each_secret_once(tmp_path: Path) -> None:
    """A secret both tracked and not ignored is RP006's alone: one leak, one finding."""
    result = lint_repository(tmp_path, secret_repo(None), ("app/x.secrets",))
    secret_findings = [(f.rule, f.path) for f in result.findings if f.path.endswith(".secrets")]
    assert secret_findings == [("RP006", "app/x.secrets")]


def test_rp007_on_env_file_entry_can_be_ignored_inline(tmp_path: Path) -> None:
    """Pointing at the `env_file:` entry is what lets an inline ignore comment reach the finding."""
    compose = ENV_FILES.replace("env_file: app.secrets", "env_file: app.secrets  # darse: ignore[secret-not-ignored]")
    files = {COMPOSE: compose, "app/app.secrets.example": "", "app/db.secrets.example": "", ".gitignore": ".env\n"}
    assert rule_hits(lint_repository(tmp_path, files, ()), "RP007") == [(COMPOSE, 10, 15)]


@pytest.mark.parametrize(
    ("entry", "rule", "position"),
    [
        pytest.param('env_file: "a\\0.secrets"', "RP004", (3, 15), id="env_file"),
        pytest.param('build: "\\0"', "DC016", (3, 5), id="build-context"),
        pytest.param('build: {dockerfile: "D\\0"}', "DC016", (3, 5), id="build-dockerfile"),
    ],
)
def test_nul_byte_in_a_path_is_a_finding_not_a_crash(
    tmp_path: Path, entry: str, rule: str, position: tuple[int, int]
) -> None:
    """YAML can spell a NUL byte (`"\\0"`) that no file system accepts; the path rules must not crash on it."""
    files = home_made("1.0.0", "## 1.0.0")
    files[COMPOSE] = f"services:\n  app:\n    {entry}\n"
    assert rule_hits(lint_repository(tmp_path, files, NO_GIT), rule) == [(COMPOSE, *position)]
