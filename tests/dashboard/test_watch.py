"""The fleet watcher on the in-memory engine: one event subscription however many subscribers, a burst
of events coalesced into one notice, every subscriber told, a broken stream subscribed again with an
"everything" notice, and the last subscriber leaving closes the stream and ends the threads. The rows a
notice names are rebuilt alone (`fleet_rows`)."""

from __future__ import annotations

import queue
import time

import pytest

from darse.dashboard.fleet import fleet_rows
from darse.dashboard.watch import ALL, FleetWatcher, fleet_engines
from darse.deploy.context import DeployContext
from darse.deploy.status import DEGRADED, IN_SYNC
from darse.engine.docker import COMMIT_LABEL, SERVICE_HASH_LABEL, SERVICE_LABEL, ContainerEvent, Engine
from darse.errors import DarseError

from helpers.deploy_repo import Repo, make_repo
from helpers.fake_engine import FakeEngineAPI

WAIT = 30  # seconds a test waits for a notice at most (a shared machine): it asserts what arrives, not when


def _labels(project: str, revision: str = "r1") -> dict[str, str]:
    return {SERVICE_LABEL: project, COMMIT_LABEL: revision, SERVICE_HASH_LABEL: "h"}


class Inbox:
    """A subscriber that keeps its notices in a queue."""

    def __init__(self) -> None:
        self.notices: queue.Queue[frozenset[str]] = queue.Queue()

    def __call__(self, notice: frozenset[str]) -> None:
        self.notices.put(notice)

    def next(self) -> frozenset[str]:
        return self.notices.get(timeout=WAIT)


@pytest.fixture
def fake() -> FakeEngineAPI:
    return FakeEngineAPI()


def _watcher(fake: FakeEngineAPI, **kw) -> FleetWatcher:
    return FleetWatcher(lambda: [Engine(fake)], retry=0.05, **kw)


def _subscribed(fake: FakeEngineAPI, count: int = 1) -> None:
    """Wait until the watcher's reader has subscribed `count` times (it does so in its thread)."""
    for _ in range(WAIT * 100):
        if len(fake.event_streams) >= count:
            return
        time.sleep(0.01)
    raise AssertionError("the watcher never subscribed")


def test_one_subscription_for_every_subscriber_and_each_one_told(fake):
    web = fake.add_container("wiki-web-1", project="wiki", service="web", labels=_labels("wiki"))
    watcher = _watcher(fake)
    first, second = Inbox(), Inbox()
    leave_first = watcher.subscribe(first)
    leave_second = watcher.subscribe(second)
    _subscribed(fake)
    fake.emit(web, "die", state="exited")
    assert first.next() == second.next() == frozenset({"wiki"})
    assert len(fake.event_streams) == 1 and watcher.subscriptions == 1
    leave_first()
    assert watcher.running and not fake.event_streams[0].closed  # someone still watches
    leave_second()
    assert not watcher.running and fake.event_streams[0].closed  # the last one left: stream closed
    fake.emit(web, "start", state="running")
    assert first.notices.empty() and second.notices.empty()


def test_a_burst_of_events_is_one_notice_with_every_project(fake):
    web = fake.add_container("wiki-web-1", project="wiki", service="web", labels=_labels("wiki"))
    db = fake.add_container("wiki-db-1", project="wiki", service="db", labels=_labels("wiki"))
    pad = fake.add_container("pad-web-1", project="pad", service="web", labels=_labels("pad"))
    watcher = _watcher(fake, debounce=2.0, max_wait=10.0)  # a window far longer than the burst takes
    inbox = Inbox()
    leave = watcher.subscribe(inbox)
    _subscribed(fake)
    for container in (web, db, pad):
        fake.emit(container, "create")
        fake.emit(container, "start")
    fake.emit(web, "health_status: healthy", health="healthy")
    try:
        assert inbox.next() == frozenset({"wiki", "pad"})
        assert inbox.notices.empty()
    finally:
        leave()


