"""`backup_plan`: what a backup of each service folder takes, read from real repositories in tmp_path
(Compose files, env files, darse.toml, Git), with no engine."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from darse.backup.plan import COPY, DUMP, EXCLUDED, NOT_COVERED, backup_plan
from darse.errors import DarseError

from helpers.repo import git_init, write_tree

PASSWORD = "Sup3r-s3cret-pg-Pa55"  # in an env file only: must never reach the plan
CONFIG = """
[backup]
repository = "rest:https://fleet:rest-pass-123456@backup.example.org/fleet"
password_file = "/etc/darse/restic.password"
keep = { daily = 7 }

[targets.cluster]
kind = "swarm"
context = "swarm"

[services.swarmed]
target = "cluster"

[backup.services.app]
exclude = ["cache"]
pre = { service = "web", command = ["touch", "/data/.maintenance"] }
post = { service = "web", command = ["rm", "/data/.maintenance"] }
check = { service = "web", command = ["test", "-f", "/data/index.html"] }
"""
FILES = {
    "darse.toml": CONFIG,
    "wiki/compose.yaml": """
        services:
          app:
            image: requarks/wiki:2.5
            volumes:
              - uploads:/wiki/data
          db:
            image: postgres:15.6-alpine
            env_file: db.secrets
            volumes:
              - db-data:/var/lib/postgresql/data
              - ./init:/docker-entrypoint-initdb.d:ro
        volumes:
          db-data:
          uploads:
            name: wiki-uploads
        """,
    "wiki/db.secrets": f"POSTGRES_USER=wikijs\nPOSTGRES_PASSWORD={PASSWORD}\n",
    "blog/compose.yaml": """
        services:
          db:
            image: mariadb:11.4
            environment:
              MARIADB_ROOT_PASSWORD: ${DB_ROOT_PASSWORD}
            volumes:
              - type: volume
                source: mysql
                target: /var/lib/mysql
        volumes:
          mysql:
        """,
    "blog/.env": f"DB_ROOT_PASSWORD={PASSWORD}\n",
    "cache/compose.yaml": """
        services:
          redis:
            image: docker.io/library/redis:7.2
            volumes: [redis:/data]
        volumes:
          redis:
        """,
    "chat/compose.yaml": """
        services:
          mongo:
            image: mongo:7.0
            environment:
              MONGO_INITDB_ROOT_USERNAME: chat
              MONGO_INITDB_ROOT_PASSWORD_FILE: /run/secrets/mongo
            volumes:
              - mongo-db:/data/db
              - mongo-config:/data/configdb
        volumes:
          mongo-db:
          mongo-config:
        """,
    "app/compose.yaml": """
        services:
          web:
            image: example/app:1.0
            volumes:
              - data:/data
              - cache:/var/cache/app
              - shared:/shared:ro
              - /tmp
        volumes:
          data:
          cache:
          shared:
            external: true
            name: fleet-shared
        """,
    "swarmed/compose.yaml": """
        services:
          app:
            image: example/app:1.0
            volumes: [state:/state]
          db:
            image: postgres:16.4
            volumes: [pg:/var/lib/postgresql/data]
        volumes:
          state:
          pg:
        """,
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_tree(tmp_path_factory.mktemp("plan") / "fleet", FILES)
    git_init(root)
    return root


@pytest.fixture(scope="module")
def plan(repo: Path):
    return {folder.folder: folder for folder in backup_plan(repo).services}


def volumes(folder) -> dict[str, tuple[str, str]]:
    return {v.name: (v.action, v.dumped_by) for v in folder.volumes}


def test_the_repository_settings_are_shown_masked(repo: Path) -> None:
    result = backup_plan(repo)
    assert result.configured and result.keep == {"daily": 7} and result.before_deploy == "on-image-change"
    assert result.repository == "rest:https://fleet:****@backup.example.org/fleet"
    assert result.password_file == "/etc/darse/restic.password"
    assert [f.folder for f in result.services] == ["app", "blog", "cache", "chat", "swarmed", "wiki"]


def test_postgres_is_dumped_as_its_user_and_its_data_volume_is_not_copied(plan) -> None:
    wiki = plan["wiki"]
    assert volumes(wiki) == {"wiki-uploads": (COPY, ""), "wiki_db-data": (DUMP, "db")}
    [dump] = wiki.dumps
    assert (dump.service, dump.kind, dump.user, dump.detected) == ("db", "postgres", "wikijs", True)
    assert dump.replaces == ("wiki_db-data",) and dump.file == "db.sql"
    assert dump.command[:2] == ("sh", "-c") and dump.command[2].endswith("exec pg_dumpall")
    assert wiki.bind_mounts == ["./init"]


def test_mariadb_is_dumped_as_root_in_one_transaction(plan) -> None:
    blog = plan["blog"]
    assert volumes(blog) == {"blog_mysql": (DUMP, "db")}
    [dump] = blog.dumps
    assert (dump.kind, dump.user) == ("mariadb", "root")
    assert "--all-databases --single-transaction" in dump.command[2] and "MYSQL_PWD" in dump.command[2]


def test_redis_saves_then_streams_its_rdb_file(plan) -> None:
    cache = plan["cache"]
    assert volumes(cache) == {"cache_redis": (DUMP, "redis")}
    [dump] = cache.dumps
    assert (dump.kind, dump.user, dump.file) == ("redis", "", "redis.rdb")
    assert "BGSAVE" in dump.command[2]


def test_mongodb_replaces_both_of_its_volumes(plan) -> None:
    chat = plan["chat"]
    assert volumes(chat) == {"chat_mongo-db": (DUMP, "mongo"), "chat_mongo-config": (DUMP, "mongo")}
    [dump] = chat.dumps
    assert (dump.kind, dump.user, dump.file) == ("mongodb", "chat", "mongo.archive")


def test_a_plain_app_copies_its_volumes_except_the_excluded_one_with_its_commands(plan) -> None:
    app = plan["app"]
    assert volumes(app) == {
        "app_data": (COPY, ""),
        "app_cache": (EXCLUDED, ""),
        "fleet-shared": (COPY, ""),  # external, named as it is
    }
    assert [v.external for v in app.volumes] == [False, False, True]
    assert app.dumps == [] and app.in_scope and not app.stop
    assert [c.command for c in app.pre] == [("touch", "/data/.maintenance")]
    assert [c.command for c in app.post] == [("rm", "/data/.maintenance")]
    assert app.check is not None and app.check.service == "web"


def test_a_swarm_target_is_out_of_scope_and_says_so(plan) -> None:
    swarmed = plan["swarmed"]
    assert not swarmed.in_scope and "Swarm" in swarmed.note and "out of scope" in swarmed.note
    assert volumes(swarmed) == {"swarmed_state": (NOT_COVERED, ""), "swarmed_pg": (NOT_COVERED, "")}
    assert swarmed.dumps == []


def test_no_password_reaches_the_plan(repo: Path) -> None:
    document = json.dumps(backup_plan(repo).to_dict())
    assert PASSWORD not in document and "rest-pass-123456" not in document
    assert "wikijs" in document  # the user name is read from the same env file


def test_only_the_folders_asked_for(repo: Path) -> None:
    assert [f.folder for f in backup_plan(repo, ["cache", "wiki"]).services] == ["cache", "wiki"]
    with pytest.raises(DarseError, match="no service named 'wikki'") as caught:
        backup_plan(repo, ["wikki"])
    assert "did you mean wiki" in caught.value.hint


def _repo(tmp_path: Path, config: str, compose: str, extra: dict[str, str] | None = None) -> Path:
    root = write_tree(tmp_path / "r", {"darse.toml": config, "svc/compose.yaml": compose, **(extra or {})})
    git_init(root)
    return root


DB = """
services:
  db:
    image: postgres:16.4
    environment:
      PGDATA: /pg/data
    volumes: [pg:/pg, logs:/var/log/postgresql]
