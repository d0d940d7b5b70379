"""The bundled example repository is lint-clean, and real Compose accepts every service of it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from helpers.lint import lint_tree

EXAMPLES = Path(__file__).parent.parent / "examples"
SERVICES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "compose.yaml").is_file())


def test_examples_have_the_three_kinds_of_service() -> None:
    assert {"traefik", "wiki", "pad"} <= set(SERVICES)


def test_examples_lint_clean() -> None:
    result = lint_tree(EXAMPLES)
    assert result.services == len(SERVICES)
    assert result.findings == []


@pytest.mark.parametrize("service", SERVICES)
def test_docker_compose_config_accepts_example(tmp_path: Path, service: str) -> None:
    """`docker compose config` is the reference; real secret files are made from the examples first."""
    copy = tmp_path / service
    shutil.copytree(EXAMPLES / service, copy)
    for example in copy.rglob("*.secrets.example"):
        shutil.copy(example, example.with_suffix(""))
    proc = subprocess.run(
        ["docker", "compose", "config", "--quiet"], cwd=copy, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_readme_darse_toml_example_is_valid() -> None:
    """The darse.toml shown in the README is read by darse as it stands (keys, tables, targets)."""
    import tomllib

    from darse.config import parse_config

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("holds the repository's choices:\n\n```toml\n", 1)[1].split("```", 1)[0]
    config = parse_config(tomllib.loads(block))
    assert config.target_for("wiki").is_swarm
    assert config.target_for("pad").name == "local"
