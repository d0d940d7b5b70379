"""What the service page offers and what the action pages say before anything runs, through the test
client with the real sign-in (an operator): "Roll back to this" only where a rollback would change
something, Scale instead of Restart on a Swarm, the preflight's refusal for a missing secret file, and
the way back to the service. A real Git repository and history; the in-memory engine, a stand-in Swarm."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import ClassVar

import pytest
from starlette.testclient import TestClient

from darse.deploy.context import DeployContext
from darse.deploy.swarm import stack as stack_module
from darse.engine.swarm import STACK_LABEL, _service_state
from darse.web.app import ServeSettings, create_app

from helpers.deploy_repo import Repo, make_repo
from helpers.web import signed_in


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repo:
    return make_repo(tmp_path, monkeypatch)


@pytest.fixture
def operator(tmp_path: Path) -> Iterator[Callable[[Repo], TestClient]]:
    """A client over the repository, signed in as the operator otto (closed after the test)."""
    with ExitStack() as clients:

        def client_of(repo: Repo) -> TestClient:
            app = create_app(ServeSettings(start=repo.root, users_file=tmp_path / "users"))
            app.state.open_deployments = lambda folder: DeployContext.open(folder, connect_engine=repo.fake.connect)
            client = clients.enter_context(TestClient(app))
            signed_in(client, tmp_path / "users", "otto", "operator")
            return client

        yield client_of


def _rollback_links(html: str) -> list[str]:
    return re.findall(r'href="[^"]*/services/wiki/rollback\?to=([0-9a-f]+)">Roll back to this<', html)


def test_roll_back_to_this_only_on_earlier_deployments(repo: Repo, operator: Callable[[Repo], TestClient]) -> None:
    ctx = repo.context()
    first = repo.head()
    second = repo.commit({"wiki/notes.txt": "two\n"}, "second")
    repo.record(ctx, "wiki", first)
    repo.record(ctx, "wiki", second, config_hash="h2")
    repo.record(ctx, "wiki", second, config_hash="h2", action="restart")
    client = operator(repo)
    page = client.get("/services/wiki")
    assert page.status_code == 200, page.text
    assert "restart" in page.text and second[:12] in page.text  # the rows are there
    assert _rollback_links(page.text) == [first]  # not the current one, nor its restart

    refused = client.get(f"/services/wiki/rollback?to={second}")
    assert refused.status_code == 409
    assert f"wiki: {second[:12]} is the revision deployed now" in refused.text
    assert f'name="to" value="{second}"' not in refused.text and "Roll back wiki</button>" not in refused.text
    offered = client.get(f"/services/wiki/rollback?to={first}")
    assert offered.status_code == 200 and f'name="to" value="{first}"' in offered.text
    assert re.search(r'<a href="[^"]*/services/wiki">Cancel</a>', offered.text)  # back to the service


def test_a_missing_secret_file_is_the_preflights_refusal(repo: Repo, operator: Callable[[Repo], TestClient]) -> None:
    compose = "services:\n  web:\n    image: example/wiki:2.5\n    env_file:\n      - ./secrets/wiki.secrets\n"
    repo.commit({"wiki/compose.yaml": compose, "wiki/secrets/wiki.secrets.example": "DB_PASSWORD=\n"})
    client = operator(repo)
    page = client.get("/services/wiki/deploy")
    assert page.status_code == 200, page.text
    assert "The preflight refuses this deploy" in page.text
    assert "env_file wiki/secrets/wiki.secrets of service web does not exist" in page.text
    assert "darse secrets init wiki" in page.text
    assert "not found: stat" not in page.text and "docker compose config" not in page.text
    assert "Deploy wiki</button>" not in page.text
    assert re.search(r'<a href="[^"]*/services/wiki">Back to wiki</a>', page.text)


class _Swarm:
    """A manager whose stack `wiki` runs `web` (1 replica), or no stack at all."""

    stacks: ClassVar[set[str]] = {"wiki"}

    def __init__(self, target) -> None:
        pass

    def close(self) -> None:
        pass

    def services(self, stack: str):
        if stack not in self.stacks:
            return []
        raw = {
            "ID": "s1",
            "Spec": {"Name": "wiki_web", "Labels": {STACK_LABEL: "wiki"}, "Mode": {"Replicated": {"Replicas": 1}}},
        }
        return [_service_state(raw, [], "wiki")]


@pytest.fixture
def on_swarm(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> Repo:
    repo.commit({"darse.toml": '[targets.cluster]\nkind = "swarm"\n[services."wiki"]\ntarget = "cluster"\n'})
    monkeypatch.setattr(stack_module, "SwarmEngine", _Swarm)
    return repo


def test_a_swarm_service_offers_scale_not_restart(on_swarm: Repo, operator: Callable[[Repo], TestClient]) -> None:
    client = operator(on_swarm)
    page = client.get("/services/wiki")
    assert page.status_code == 200, page.text
    actions = re.search(r'<nav class="actions".*?</nav>', page.text, re.S).group(0)
    assert "Scale…" in actions and "/services/wiki/scale" in actions
    assert "Restart…" not in actions and "/services/wiki/restart" not in actions
    assert "Deploy at HEAD…" in actions and "Bring down…" in actions


def test_down_of_a_stack_names_it_or_says_there_is_nothing(
    on_swarm: Repo, operator: Callable[[Repo], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = operator(on_swarm)
    page = client.get("/services/wiki/down")
    assert "its stack <code>wiki</code> is removed (web)" in page.text and "Bring down wiki</button>" in page.text
    monkeypatch.setattr(_Swarm, "stacks", set())
    page = client.get("/services/wiki/down")
    assert "Nothing to bring down: wiki is not deployed as a stack" in page.text
    assert "Bring down wiki</button>" not in page.text
