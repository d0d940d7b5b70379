"""darse.backup.load on the real engine with real restic: a volume snapshot back into an empty volume in
each of its forms (restic read the local folder: restored in place; a tar stream; a folder snapshot
through a remote engine), owners, modes and links as they were; a volume not empty refused; volumes
emptied without following links; a PostgreSQL dump loaded into a fresh database once it is ready,
and a load that fails said in one line without the password."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from darse.backup.dumps import dump_command
from darse.backup.load import LoadError, fill_volume, load_dump
from darse.engine import backup
from darse.engine.backup import BackupEngineError
from darse.engine.compose import Endpoint
from darse.engine.connect import connect
from darse.engine.docker import Engine
from darse.restic import Restic, Snapshot, make_password_file

from helpers.databases import exec_sh, postgres_image, redis_image, running
from helpers.engine import BASE_TAG
from helpers.tcp_engine import engine_over_tcp

POPULATE = (
    "mkdir -p /v/sub/deeper && printf hello > /v/a.txt && chmod 640 /v/a.txt && chown 1234:5678 /v/a.txt "
    "&& yes 'volume data' | head -c 300000 > /v/sub/deeper/big.bin && chmod 700 /v/sub "
    "&& ln -s /etc/shadow /v/shadow-link && ln -s ../a.txt /v/sub/relative-link && chown 999:999 /v && chmod 750 /v"
)
# one line per entry: name, type, owner, mode, size, link target (busybox find)
LISTING = "cd /v && find . -exec stat -c '%n|%F|%u:%g|%a|%s|%N' {} + | sort"
PASSWORD = "load pa$$word 'q'"
PSQL = "psql -X -q -At -v ON_ERROR_STOP=1 -U wiki wiki"


def unique(prefix: str) -> str:
    return f"darse-test-{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def ours(engine, busybox) -> Iterator[Engine]:
    connected = connect(Endpoint())
    yield connected
    connected.close()


@pytest.fixture(scope="module")
def remote(engine, busybox) -> Iterator[Engine]:
    with engine_over_tcp() as connected:
        yield connected


@pytest.fixture
def restic(tmp_path: Path) -> Restic:
    make_password_file(tmp_path / "password")
    repository = Restic(str(tmp_path / "repo"), tmp_path / "password", cache_dir=tmp_path / "cache")
    repository.init()
    return repository


@pytest.fixture
def volumes(engine: docker.DockerClient, busybox) -> Iterator[callable]:
    made: list[str] = []

    def make(populate: bool = False) -> str:
        name = unique("vol")
        engine.volumes.create(name)
        made.append(name)
        if populate:
            engine.containers.run(BASE_TAG, ["sh", "-c", POPULATE], volumes={name: {"bind": "/v"}}, remove=True)
        return name

    yield make
    for name in made:
        engine.volumes.get(name).remove(force=True)


def listing(engine: docker.DockerClient, volume: str) -> str:
    return engine.containers.run(
        BASE_TAG, ["sh", "-c", LISTING], volumes={volume: {"bind": "/v", "mode": "ro"}}, remove=True
    ).decode()


def snapshot(restic: Restic, backup_id: str) -> Snapshot:
    (found,) = [s for s in restic.snapshots() if s.id.startswith(backup_id) or s.short_id == backup_id]
    return found


def folder_snapshot(ours: Engine, restic: Restic, volume: str) -> Snapshot:
    directory = backup.volume_mountpoint(ours, volume)
    assert directory is not None
    return snapshot(restic, restic.backup_path(directory, {"darse.kind": "volume"}).snapshot_id)


def test_a_folder_snapshot_restores_in_place_on_the_local_engine(ours, engine, restic, volumes):
    source, target = volumes(populate=True), volumes()
    expected = listing(engine, source)
    assert "1234:5678|640" in expected and "-> '/etc/shadow'" in expected and ".|directory|999:999|750" in expected
    taken = folder_snapshot(ours, restic, source)
    assert fill_volume(ours, restic, taken, target, image=BASE_TAG) == 300005
    assert listing(engine, target) == expected
    with pytest.raises(LoadError, match="not empty"):
        fill_volume(ours, restic, taken, target, image=BASE_TAG)


def test_a_tar_stream_snapshot_restores_through_the_engine(ours, engine, restic, volumes):
    source, target = volumes(populate=True), volumes()

    def produce(sink) -> None:
        backup.stream_volume(ours, source, sink.write, image=BASE_TAG)

    taken = snapshot(restic, restic.backup_stream(produce, "project.data.tar", {"darse.kind": "volume"}).snapshot_id)
    assert fill_volume(ours, restic, taken, target, image=BASE_TAG) > 300000
    assert listing(engine, target) == listing(engine, source)
    with pytest.raises(BackupEngineError, match="not empty"):
        fill_volume(ours, restic, taken, target, image=BASE_TAG)


def test_a_folder_snapshot_restores_through_a_remote_engine(ours, remote, engine, restic, volumes):
    source, target = volumes(populate=True), volumes()
    taken = folder_snapshot(ours, restic, source)
    fill_volume(remote, restic, taken, target, image=BASE_TAG)
    got, expected = listing(engine, target), listing(engine, source)

    # restic's tar holds no entry for the folder itself: the volume's root keeps its own owner and mode
    def below_root(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith(".|")]

    assert below_root(got) == below_root(expected) and len(below_root(got)) == 6


@pytest.mark.parametrize("where", ["ours", "remote"])
def test_empty_volume_removes_everything_and_follows_no_link(where, request, engine, volumes, tmp_path):
    volume = volumes(populate=True)
    outside = volumes(populate=True)
    engine.containers.run(
        BASE_TAG,
        ["sh", "-c", "ln -s /o /v/link-to-other; ln -s /o/a.txt /v/file-link"],
        volumes={volume: {"bind": "/v"}, outside: {"bind": "/o"}},
        remove=True,
    )
    backup.empty_volume(request.getfixturevalue(where), volume, image=BASE_TAG)
    assert listing(engine, volume).splitlines() == [".|directory|999:999|750|4096|."]
    assert "a.txt" in listing(engine, outside)


# --- PostgreSQL ----------------------------------------------------------------------------------------


@pytest.fixture
def dumped(engine: docker.DockerClient, ours: Engine, restic: Restic) -> Snapshot:
    """A dump of a PostgreSQL holding 3000 rows, in restic."""
    env = {"POSTGRES_USER": "wiki", "POSTGRES_PASSWORD": PASSWORD, "POSTGRES_DB": "wiki"}
    with running(engine, postgres_image(), env) as db:
        script = "CREATE TABLE pages (id int PRIMARY KEY, body text); "
        script += "INSERT INTO pages SELECT g, 'page ' || g FROM generate_series(1, 3000) g;"
        assert exec_sh(db, ("sh", "-c", f'{PSQL} -c "{script}"')).returncode == 0

        def produce(sink) -> None:
            assert backup.stream_command(ours, db.id, dump_command("postgres"), sink.write, stall=60).ok

        return snapshot(restic, restic.backup_stream(produce, "wiki.db.sql", {"darse.kind": "dump"}).snapshot_id)


def test_a_postgres_dump_loads_into_a_fresh_database_once_it_is_ready(engine, ours, restic, dumped):
    env = {"POSTGRES_USER": "wiki", "POSTGRES_PASSWORD": "another", "POSTGRES_DB": "wiki"}
    name = unique("pg")
    fresh = engine.containers.run(postgres_image(), name=name, environment=env, detach=True)
    try:  # not waited healthy: load_dump waits until the database accepts connections
        assert load_dump(ours, restic, dumped, fresh.id, "postgres") > 0
        rows = exec_sh(fresh, ("sh", "-c", f'{PSQL} -c "SELECT count(*), sum(id), max(body) FROM pages"'))
        assert rows.stdout.strip() == b"3000|4501500|page 999"
        with pytest.raises(LoadError) as again:  # not fresh any more: the tables exist
            load_dump(ours, restic, dumped, fresh.id, "postgres")
        message = again.value.message
        assert "\n" not in message and "exit 1" in message and PASSWORD not in message and "another" not in message
    finally:
        fresh.remove(force=True, v=True)


def test_a_database_that_never_gets_ready_is_a_one_line_error(engine, ours, restic, busybox):
    idle = engine.containers.run(BASE_TAG, ["sleep", "60"], name=unique("idle"), detach=True)
    fake = Snapshot("0" * 64, "00000000", snapshot_time(), ("/x.sql",), {}, "host")
    try:
        with pytest.raises(LoadError, match="accepted no connection within 1 s"):
            load_dump(ours, restic, fake, idle.id, "postgres", ready_timeout=1)
    finally:
        idle.remove(force=True)


def snapshot_time():
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def test_a_redis_dump_loads_and_the_container_restarts_on_it(engine, ours, restic):
    env = {"REDIS_PASSWORD": "redis secret"}
    cli = 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli'
    with running(engine, redis_image(), env) as source:
        assert exec_sh(source, ("sh", "-c", f"{cli} SET greeting hello && {cli} RPUSH list a b c")).returncode == 0

        def produce(sink) -> None:
            assert backup.stream_command(ours, source.id, dump_command("redis"), sink.write, stall=60).ok

        taken = snapshot(restic, restic.backup_stream(produce, "cache.cache.rdb", {"darse.kind": "dump"}).snapshot_id)
    with running(engine, redis_image(), env) as fresh:
        assert load_dump(ours, restic, taken, fresh.id, "redis") > 0
        got = exec_sh(fresh, ("sh", "-c", f"{cli} GET greeting; {cli} LRANGE list 0 -1"))
        assert got.stdout.split() == [b"hello", b"a", b"b", b"c"]
