"""The dashboard's actions on the real engine with a real Git repository: confirm, POST, follow the
stream to its outcome, and check the containers, the volumes and the history (the user who asked)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.exceptions import HTTPException
from starlette.testclient import TestClient

from darse.state import project_lock
from darse.web import actions, auth
from darse.web.app import ServeSettings, create_app

from helpers.deploy import SECRET, Stack, stack_fixture  # noqa: F401  (the `stack` fixture)
from helpers.web import signed_in

TOKEN = "the-session-token"
TIMEOUT = "20"
USER = "alice (dashboard)"


@dataclass
class Dashboard:
    """A client signed in as the operator alice, keeping every text it was answered (to look for secrets)."""

    client: TestClient
    stack: Stack
    seen: list[str] = field(default_factory=list)

    def get(self, path: str, status: int = 200) -> str:
        answer = self.client.get(path)
        self.seen.append(answer.text)
        assert answer.status_code == status, answer.text
        return answer.text

    def act(self, kind: str, **form: str) -> str:
        """POST the confirmed action; the progress page's path."""
        answer = self.client.post(
            f"/services/{self.stack.name}/{kind}", data={"csrf": TOKEN, **form}, follow_redirects=False
        )
        self.seen.append(answer.text)
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    def follow(self, progress: str) -> list[tuple[str, str]]:
        """The progress page, then its event stream to the end: (event, data) in order."""
        page = self.get(progress)
        assert re.search(r'hx-ext="sse"|data-outcome=', page)
        text = self.get(f"{progress}/events")
        self.seen.append(text)
        events = []
        for block in text.split("\n\n"):
            lines = block.splitlines()
            name = next((line[7:] for line in lines if line.startswith("event: ")), None)
            if name is not None:
                events.append((name, "\n".join(line[6:] for line in lines if line.startswith("data: "))))
        assert events and events[-1][0] == "done" and [e for e, _ in events].count("done") == 1
        return events

    def run(self, kind: str, **form: str) -> tuple[str, str, list[tuple[str, str]]]:
        """An action to its end: (outcome, the done fragment, every event)."""
        events = self.follow(self.act(kind, **form))
        done = events[-1][1]
        outcome = re.search(r'data-outcome="(ok|failed)"', done)
        assert outcome is not None, done
        return outcome.group(1), done, events

    def assert_no_secret(self) -> None:
        leaked = [text[:200] for text in self.seen if SECRET in text]
        assert leaked == [], "a secret value reached a page or a stream"


@pytest.fixture
def dashboard(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dashboard]:
    """The app over the stack's repository with stand-ins for auth's contract (alice, an operator; the
    CSRF token TOKEN): the real auth is tested by its own work, these tests are about the actions."""
    monkeypatch.setenv("DARSE_STATE_DIR", str(stack.state))
    monkeypatch.setattr(actions, "DEPLOY_TIMEOUT", float(TIMEOUT))

    def require(request, role: str):
        return SimpleNamespace(name="alice", role="operator")

    async def check_csrf(request) -> None:
        if (await request.form()).get("csrf") != TOKEN:
            raise HTTPException(403, "CSRF token missing or wrong")

    monkeypatch.setattr(auth, "require", require, raising=False)
    monkeypatch.setattr(auth, "check_csrf", check_csrf, raising=False)
    monkeypatch.setattr(auth, "csrf_token", lambda request: TOKEN)
    app = create_app(ServeSettings(start=stack.root, users_file=Path(stack.root.parent / "users")))
    with TestClient(app) as client:
        signed_in(client, stack.root.parent / "users")  # RequireSignIn lets only a session through
        board = Dashboard(client, stack)
        yield board
        board.assert_no_secret()


def _cli_up(stack: Stack) -> str:
    result = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    return stack.history()[0]["revision"]


def _env(container) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])


