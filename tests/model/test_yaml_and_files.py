"""YAML positions, merge keys, env files, CHANGELOG versions, image references and darse.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.config import parse_config
from darse.engine.compose import Endpoint
from darse.errors import DarseError
from darse.model.changelog import latest_version_in
from darse.model.dotenv import parse_env
from darse.model.image import parse_image
from darse.model.yamlnode import YamlError, load_yaml


def test_positions_are_one_based_and_point_at_values() -> None:
    root = load_yaml("services:\n  web:\n    image: nginx:1.27\n")
    image = root.get("services").get("web").get("image")
    assert (image.value, image.line, image.column) == ("nginx:1.27", 3, 12)
    key = root.get("services").key_node("web")
    assert (key.line, key.column) == (2, 3)


def test_yaml_1_2_scalars_like_compose() -> None:
    root = load_yaml("a: yes\nb: true\nc: 80:80\nd: 0755\ne: '1.0'\nf: ~\n")
    assert root.plain() == {"a": "yes", "b": True, "c": "80:80", "d": 755, "e": "1.0", "f": None}


def test_merge_keys_apply_with_explicit_keys_winning() -> None:
    root = load_yaml("x: &d\n  restart: always\n  init: true\ns:\n  <<: *d\n  restart: unless-stopped\n")
    assert root.get("s").plain() == {"restart": "unless-stopped", "init": True}


@pytest.mark.parametrize(
    ("text", "line"),
    [("a: [1, 2\n", 1), ("a: 1\na: 2\n", 2), ("a:\n\tb: 1\n", 2), ("- a\nb: c\n", 2)],
)
def test_yaml_errors_carry_positions(text: str, line: int) -> None:
    with pytest.raises(YamlError) as caught:
        load_yaml(text)
    assert caught.value.line == line


def test_env_file_parsing() -> None:
    entries = parse_env("# c\nA=1\nexport B=\"two words\"\nC='x # y'\nD=v # comment\nbad line\nE=\n")
    assert [(e.key, e.value, e.line) for e in entries] == [
        ("A", "1", 2),
        ("B", "two words", 3),
        ("C", "x # y", 4),
        ("D", "v", 5),
        ("E", "", 7),
    ]


@pytest.mark.parametrize(
    ("text", "version", "line"),
    [
        ("# Changelog\n\n## [Unreleased]\n\n## [1.4.0] - 2026-01-01\n", "1.4.0", 5),
        ("## v2.0.3\n## 2.0.2\n", "2.0.3", 1),
        ("# 5.2.1-1\n", "5.2.1-1", 1),
        ("# Changelog\nnothing yet\n", None, None),
    ],
)
def test_changelog_latest_version(text: str, version: str | None, line: int | None) -> None:
    found = latest_version_in(text)
    assert (found.version, found.line) == (version, line) if found else version is None


@pytest.mark.parametrize(
    ("ref", "registry", "repository", "tag", "pinned"),
    [
        ("postgres", "", "postgres", "", False),
        ("postgres:16-alpine", "", "postgres", "16-alpine", True),
        ("library/nginx:latest", "", "nginx", "latest", False),
        ("registry.example.org:5000/team/app:1.2", "registry.example.org:5000", "team/app", "1.2", True),
        ("localhost/app@sha256:abc", "localhost", "app", "", True),
    ],
)
def test_image_references(ref: str, registry: str, repository: str, tag: str, pinned: bool) -> None:
    image = parse_image(ref)
    assert (image.registry, image.repository, image.tag, image.pinned) == (registry, repository, tag, pinned)


def test_targets_default_to_compose_on_the_local_engine() -> None:
    config = parse_config({})
    target = config.target_for("wiki")
    address = Endpoint.of(target)
    assert (target.name, target.kind, address.context, address.docker_host) == ("local", "compose", None, None)


def test_targets_per_service_and_repository_default() -> None:
    config = parse_config(
        {
            "target": "edge",
            "targets": {
                "edge": {"host": "ssh://admin@edge.example.org"},
                "cluster": {"kind": "swarm", "context": "swarm-prod"},
            },
            "services": {"apps/wiki": {"target": "cluster"}, "pad/": {"target": "local"}},
        }
    )
    wiki, pad, other = (config.target_for(name) for name in ("apps/wiki", "pad", "other"))
    assert (wiki.is_swarm, Endpoint.of(wiki).global_args()) == (True, ["--context=swarm-prod"])
    assert (pad.name, pad.is_swarm) == ("local", False)
    assert (other.name, Endpoint.of(other).env()["DOCKER_HOST"]) == ("edge", "ssh://admin@edge.example.org")


def test_config_defaults_and_values() -> None:
    assert parse_config({}).proxy_network == "docker_default"
    config = parse_config(
        {
            "proxy_network": "proxy",
            "lint": {"fail_on": "warning", "per_path": [{"paths": ["a/*"], "disable": ["DF001"]}]},
        },
        Path("darse.toml"),
    )
    assert config.proxy_network == "proxy"
    assert config.lint.fail_on == "warning"
    assert config.lint.per_path[0].disable == frozenset({"DF001"})


@pytest.mark.parametrize(
    "data",
    [
        {"unknown": 1},
        {"proxy_network": 3},
        {"lint": {"fail_on": "never"}},
        {"lint": {"severity": {"DF001": "fatal"}}},
        {"lint": {"per_path": [{"disable": ["DF001"]}]}},
        {"skip": "not-a-list"},
        {"target": "nowhere"},
        {"targets": {"c": {"kind": "kubernetes"}}},
        {"targets": {"c": {"kind": "swarm", "context": "a", "host": "ssh://b"}}},
        {"targets": {"c": {"host": "node1"}}},
        {"targets": {"c": {"kind": "swarm", "replicas": 3}}},
        {"targets": "cluster"},
        {"services": {"wiki": {"target": "cluster"}}},
        {"services": {"wiki": {"replicas": 2}}},
    ],
)
def test_config_errors_are_darse_errors(data: dict) -> None:
    with pytest.raises(DarseError):
        parse_config(data)
