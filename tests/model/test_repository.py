"""What a folder is: a service (every Compose file read), an image folder (Dockerfiles only), or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.errors import DarseError
from darse.model.repository import open_repository
from darse.model.service import is_compose_name

from helpers.lint import GOOD_SERVICE
from helpers.repo import write_tree


@pytest.mark.parametrize(
    "name",
    [
        "compose.yaml",
        "docker-compose.yml",
        "docker-compose-sqlite.yml",
        "docker-compose-mariadb-redis.yaml",
        "compose.prod.yaml",
        "docker-compose.override.yml",
        "compose.dev.override.yaml",
    ],
)
def test_compose_names(name: str) -> None:
    assert is_compose_name(name)


@pytest.mark.parametrize(
    "name", ["docker-compose.yml.bak", "compose.yml.j2", "mycompose.yml", "compose", "composer.yml", "stack.yml"]
)
def test_near_misses_are_not_compose_files(name: str) -> None:
    assert not is_compose_name(name)


def test_a_folder_of_variants_is_a_service_with_nothing_to_deploy_by_default(tmp_path: Path) -> None:
    write_tree(
        tmp_path, {"svc/docker-compose-sqlite.yml": GOOD_SERVICE, "svc/docker-compose-mariadb.yml": GOOD_SERVICE}
    )
    (service,) = open_repository(tmp_path).services
    assert [u.path.name for u in service.units] == ["docker-compose-mariadb.yml", "docker-compose-sqlite.yml"]
    assert service.deploy_path is None
    with pytest.raises(DarseError) as error:
        service.deploy_file  # noqa: B018
    assert "docker-compose-mariadb.yml, docker-compose-sqlite.yml" in str(error.value)
    assert "compose_file" in error.value.one_line()


def test_darse_toml_names_the_deployed_file(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "darse.toml": '[services.svc]\ncompose_file = "docker-compose-sqlite.yml"\n',
            "svc/docker-compose-sqlite.yml": GOOD_SERVICE,
            "svc/docker-compose-mariadb.yml": GOOD_SERVICE,
        },
    )
    (service,) = open_repository(tmp_path).services
    assert service.deploy_file == tmp_path / "svc/docker-compose-sqlite.yml"
    assert service.compose_path == service.deploy_file  # the deployed file comes first
    assert len(service.units) == 2


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('[services.svc]\ncompose_file = "nope.yml"\n', "does not exist"),
        ('[services.other]\ncompose_file = "compose.yaml"\n', "not a service folder"),
        ('[services.svc]\ncompose_file = "../x/compose.yaml"\n', "not a file name"),
        ("[services.svc]\ncompose_file = 3\n", "must be a string"),
    ],
)
def test_a_wrong_compose_file_in_darse_toml_is_an_error(tmp_path: Path, toml: str, needle: str) -> None:
    write_tree(tmp_path, {"darse.toml": toml, "svc/compose.yaml": GOOD_SERVICE})
    with pytest.raises(DarseError, match=needle):
        open_repository(tmp_path)


def test_a_default_file_deploys_and_variants_and_overrides_are_read_too(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "svc/docker-compose.yml": GOOD_SERVICE,
            "svc/docker-compose.override.yml": "services:\n  app:\n    init: true\n",
            "svc/docker-compose-other.yml": GOOD_SERVICE,
            "svc/docker-compose-other.override.yml": "services:\n  app:\n    init: true\n",
        },
    )
    (service,) = open_repository(tmp_path).services
    assert service.deploy_file == tmp_path / "svc/docker-compose.yml"
    pairs = [(u.path.name, [o.name for o in u.overrides]) for u in service.units]
    assert pairs == [
        ("docker-compose.yml", ["docker-compose.override.yml"]),
        ("docker-compose-other.yml", ["docker-compose-other.override.yml"]),
    ]
    assert len(service.compose_paths) == 4


def test_an_override_without_a_base_is_read_on_its_own(tmp_path: Path) -> None:
    write_tree(tmp_path, {"svc/compose.override.yaml": GOOD_SERVICE})
    (service,) = open_repository(tmp_path).services
    assert [u.path.name for u in service.units] == ["compose.override.yaml"]


def test_dockerfile_only_folders_are_image_folders(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "images/base/Dockerfile": "FROM debian:12\n",
            "images/base/README.md": "# base\n",
            "images/php/Dockerfile": "FROM php:8.3\n",
            "images/php/fpm/Dockerfile": "FROM php:8.3-fpm\n",
            "svc/compose.yaml": GOOD_SERVICE,
            "svc/build/Dockerfile": "FROM alpine:3.20\n",  # a service's subfolder: the service's
        },
    )
    repository = open_repository(tmp_path)
    assert [s.name for s in repository.services] == ["svc"]
    assert [s.dockerfile_paths for s in repository.services] == [[tmp_path / "svc/build/Dockerfile"]]
    images = {i.name: i for i in repository.images}
    assert sorted(images) == ["images/base", "images/php", "images/php/fpm"]
    assert images["images/base"].has_readme and not images["images/php"].has_readme
    assert images["images/php"].dockerfile_paths == [tmp_path / "images/php/Dockerfile"]
    assert images["images/php"].compose.services() == []  # nothing to read as Compose


def test_a_subfolder_with_its_own_compose_file_is_a_service_in_turn(tmp_path: Path) -> None:
    write_tree(tmp_path, {"svc/compose.yaml": GOOD_SERVICE, "svc/examples/docker-compose.yml": GOOD_SERVICE})
    assert [s.name for s in open_repository(tmp_path).services] == ["svc", "svc/examples"]