def test_deploy_is_confirmed_with_the_diff_then_streams_to_running_containers(dashboard: Dashboard) -> None:
    stack = dashboard.stack
    page = dashboard.get(f"/services/{stack.name}/deploy")
    assert "Nothing deployed yet" in page
    assert "first version" in page  # the commits
    assert "GREETING" in page and "DB_PASSWORD" in page  # the diff, the secret's key but not its value
    assert f'name="csrf" value="{TOKEN}"' in page and 'method="post"' in page

    outcome, done, events = dashboard.run("deploy")
    assert outcome == "ok", done
    progress = [data for name, data in events if name == "progress"]
    assert any("docker compose up" in data for data in progress)
    assert re.search(rf"✔ {stack.name}: deployed [0-9a-f]{{12}} \(2/2 healthy\)", done)
    containers = stack.containers()
    assert {name: c.status for name, c in containers.items()} == {"web": "running", "db": "running"}
    record = stack.history()[0]
    assert (record["action"], record["outcome"], record["user"]) == ("up", "success", USER)

    # a commit later, the confirmation names it and shows the change
    stack.write(greeting="bonjour")
    stack.commit("say bonjour")
    page = dashboard.get(f"/services/{stack.name}/deploy")
    assert "say bonjour" in page and "first version" not in page
    assert "+      GREETING: bonjour" in page or "GREETING: bonjour" in page


def test_a_dirty_tree_is_refused_before_the_form(dashboard: Dashboard) -> None:
    stack = dashboard.stack
    stack.write(greeting="uncommitted")
    page = dashboard.get(f"/services/{stack.name}/deploy")
    assert "uncommitted changes" in page and "The preflight refuses" in page
    assert 'method="post"' not in page.split("</header>", 1)[1]
    outcome, done, _events = dashboard.run("deploy")  # posted anyway: the library refuses it
    assert outcome == "failed" and "uncommitted changes" in done
    assert stack.containers() == {}