volumes:
  pg:
  logs:
"""


def test_pgdata_moves_the_volume_a_dump_replaces(tmp_path: Path) -> None:
    [svc] = backup_plan(_repo(tmp_path, '[backup]\nrepository = "/srv/r"\n', DB)).services
    assert volumes(svc) == {"svc_pg": (DUMP, "db"), "svc_logs": (COPY, "")}


def test_a_dump_turned_off_copies_live_files_and_says_so(tmp_path: Path) -> None:
    config = '[backup]\nrepository = "/srv/r"\n[backup.services.svc]\ndump = { service = "db", kind = "none" }\n'
    [svc] = backup_plan(_repo(tmp_path, config, DB)).services
    [pg] = [v for v in svc.volumes if v.key == "pg"]
    assert (pg.action, pg.live_database, pg.covered) == (COPY, "db", False)
    assert svc.dumps == [] and any("copied while it runs" in w for w in svc.warnings)


def test_a_stopped_service_copies_its_files_safely(tmp_path: Path) -> None:
    config = '[backup]\nrepository = "/srv/r"\n[backup.services.svc]\nstop = true\n'
    config += 'dump = { service = "db", kind = "none" }\n'
    [svc] = backup_plan(_repo(tmp_path, config, DB)).services
    assert svc.stop and all(v.covered and v.action == COPY for v in svc.volumes) and svc.warnings == []


def test_a_dump_chosen_for_an_image_darse_does_not_know(tmp_path: Path) -> None:
    compose = "services:\n  db:\n    image: registry.example.org/our-postgres:3\n"
    compose += "    volumes: [pg:/var/lib/postgresql/data]\nvolumes:\n  pg:\n"
    config = '[backup]\nrepository = "/srv/r"\n[backup.services.svc]\ndump = { service = "db", kind = "postgres" }\n'
    [svc] = backup_plan(_repo(tmp_path, config, compose)).services
    [dump] = svc.dumps
    assert (dump.kind, dump.detected, dump.user, dump.replaces) == ("postgres", False, "postgres", ("svc_pg",))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[backup.services.svc]\nexclude = ["cahce"]\n', "excludes 'cahce', which no service of compose.yaml mounts"),
        ('[backup.services.svc]\npre = { service = "dbb", command = ["x"] }\n', "Compose service 'dbb'"),
        ('[backup.services.svc]\ndump = { service = "web", kind = "redis" }\n', "Compose service 'web'"),
        ("[backup.services.nope]\nstop = true\n", "no service folder 'nope'"),
    ],
)
def test_darse_toml_naming_what_is_not_there_is_an_error(tmp_path: Path, table: str, message: str) -> None:
    root = _repo(tmp_path, '[backup]\nrepository = "/srv/r"\n' + table, DB)
    with pytest.raises(DarseError) as caught:
        backup_plan(root)
    assert message in caught.value.message and "\n" not in caught.value.one_line()


def test_a_password_file_committable_in_the_checkout_is_refused(tmp_path: Path) -> None:
    config = '[backup]\nrepository = "/srv/r"\npassword_file = "restic.password"\n'
    root = _repo(tmp_path, config, DB)
    with pytest.raises(DarseError, match="inside the Git checkout and not ignored"):
        backup_plan(root)
    (root / ".gitignore").write_text("/restic.password\n")
    assert backup_plan(root).password_file == str(root / "restic.password")


def test_without_backup_the_plan_still_shows_what_would_be_taken(tmp_path: Path) -> None:
    result = backup_plan(_repo(tmp_path, "", DB))
    assert not result.configured and result.repository == "" and result.password_file == ""
    assert volumes(result.services[0]) == {"svc_pg": (DUMP, "db"), "svc_logs": (COPY, "")}


def test_a_committed_password_file_is_refused_even_when_ignored(tmp_path: Path) -> None:
    config = '[backup]\nrepository = "/srv/r"\npassword_file = "./secrets/../restic.password"\n'
    root = _repo(tmp_path, config, DB, {"restic.password": "x\n", ".gitignore": "/restic.password\n"})
    subprocess.run(["git", "-C", str(root), "add", "-f", "restic.password"], check=True)
    with pytest.raises(DarseError, match=r"restic\.password is committed to Git") as caught:
        backup_plan(root)
    assert "change the restic password" in caught.value.hint


@pytest.mark.parametrize("folder", ["app", "wiki", "chat", "swarmed"])
def test_volume_names_are_the_ones_compose_gives(repo: Path, plan, folder: str) -> None:
    """`docker compose config` (no engine involved) is the reference for the names of volumes."""
    done = subprocess.run(
        ["docker", "compose", "--project-name", plan[folder].project, "config", "--format", "json"],
        cwd=repo / folder,
        capture_output=True,
        text=True,
        check=True,
    )
    declared = json.loads(done.stdout)["volumes"]
    assert {v.key: v.name for v in plan[folder].volumes} == {key: v["name"] for key, v in declared.items()}
    assert {v.key: v.external for v in plan[folder].volumes} == {
        k: bool(v.get("external")) for k, v in declared.items()
    }
