"""Before a deploy, the plan (read from the checkout) is narrowed to what has a container: a database or
a volume the deployment adds has no data yet, and its dump would fail the backup and stop the deploy."""

from __future__ import annotations

from darse.backup.plan import COPY, DUMP, DumpPlan, FolderPlan, VolumePlan
from darse.backup.run import deployed_part
from darse.engine.docker import ContainerState


def _dump(service: str) -> DumpPlan:
    return DumpPlan(service, "postgres", "postgres:16", True, "", ("sh",), (), f"{service}.sql")


def _container(service: str, state: str) -> ContainerState:
    return ContainerState(f"id-{service}", f"wiki-{service}-1", "wiki", service, state, "", "sha256:1", "x")


PLAN = FolderPlan(
    "wiki",
    "wiki",
    "local",
    volumes=[
        VolumePlan("db-data", "wiki_db-data", False, ("db",), DUMP, dumped_by="db"),
        VolumePlan("search-data", "wiki_search-data", False, ("search",), DUMP, dumped_by="search"),
        VolumePlan("files", "wiki_files", False, ("app",), COPY),
        VolumePlan("uploads", "wiki_uploads", False, ("uploader",), COPY),
    ],
    dumps=[_dump("db"), _dump("search")],
)


def test_what_the_deployment_adds_is_left_out_and_a_stopped_database_stays():
    narrowed = deployed_part(PLAN, [_container("db", "exited"), _container("app", "running")])
    assert [d.service for d in narrowed.dumps] == ["db"]  # stopped: its dump fails, the deploy stops
    assert [v.key for v in narrowed.volumes] == ["db-data", "files"]
    assert [d.service for d in PLAN.dumps] == ["db", "search"]  # the plan itself is untouched


def test_everything_stays_when_every_service_has_a_container():
    every = [_container(name, "running") for name in ("db", "search", "app", "uploader")]
    assert deployed_part(PLAN, every) == PLAN