def test_a_second_action_on_the_service_is_refused(dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = dashboard.stack
    release = threading.Event()
    real = actions.RUNNERS["deploy"]

    def held(*args):
        release.wait(60)
        return real(*args)

    monkeypatch.setitem(actions.RUNNERS, "deploy", held)
    progress = dashboard.act("deploy")
    answer = dashboard.client.post(f"/services/{stack.name}/down", data={"csrf": TOKEN}, follow_redirects=False)
    dashboard.seen.append(answer.text)
    assert answer.status_code == 409
    assert f"deploy of {stack.name} by alice is running" in answer.text
    assert "follow its progress" in dashboard.get(f"/services/{stack.name}/restart")
    release.set()
    events = dashboard.follow(progress)
    assert 'data-outcome="ok"' in events[-1][1]

    # one started elsewhere (the command line) holds the project's lock: the library refuses, the page says so
    with project_lock(stack.state, stack.name):
        outcome, done, _events = dashboard.run("restart")
    assert outcome == "failed"
    assert f"another darse is deploying {stack.name} on this host" in done


def test_a_failed_deploy_streams_its_failure_and_the_automatic_rollback(dashboard: Dashboard) -> None:
    stack = dashboard.stack
    good = _cli_up(stack)
    stack.write(greeting="broken", health_port=9)  # the healthcheck probes a port nothing listens on
    broken = stack.commit("broken healthcheck")
    outcome, done, _events = dashboard.run("deploy")
    assert outcome == "failed"
    assert f"✘ {stack.name}: up of {broken[:12]} failed" in done and "unhealthy" in done
    assert f"✔ {stack.name}: rolled back to {good[:12]}" in done
    web = stack.containers()["web"]
    assert web.status == "running" and web.labels["org.darse.commit"] == good
    records = stack.history()
    assert [(r["action"], r["outcome"], r["user"]) for r in records[:3]] == [
        ("auto-rollback", "success", USER),
        ("up", "failed", USER),
        ("up", "success", records[2]["user"]),
    ]
    assert records[2]["user"] != USER  # the command line's deploy names the OS user


def test_roll_back_to_an_earlier_deployment_of_the_history(dashboard: Dashboard) -> None:
    stack = dashboard.stack
    first = _cli_up(stack)
    stack.write(greeting="second")
    stack.commit("second greeting")
    _cli_up(stack)
    choices = dashboard.get(f"/services/{stack.name}/rollback")
    assert f"?to={first}" in choices and 'method="post"' not in choices.split("</header>", 1)[1]
    page = dashboard.get(f"/services/{stack.name}/rollback?to={first}")
    assert f"back to <code>{first[:12]}</code> (first version)" in page
    assert f'name="to" value="{first}"' in page
    outcome, done, _events = dashboard.run("rollback", to=first)
    assert outcome == "ok", done
    assert f"✔ {stack.name}: rolled back to {first[:12]}" in done
    web = stack.containers()["web"]
    assert web.labels["org.darse.commit"] == first and _env(web)["GREETING"] == "hello"
    record = stack.history()[0]
    assert (record["action"], record["revision"], record["user"]) == ("rollback", first, USER)


def test_restart_then_down_keeps_the_volumes(dashboard: Dashboard) -> None:
    stack = dashboard.stack
    _cli_up(stack)
    db = stack.containers()["db"]
    code, _ = db.exec_run(["sh", "-c", "echo precious > /data/marker"])
    assert code == 0
    started, db_id = db.attrs["State"]["StartedAt"], db.id

    page = dashboard.get(f"/services/{stack.name}/restart")
    assert f"{stack.name}-db-1" in page and "These containers restart" in page
    outcome, done, _events = dashboard.run("restart")
    assert outcome == "ok", done
    assert f"✔ {stack.name}: restarted (2/2 running)" in done
    db = stack.containers()["db"]
    assert db.id == db_id and db.attrs["State"]["StartedAt"] != started  # the same container, started again
    record = stack.history()[0]
    assert (record["action"], record["outcome"], record["user"]) == ("restart", "success", USER)

    page = dashboard.get(f"/services/{stack.name}/down")
    assert f"{stack.name}-web-1" in page and "Named volumes (the data) are kept" in page
    outcome, done, _events = dashboard.run("down")
    assert outcome == "ok", done
    assert f"✔ {stack.name}: stopped (volumes kept)" in done
    assert stack.containers() == {}
    volume = stack.engine.volumes.get(f"{stack.name}_data")
    assert volume.name == f"{stack.name}_data"
    record = stack.history()[0]
    assert (record["action"], record["user"]) == ("down", USER)

    # deployed again, the data is there
    _cli_up(stack)
    code, out = stack.containers()["db"].exec_run(["cat", "/data/marker"])
    assert (code, out.decode().strip()) == (0, "precious")


def test_down_with_nothing_to_bring_down_is_refused_here_and_by_the_cli(dashboard: Dashboard) -> None:
    stack = dashboard.stack
    page = dashboard.get(f"/services/{stack.name}/down")
    assert f"Nothing to bring down: no container of {stack.name} runs" in page
    assert f"Bring down {stack.name}</button>" not in page
    assert f'<a href="http://testserver/services/{stack.name}">Back to {stack.name}</a>' in page
    outcome, done, _events = dashboard.run("down")  # posted anyway (a page left open): the library refuses
    assert outcome == "failed" and f"nothing to bring down: no container of {stack.name} runs" in done
    cli = stack.darse("down", stack.name)
    assert cli.returncode == 2 and f"nothing to bring down: no container of {stack.name} runs" in cli.stderr
    assert stack.history() == []  # neither recorded a "down" that did nothing


def test_no_rollback_to_the_revision_deployed_now_and_progress_without_the_repeated_name(
    dashboard: Dashboard,
) -> None:
    stack = dashboard.stack
    first = _cli_up(stack)
    stack.write(greeting="second")
    second = stack.commit("second greeting")
    outcome, done, events = dashboard.run("deploy")
    assert outcome == "ok", done
    progress = [data for name, data in events if name == "progress"]
    assert f'<span class="task">deploying {stack.name}</span>: resolving the configuration' in "".join(progress)
    assert not [line for line in progress if f"</span>: {stack.name}:" in line]
    action = dashboard.act("restart")
    assert f'<a href="http://testserver/services/{stack.name}">Back to {stack.name}</a>' in dashboard.get(action)
    dashboard.follow(action)

    page = dashboard.get(f"/services/{stack.name}")
    links = re.findall(r"/rollback\?to=([0-9a-f]+)\">Roll back to this<", page)
    assert links == [first]  # the current deployment and its restart have none
    refused = dashboard.get(f"/services/{stack.name}/rollback?to={second}", status=409)
    assert f"{stack.name}: {second[:12]} is the revision deployed now" in refused
    assert f"Roll back {stack.name}</button>" not in refused
    rows = len(stack.history())
    cli = stack.darse("rollback", stack.name, "--to", second)
    assert cli.returncode == 2 and f"{second[:12]} is the revision deployed now" in cli.stderr
    assert len(stack.history()) == rows
    assert stack.containers()["web"].labels["org.darse.commit"] == second
