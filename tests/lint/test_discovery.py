"""Nothing is skipped silently: every Compose file and Dockerfile is read, a named file is the file linted,
a target that selects nothing is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.lint.linter import Linter
from darse.model.repository import open_repository

from helpers.cli import run_darse
from helpers.lint import GOOD_SERVICE, TODAY, rule_hits, write_tree

LATEST = GOOD_SERVICE.replace("app:1.0", "app:latest")  # DC015 on line 3
NO_RESTART = "services:\n  app:\n    image: example/app:1.0\n    init: true\n"  # DC004 on line 2

VARIANTS = {
    "darse.toml": "",  # marks the repository root (these trees are no Git repositories)
    "svc/README.md": "# svc\n",
    "svc/docker-compose-sqlite.yml": GOOD_SERVICE,
    "svc/docker-compose-mariadb-redis.yml": LATEST,
}


def _lint(root: Path):
    repository = open_repository(root)
    return Linter(repository.config, repository, today=TODAY).lint_services(repository.folders)


def test_every_variant_is_linted_on_its_own(tmp_path: Path) -> None:
    result = _lint(write_tree(tmp_path, VARIANTS))
    assert rule_hits(result, "DC015") == [("svc/docker-compose-mariadb-redis.yml", 3, 12)]
    assert (result.services, result.files) == (1, 2)


def test_an_override_is_merged_never_judged_alone(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "svc/README.md": "# svc\n",
            "svc/compose.yaml": NO_RESTART,
            # supplies the restart policy the base lacks, and a tag-less image of its own
            "svc/compose.override.yaml": "services:\n  app:\n    restart: unless-stopped\n    image: example/app\n",
        },
    )
    result = _lint(tmp_path)
    assert rule_hits(result, "DC004") == []  # the merged service has its restart policy
    assert rule_hits(result, "DC015") == [("svc/compose.override.yaml", 4, 12)]  # the override's own line
    assert result.files == 2


GPU_FRAGMENT = """\
# Usage: docker compose -f compose.yaml -f docker-compose.nvidia.yml up -d
services:
  app:
    deploy:
      resources:
        reservations:
          devices:
            - capabilities: [gpu]
