"""`darse new --dockerfile --app-version`: the guide's own kind of home-made image, a pinned slim or
Alpine base and an ARG naming the release the Dockerfile downloads, scaffolded lint-clean."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers.cli import run_darse
from helpers.lint import lint_tree
from helpers.repo import git_init, snapshot, write_tree

CONFIG = 'proxy_network = "proxy"\ndomain = "example.org"\nregistry = "registry.example.org"\n'


def repository(root: Path) -> Path:
    write_tree(root, {"darse.toml": CONFIG, "README.md": "# services\n"})
    git_init(root)
    return root


def test_debian_slim_base_with_the_application_version_apart(tmp_path: Path) -> None:
    root = repository(tmp_path)
    args = ["new", "pad", "--image", "debian:bookworm-slim", "--dockerfile", "--app-version", "2.0.3", "--web", "9001"]
    result = run_darse(*args, cwd=root)
    assert result.exit_code == 0, result.stderr
    assert "darse lint: no problems" in result.stdout
    dockerfile = (root / "pad/Dockerfile").read_text()
    assert "FROM debian:bookworm-slim\n" in dockerfile  # the base, pinned as given, not re-tagged
    assert "ARG PAD_VERSION=2.0.3\n" in dockerfile and "USER pad\n" in dockerfile
    assert "useradd" in dockerfile and "darse: ignore" not in dockerfile
    compose = yaml.safe_load((root / "pad/compose.yaml").read_text())
    assert compose["services"]["pad"]["image"] == "registry.example.org/pad:2.0.3-1"
    changelog = (root / "pad/CHANGELOG.md").read_text()
    assert "## 2.0.3-1\n" in changelog
    assert "pad:2.0.3-1" in (root / "pad/README.md").read_text()
    assert lint_tree(root).findings == []


def test_alpine_base_adds_its_user_the_alpine_way(tmp_path: Path) -> None:
    root = repository(tmp_path)
    result = run_darse("new", "tool", "--image", "alpine:3.22", "--dockerfile", "--app-version", "v1.4", cwd=root)
    assert result.exit_code == 0, result.stderr
    dockerfile = (root / "tool/Dockerfile").read_text()
    assert "RUN adduser -S -D -H" in dockerfile and "ARG TOOL_VERSION=v1.4\n" in dockerfile
    # the leading v belongs to the release's URL, not to the image's tag
    assert "image: registry.example.org/tool:1.4-1" in (root / "tool/compose.yaml").read_text()
    assert lint_tree(root).findings == []


def test_a_big_base_is_kept_with_its_reason_next_to_the_ignore(tmp_path: Path) -> None:
    root = repository(tmp_path)
    result = run_darse("new", "app", "--image", "debian:bookworm", "--dockerfile", "--app-version", "3.1", cwd=root)
    assert result.exit_code == 0, result.stderr
    dockerfile = (root / "app/Dockerfile").read_text()
    assert "# darse: ignore[DF002]\nFROM debian:bookworm\n" in dockerfile
    assert lint_tree(root).findings == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--image", "debian:bookworm-slim", "--dockerfile"], "--app-version VERSION"),
        (["--image", "debian:bookworm-slim", "--app-version", "2.0.3"], "--app-version needs --dockerfile"),
        (["--image", "debian", "--dockerfile", "--app-version", "2.0.3"], "no pinned tag"),
        (["--image", "debian:latest", "--dockerfile", "--app-version", "2.0.3"], "no pinned tag"),
        (["--image", "debian:bookworm-slim", "--dockerfile", "--app-version", "latest"], "not a full version"),
        (["--image", "debian:bookworm-slim", "--dockerfile", "--app-version", "2"], "not a full version"),
        (["--image", "debian:bookworm-slim", "--dockerfile", "--app-version", "1.0+x"], "not a full version"),
        (["--image", "debian:bookworm-slim", "--dockerfile", "--app-version", "1.0\nRUN x"], "not a full version"),
    ],
)
def test_refusals_exit_2_in_one_line_and_write_nothing(tmp_path: Path, args: list[str], needle: str) -> None:
    root = repository(tmp_path)
    before = snapshot(root)
    result = run_darse("new", "app", *args, cwd=root)
    assert result.exit_code == 2
    assert needle in result.stderr and result.stderr.count("\n") == 1
    assert snapshot(root) == before