def test_containers_outside_darse_and_exec_events_are_filtered_out(fake):
    stranger = fake.add_container("other-1", project="other", service="x", labels={})
    web = fake.add_container("wiki-web-1", project="wiki", service="web", labels=_labels("wiki"))
    watcher = _watcher(fake)
    inbox = Inbox()
    leave = watcher.subscribe(inbox)
    _subscribed(fake)
    fake.emit(stranger, "start")  # no darse label: the subscription's filter drops it
    fake.emit(web, "exec_start: wget -q http://127.0.0.1/")  # a healthcheck run: not a change
    fake.emit(web, "stop", state="exited")
    try:
        assert inbox.next() == frozenset({"wiki"})
        filters = fake.event_streams[0].filters
        assert filters["type"] == ["container"] and filters["label"] == [SERVICE_LABEL]
    finally:
        leave()


def test_a_broken_stream_is_subscribed_again_and_every_row_refreshed(fake):
    web = fake.add_container("wiki-web-1", project="wiki", service="web", labels=_labels("wiki"))
    watcher = _watcher(fake)
    inbox = Inbox()
    leave = watcher.subscribe(inbox)
    try:
        _subscribed(fake)
        fake.event_streams[0].close()  # the engine went away
        assert inbox.next() == frozenset({ALL})  # changes may have been missed meanwhile
        _subscribed(fake, 2)
        fake.emit(web, "die", state="exited")
        assert inbox.next() == frozenset({"wiki"})
    finally:
        leave()


def test_an_unreachable_engine_is_tried_again(fake):
    fake.reachable = False
    watcher = _watcher(fake)
    inbox = Inbox()
    leave = watcher.subscribe(inbox)
    try:
        fake.reachable = True
        _subscribed(fake)
        web = fake.add_container("wiki-web-1", project="wiki", service="web", labels=_labels("wiki"))
        fake.emit(web, "start")
        assert inbox.next() == frozenset({"wiki"})
    finally:
        leave()


def test_engine_events_are_typed():
    fake = FakeEngineAPI()
    web = fake.add_container("wiki-web-1", project="wiki", service="web", labels=_labels("wiki"))
    with Engine(fake).events() as events:
        fake.emit(web, "health_status: unhealthy", health="unhealthy")
        assert next(iter(events)) == ContainerEvent(
            "wiki", "wiki", "wiki-web-1", "health_status", "unhealthy", 1_795_000_000.0
        )
    assert fake.event_streams[0].closed


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repo:
    return make_repo(tmp_path, monkeypatch)


def test_the_rows_of_a_notice_alone_are_rebuilt(repo):
    ctx = repo.context()
    head = repo.head()
    for project in ("wiki", "pad"):
        repo.record(ctx, project, head, images={"web": {"config": "h"}, "db": {"config": "h"}})
    web = repo.fake.add_container(
        "wiki-web-1", project="wiki", service="web", labels=_labels("wiki", head), health="healthy"
    )
    repo.fake.add_container("wiki-db-1", project="wiki", service="db", labels=_labels("wiki", head))
    repo.fake.add_container("pad-web-1", project="pad", service="web", labels=_labels("pad", head))
    assert len(fleet_engines(ctx)) == 1  # both services on the local engine: one subscription
    summary = fleet_rows(repo.context(), frozenset({"wiki"}))
    assert [(r.service, r.state) for r in summary.rows] == [("wiki", IN_SYNC)]
    web.state = "exited"
    summary = fleet_rows(repo.context(), frozenset({"wiki", "unknown-project"}))
    assert [(r.service, r.state, r.running, r.total) for r in summary.rows] == [("wiki", DEGRADED, 1, 2)]


def test_an_unreachable_target_leaves_the_other_engines_watched(tmp_path, monkeypatch):
    repo = make_repo(tmp_path, monkeypatch)
    repo.commit(
        {"darse.toml": '[targets.ghost]\nhost = "tcp://ghost.invalid:2375"\n[services."pad"]\ntarget = "ghost"\n'}
    )

    def connect(endpoint):
        if endpoint.docker_host:
            raise DarseError("cannot reach the Docker engine at tcp://ghost.invalid:2375 (TimeoutError)", "start it")
        return repo.fake.connect(endpoint)

    engines = fleet_engines(DeployContext.open(repo.root, connect_engine=connect))
    assert [engine.endpoint.docker_host for engine in engines] == [None]  # the local one, still watched
    repo.fake.reachable = False
    with pytest.raises(DarseError, match="cannot reach"):  # none answers: the watcher tries again later
        fleet_engines(DeployContext.open(repo.root, connect_engine=connect))