"""


def test_a_variant_naming_no_image_is_a_fragment_linted_merged_onto_the_deployed_file(tmp_path: Path) -> None:
    """Seen on a public homelab stack: `docker-compose.nvidia.yml` adds GPU settings to the base; read
    alone, its service lacked restart, init and image (false alarms)."""
    files = {"svc/README.md": "# svc\n", "svc/compose.yaml": GOOD_SERVICE}
    result = _lint(write_tree(tmp_path, {**files, "svc/docker-compose.nvidia.yml": GPU_FRAGMENT}))
    assert [f for f in result.findings if f.rule in ("DC004", "DC005", "DC020")] == []
    assert result.files == 2  # the fragment was read


def test_a_fragment_that_adds_a_service_without_image_is_reported(tmp_path: Path) -> None:  # the near miss
    fragment = GPU_FRAGMENT + "  sidecar:\n    restart: unless-stopped\n    init: true\n"
    files = {"svc/README.md": "# svc\n", "svc/compose.yaml": GOOD_SERVICE, "svc/docker-compose.nvidia.yml": fragment}
    result = _lint(write_tree(tmp_path, files))
    assert rule_hits(result, "DC020") == [("svc/docker-compose.nvidia.yml", 9, 3)]


def test_a_finding_in_the_base_still_points_at_the_base(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"svc/README.md": "# svc\n", "svc/compose.yaml": NO_RESTART, "svc/compose.override.yaml": "services: {}\n"},
    )
    assert rule_hits(_lint(tmp_path), "DC004") == [("svc/compose.yaml", 2, 3)]


def test_a_folder_finding_is_reported_once_whatever_the_number_of_variants(tmp_path: Path) -> None:
    result = _lint(write_tree(tmp_path, {k: v for k, v in VARIANTS.items() if k != "svc/README.md"}))
    assert len(rule_hits(result, "RP001")) == 1


def test_image_folders_get_dockerfile_and_repository_rules(tmp_path: Path) -> None:
    write_tree(tmp_path, {"base/Dockerfile": "FROM debian:latest\n", "svc/compose.yaml": GOOD_SERVICE})
    result = _lint(tmp_path)
    assert ("base/Dockerfile", 1, 6) in rule_hits(result, "DF001")
    assert rule_hits(result, "RP001")[0][0] in ("base/Dockerfile", "svc/compose.yaml")
    assert ("base/Dockerfile", 1, 1) in rule_hits(result, "RP002")  # builds an image, no CHANGELOG
    assert (result.services, result.images, result.files) == (1, 1, 2)


def test_the_count_is_the_files_on_disk(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            **VARIANTS,
            "other/compose.yaml": GOOD_SERVICE,
            "other/compose.override.yaml": "services: {}\n",
            "other/Dockerfile": "FROM alpine:3.20\n",
            "other/worker/Dockerfile": "FROM alpine:3.20\n",
            "images/a/Dockerfile": "FROM alpine:3.20\n",
            "images/b/Containerfile": "FROM alpine:3.20\n",
            "notes/todo.md": "nothing to lint here\n",
        },
    )
    result = _lint(tmp_path)
    on_disk = [p for p in tmp_path.rglob("*") if p.name.endswith((".yml", ".yaml")) or "file" in p.name.lower()]
    assert sorted(result.read) == sorted(on_disk)
    assert result.files == len(on_disk) == 8


# --- the command line -----------------------------------------------------------------------------------


def test_lint_a_folder_of_variants_reads_them(tmp_path: Path) -> None:
    write_tree(tmp_path, VARIANTS)
    proc = run_darse("lint", "svc", "--json", cwd=tmp_path)
    assert proc.exit_code == 1
    assert '"files": 2' in proc.stdout


def test_a_named_variant_is_the_file_linted(tmp_path: Path) -> None:
    write_tree(tmp_path, {**VARIANTS, "svc/docker-compose.yml": LATEST, "elsewhere/compose.yaml": LATEST})
    proc = run_darse("lint", "-v", "svc/docker-compose-sqlite.yml", cwd=tmp_path)
    assert proc.exit_code == 0, proc.stdout
    assert proc.stderr.splitlines() == ["read svc/docker-compose-sqlite.yml"]
    proc = run_darse("lint", "svc/docker-compose-mariadb-redis.yml", cwd=tmp_path)
    assert proc.exit_code == 1
    assert "svc/docker-compose-mariadb-redis.yml" in proc.stdout and "svc/docker-compose.yml" not in proc.stdout


def test_a_named_dockerfile_is_the_file_linted_with_its_folder_rules(tmp_path: Path) -> None:
    write_tree(tmp_path, {"darse.toml": "", "svc/compose.yaml": LATEST, "svc/Dockerfile": "FROM debian:latest\n"})
    proc = run_darse("lint", "-v", "svc/Dockerfile", cwd=tmp_path)
    assert proc.stderr.splitlines() == ["read svc/Dockerfile"]
    assert "DF001" in proc.stdout and "RP001" in proc.stdout and "DC015" not in proc.stdout


@pytest.mark.parametrize(
    ("args", "files", "needle"),
    [
        (["lint", "nowhere/compose.yaml"], {}, "neither a file, a folder nor a service"),
        (["lint", "empty"], {"empty/notes.txt": "x\n"}, "holds no service or image folder"),
        (["lint", "empty/notes.txt"], {"empty/notes.txt": "x\n"}, "belongs to no service or image folder"),
        (["lint", "svc/config.yml"], {"svc/config.yml": "a: 1\n"}, "not a Compose file darse reads"),
    ],
)
def test_a_target_selecting_nothing_exits_2(tmp_path: Path, args: list[str], files: dict[str, str], needle: str):
    write_tree(tmp_path, {"darse.toml": "", "svc/compose.yaml": GOOD_SERVICE, "svc/README.md": "# svc\n", **files})
    proc = run_darse(*args, cwd=tmp_path)
    assert proc.exit_code == 2
    assert needle in proc.stderr
    assert "compose.y[a]ml" in proc.stderr or "darse status" in proc.stderr  # says what darse looks for


def test_a_repository_without_any_folder_exits_2(tmp_path: Path) -> None:
    write_tree(tmp_path, {"notes.md": "x\n"})
    proc = run_darse("lint", cwd=tmp_path)
    assert proc.exit_code == 2 and "no service or image folder" in proc.stderr


def test_pre_commit_mode_maps_changed_files_to_their_folders(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {**VARIANTS, "other/compose.yaml": LATEST, "README.md": "# fleet\n", "docs/README.md": "# docs\n"},
    )
    # a file of no folder is ignored, not an error
    proc = run_darse("lint", "--changed", "-v", "docs/README.md", cwd=tmp_path)
    assert proc.exit_code == 0 and proc.stderr == ""
    # a service's README: its whole folder
    proc = run_darse("lint", "--changed", "-v", "svc/README.md", "docs/README.md", cwd=tmp_path)
    assert sorted(proc.stderr.splitlines()) == [
        "read svc/docker-compose-mariadb-redis.yml",
        "read svc/docker-compose-sqlite.yml",
    ]
    # repository-wide files: everything
    for changed in ("README.md", "darse.toml", ".gitignore"):
        (tmp_path / changed).write_text("", encoding="utf-8")
        proc = run_darse("lint", "--changed", "-v", changed, cwd=tmp_path)
        assert "read other/compose.yaml" in proc.stderr.splitlines(), changed
        assert proc.exit_code == 1


def test_naming_every_folder_reads_what_the_whole_tree_reads(tmp_path: Path) -> None:
    write_tree(tmp_path, {**VARIANTS, "other/compose.yaml": GOOD_SERVICE, "img/Dockerfile": "FROM alpine:3.20\n"})
    whole = run_darse("lint", "-v", cwd=tmp_path)
    named = run_darse("lint", "-v", "svc", "other", "img", cwd=tmp_path)
    assert sorted(whole.stderr.splitlines()) == sorted(named.stderr.splitlines())
    assert len(whole.stderr.splitlines()) == 4


def test_up_on_a_folder_of_variants_asks_which_file_to_deploy(tmp_path: Path) -> None:
    write_tree(tmp_path, VARIANTS)
    proc = run_darse("up", "svc", cwd=tmp_path)
    assert proc.exit_code == 2
    assert "docker-compose-mariadb-redis.yml, docker-compose-sqlite.yml" in proc.stderr
    assert 'compose_file = "docker-compose-mariadb-redis.yml"' in proc.stderr


def test_a_real_folder_of_variants_is_read_whole(tmp_path: Path) -> None:
    """chamanbravo/upstat's two Compose variants (tests/corpus/layouts): both read, findings on real lines."""
    import shutil

    source = Path(__file__).parent.parent / "corpus/layouts/chamanbravo__upstat"
    shutil.copytree(source, tmp_path / "upstat")
    (tmp_path / "darse.toml").write_text("", encoding="utf-8")
    result = _lint(tmp_path)
    assert sorted(p.name for p in result.read) == ["docker-compose-sqlite.yml", "docker-compose.postgres.yml"]
    assert ("upstat/docker-compose-sqlite.yml", 5, 12) in rule_hits(result, "DC015")  # ...-sqlite:latest
    for finding in result.findings:
        lines = (tmp_path / finding.path).read_text(encoding="utf-8").split("\n")
        assert 1 <= finding.line <= len(lines), finding
    proc = run_darse("lint", "upstat", "--json", cwd=tmp_path)
    assert proc.exit_code == 1 and '"files": 2' in proc.stdout



def test_two_processes_give_exactly_the_serial_result(tmp_path: Path) -> None:
    """Large trees are linted half in a forked child: the report must not change by a byte. Run in
    fresh interpreters: the fork is only safe before BuildKit's Go parser is loaded, as in the CLI."""
    import shutil
    import subprocess
    import sys

    shutil.copytree(Path(__file__).parent.parent / "fixtures" / "bad-repo", tmp_path / "repo")
    src = Path(__file__).resolve().parents[2] / "src"

    def report(parallel_from: int) -> str:
        code = (
            "import sys; sys.argv = ['darse', 'lint', '--format', 'json']\n"
            f"import darse.lint.linter as linter; linter.PARALLEL_FROM = {parallel_from}\n"
            "from darse.cli.main import run; run()\n"
        )
        env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path / "repo", env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 1, proc.stderr
        return proc.stdout

    serial, forked = report(10**6), report(2)
    assert forked == serial and serial.count('"rule"') > 40
