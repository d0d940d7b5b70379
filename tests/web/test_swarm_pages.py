"""The Swarm page and the Scale action's checks through the test client, with the real sign-in (a viewer
and an operator in a real users file) and a stand-in Swarm manager: who sees what, who may act, and that
a bad replica count is a 400 page with a hint, never a traceback. Nothing here changes a Swarm (the
scale itself runs in tests/integration/web/test_swarm_engine.py)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from darse.dashboard import swarm as swarm_view_module
from darse.deploy.swarm import scale as scale_module
from darse.engine.swarm import STACK_LABEL, NodeState, _service_state
from darse.web import swarm as swarm_web
from darse.web.app import ServeSettings, create_app
from darse.web.streams import Actions

from helpers.browser import served
from helpers.fake_logs import wait_for
from helpers.repo import git_init, write_tree
from helpers.web import add_test_user, signed_in

NODE = NodeState("wz3ljrwwi3b2s0f8pd655p9xl", "vm", "manager", "active", "ready", "leader", "20.10.24", "127.0.0.1")


class FakeSwarm:
    """A one-node manager running the stack `wiki` (service web, 1 replica), or not a manager at all."""

    manager = True

    def __init__(self, target) -> None:
        self.target = target

    def close(self) -> None:
        pass

    def is_manager(self) -> bool:
        return self.manager

    def ensure_manager(self) -> None:
        assert self.manager

    def nodes(self):
        return [NODE]

    def services(self, stack: str):
        return self.all_stacks().get(stack, [])

    def all_stacks(self):
        raw = {
            "ID": "s1",
            "Spec": {
                "Name": "wiki_web",
                "Labels": {STACK_LABEL: "wiki"},
                "Mode": {"Replicated": {"Replicas": 1}},
                "TaskTemplate": {"ContainerSpec": {"Image": "registry.example.org/wiki:2.5"}},
            },
        }
        tasks = [
            {"ServiceID": "s1", "Slot": 1, "NodeID": NODE.id, "Status": {"State": "running"}, "DesiredState": "running"}
        ]
        return {"wiki": [_service_state(raw, tasks, "wiki")]}

    def events(self):
        return _NoEvents()


class _NoEvents:
    def __iter__(self):
        return iter(())

    def close(self) -> None:
        pass


class NotManager(FakeSwarm):
    manager = False


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = write_tree(
        tmp_path / "repo",
        {
            "darse.toml": '[targets.cluster]\nkind = "swarm"\n[services."wiki"]\ntarget = "cluster"\n',
            "wiki/compose.yaml": "services:\n  web:\n    image: registry.example.org/wiki:2.5\n",
        },
    )
    git_init(root)
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(swarm_view_module, "SwarmEngine", FakeSwarm)
    monkeypatch.setattr(scale_module, "SwarmEngine", FakeSwarm)
    return create_app(ServeSettings(start=root, users_file=tmp_path / "users"))


@pytest.fixture
def viewer(app, tmp_path: Path):
    with TestClient(app) as client:
        client.csrf = signed_in(client, tmp_path / "users", "vera", "viewer")
        yield client


@pytest.fixture
def operator(app, tmp_path: Path):
    with TestClient(app) as client:
        client.csrf = signed_in(client, tmp_path / "users", "otto", "operator")
        yield client


def test_a_viewer_sees_nodes_and_services_but_no_scale_form(viewer: TestClient) -> None:
    page = viewer.get("/swarm")
    assert page.status_code == 200, page.text
    node = re.search(r'<tr class="node" data-node="vm">.*?</tr>', page.text, re.S)
    assert node and all(word in node.group(0) for word in ("manager", "active", "ready", "leader"))
    row = re.search(r'<tr class="swarm-service" data-service="wiki_web">.*?</tr>', page.text, re.S)
    assert row and "1/1" in row.group(0) and "registry.example.org/wiki:2.5" in row.group(0)
    assert "/services/wiki/scale" not in page.text
    assert 'sse-connect="/swarm/events"' in page.text  # converged: no ?moving=1, events only
    assert 'href="http://testserver/swarm"' in page.text  # the nav link


def test_an_operator_gets_a_scale_form_and_a_confirmation_of_the_change(operator: TestClient) -> None:
    page = operator.get("/swarm")
    assert 'action="/services/wiki/scale"' in page.text and 'name="member" value="web"' in page.text
    confirm = operator.get("/services/wiki/scale", params={"member": "web", "replicas": "3"})
    assert confirm.status_code == 200, confirm.text
    assert re.search(r'class="scale-current">1</strong>.*class="scale-new">3</strong>', confirm.text, re.S)
    assert 'method="post"' in confirm.text and 'name="replicas" value="3"' in confirm.text
    assert f'name="csrf" value="{operator.csrf}"' in confirm.text


def test_a_viewer_cannot_scale(viewer: TestClient) -> None:
    answer = viewer.post(
        "/services/wiki/scale", data={"csrf": viewer.csrf, "member": "web", "replicas": "2"}, follow_redirects=False
    )
    assert answer.status_code == 403
    assert not hasattr(viewer.app.state, "actions") or viewer.app.state.actions.running_on("wiki") is None
    confirm = viewer.get("/services/wiki/scale", params={"member": "web", "replicas": "2"})
    assert "Only an operator can run this" in confirm.text and 'method="post" action="/services' not in confirm.text


def test_a_scale_without_the_csrf_token_is_refused(operator: TestClient) -> None:
    answer = operator.post("/services/wiki/scale", data={"member": "web", "replicas": "2"}, follow_redirects=False)
    assert answer.status_code == 403
    wrong = operator.post(
        "/services/wiki/scale", data={"csrf": "forged", "member": "web", "replicas": "2"}, follow_redirects=False
    )
    assert wrong.status_code == 403
    assert not hasattr(operator.app.state, "actions") or operator.app.state.actions.running_on("wiki") is None


@pytest.mark.parametrize("replicas", ["-1", "99999999999999999999", "many", "", "2.5"])
def test_a_bad_replica_count_is_a_400_with_a_hint(operator: TestClient, replicas: str) -> None:
    answer = operator.post(
        "/services/wiki/scale",
        data={"csrf": operator.csrf, "member": "web", "replicas": replicas},
        follow_redirects=False,
    )
    assert answer.status_code == 400, answer.text
    assert "give a whole number from 0 to 1000" in answer.text and "Traceback" not in answer.text
    assert not hasattr(operator.app.state, "actions") or operator.app.state.actions.running_on("wiki") is None
    confirm = operator.get("/services/wiki/scale", params={"member": "web", "replicas": replicas or "x"})
    assert confirm.status_code == 400 and "give a whole number from 0 to 1000" in confirm.text


def test_an_unknown_member_or_service_is_said(operator: TestClient) -> None:
    confirm = operator.get("/services/wiki/scale", params={"member": "nosuch", "replicas": "2"})
    assert confirm.status_code == 409 and "no service &#39;nosuch&#39; in the stack of wiki" in confirm.text
    assert operator.get("/services/nope/scale", params={"member": "web", "replicas": "2"}).status_code == 404
    odd = operator.post("/services/wiki/scale", data={"csrf": operator.csrf, "member": "../web", "replicas": "2"})
    assert odd.status_code == 400 and "is not a service of a stack" in odd.text


def test_an_engine_that_is_not_a_manager_is_said_with_a_hint(
    viewer: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(swarm_view_module, "SwarmEngine", NotManager)
    page = viewer.get("/swarm")
    assert page.status_code == 200
    assert "the engine of target cluster is not a Swarm manager" in page.text
    assert "docker swarm init" in page.text


def test_a_scale_is_refused_while_another_action_runs_on_the_folder(operator: TestClient) -> None:
    release = threading.Event()

    def held(action) -> None:
        release.wait(30)
        Actions.finish(action, True, "done", "")

    registry = operator.app.state.actions = Actions()
    registry.start("deploy", "wiki", "alice", held)
    try:
        confirm = operator.get("/services/wiki/scale", params={"member": "web", "replicas": "2"})
        assert "A deploy of wiki by alice is running" in confirm.text and "follow its progress" in confirm.text
        assert 'method="post" action="/services/wiki/scale"' not in confirm.text
        answer = operator.post(
            "/services/wiki/scale",
            data={"csrf": operator.csrf, "member": "web", "replicas": "2"},
            follow_redirects=False,
        )
        assert answer.status_code == 409
        assert "deploy of wiki by alice is running; wait for it to finish" in answer.text
        assert registry.running_on("wiki").kind == "deploy"
    finally:
        release.set()


def test_the_page_of_a_swarm_target_service_links_to_the_swarm_page(viewer: TestClient) -> None:
    page = viewer.get("/services/wiki")
    assert page.status_code == 200, page.text
    assert '<a href="/swarm">replicas and scale on the Swarm page</a>' in page.text


def test_swarm_pages_followed_at_once_are_bounded(app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each followed page holds a subscription and a thread per manager: a viewer opening pages by the
    hundred must not take them all. Over the bound, a page is told so and its stream ends."""
    monkeypatch.setattr(swarm_web, "MAX_STREAMS", 1, raising=False)
    password = add_test_user(tmp_path / "users", "vera", "viewer")
    with served(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/sign-in").text).group(1)
        client.post("/sign-in", data={"csrf": token, "name": "vera", "password": password})
        with client.stream("GET", "/swarm/events") as first:
            lines = first.iter_lines()  # held: dropping it would close the connection
            assert next(lines) == ": following the Swarm"
            second = client.get("/swarm/events", timeout=10)  # ends at once: no place left
            assert second.status_code == 200 and "Swarm pages are followed already" in second.text
            assert "retry: 60000" in second.text
        wait_for(lambda: not app.state.swarm_streams)  # the first page left: its place is free again


def test_a_swarm_stream_ends_once_its_user_is_removed(app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from darse.dashboard.users import remove_user

    monkeypatch.setattr(swarm_web, "KEEPALIVE_SECONDS", 0.2)
    password = add_test_user(tmp_path / "users", "vera", "viewer")
    with served(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/sign-in").text).group(1)
        client.post("/sign-in", data={"csrf": token, "name": "vera", "password": password})
        with client.stream("GET", "/swarm/events") as answer:
            lines = answer.iter_lines()  # held: dropping it would close the connection
            assert next(lines) == ": following the Swarm"
            remove_user(tmp_path / "users", "vera")
            seen = [line for _, line in zip(range(300), lines, strict=False)]  # ends early once refused
    assert len(seen) < 300
