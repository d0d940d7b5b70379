"""The Swarm page and the Scale action on the real three-node Swarm, with an image pushed to its registry:
the page shows every node and the deployed stack's service, a scale confirmed and posted in
the dashboard converges on the Swarm and is recorded in the history with the user who asked, and a lock
held elsewhere (the command line) refuses it. A browser follows a scale made from the command line live."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from starlette.testclient import TestClient

from darse.history import History
from darse.state import project_lock
from darse.web.app import ServeSettings, create_app

from helpers.browser import browser_fixture, page_fixture, served  # noqa: F401  (fixtures)
from helpers.repo import git_init, write_tree
from helpers.swarm_nodes import Cluster, wait_until
from helpers.web import add_test_user, signed_in

LIVE = 90_000  # ms: tasks starting on a shared machine; the test asserts what, not how fast


@dataclass
class Deployed:
    root: Path
    name: str  # the folder, its stack and its Compose project
    state: Path

    @property
    def service(self) -> str:
        return f"{self.name}_web"

    def darse(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "DARSE_STATE_DIR": str(self.state)}
        return subprocess.run(
            [sys.executable, "-m", "darse", *args], cwd=self.root, capture_output=True, text=True, env=env, check=False
        )

    def history(self) -> list:
        history = History(self.state)
        try:
            return history.list(self.name)
        finally:
            history.close()


def _running(client: docker.DockerClient, service: str) -> int:
    tasks = client.api.tasks(filters={"service": service, "desired-state": "running"})
    return sum(1 for t in tasks if t["Status"]["State"] == "running")


@pytest.fixture(scope="module")
def deployed(swarm_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """A folder deployed as a stack of one service (`web`, 1 replica) whose image is in the cluster's registry."""
    swarm = swarm_cluster.manager
    unique = uuid.uuid4().hex[:8]
    name = f"swweb{unique}"
    ref = swarm_cluster.busybox(f"darse-swarmweb-{unique}:1.0")
    root = write_tree(
        tmp_path_factory.mktemp("swarm-web") / "repo",
        {
            "darse.toml": f'[targets.cluster]\nkind = "swarm"\n[services."{name}"]\ntarget = "cluster"\n',
            f"{name}/compose.yaml": f"""
            services:
              web:
                image: {ref}
                init: true
                command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
                deploy:
                  replicas: 1
                  restart_policy:
                    condition: any
            """,
            f"{name}/README.md": "# web\n",
        },
    )
    git_init(root)
    stack = Deployed(root, name, root.parent / "state")
    try:
        first = stack.darse("stack", "deploy", name, "--force", "--timeout", "120")
        assert first.returncode == 0, first.stdout + first.stderr
        yield stack
    finally:
        subprocess.run(["docker", "stack", "rm", name], capture_output=True, check=False)
        wait_until(lambda: not swarm.api.services(filters={"label": f"com.docker.stack.namespace={name}"}), 60)
        subprocess.run(["docker", "image", "rm", ref], capture_output=True, check=False)


@pytest.fixture
def operator(deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("DARSE_STATE_DIR", str(deployed.state))
    app = create_app(ServeSettings(start=deployed.root, users_file=tmp_path / "users"))
    with TestClient(app) as client:
        client.csrf = signed_in(client, tmp_path / "users", "otto", "operator")
        yield client


def _scale(client: TestClient, stack: Deployed, replicas: int) -> tuple[str, str]:
    """POST a confirmed scale and follow its stream to the end: (outcome, the final fragment)."""
    answer = client.post(
        f"/services/{stack.name}/scale",
        data={"csrf": client.csrf, "member": "web", "replicas": str(replicas)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    events = client.get(answer.headers["location"] + "/events").text
    final = events.rsplit("event: done", 1)[-1]
    outcome = re.search(r'data-outcome="(ok|failed)"', final)
    assert outcome is not None, events
    return outcome.group(1), final


def test_the_page_shows_the_node_and_the_stack_and_a_scale_converges_recorded(
    operator: TestClient, deployed: Deployed, swarm: docker.DockerClient, swarm_cluster: Cluster
) -> None:
    hostname = swarm.info()["Name"]
    page = operator.get("/swarm")
    assert page.status_code == 200, page.text
    for worker in swarm_cluster.workers:  # every node, the workers as workers
        row = re.search(rf'<tr class="node" data-node="{worker.hostname}">.*?</tr>', page.text, re.S)
        assert row and 'class="role">worker<' in row.group(0), page.text
    node = re.search(rf'<tr class="node" data-node="{re.escape(hostname)}">.*?</tr>', page.text, re.S)
    assert node, page.text
    for cell in ('class="role">manager<', ">active<", ">ready<", 'class="manager">leader<'):
        assert cell in node.group(0), node.group(0)
    row = re.search(rf'<tr class="swarm-service" data-service="{deployed.service}">.*?</tr>', page.text, re.S)
    assert row and ">1/1<" in row.group(0), page.text

    confirm = operator.get(f"/services/{deployed.name}/scale", params={"member": "web", "replicas": "2"})
    assert re.search(r'class="scale-current">1</strong>.*class="scale-new">2</strong>', confirm.text, re.S)

    outcome, final = _scale(operator, deployed, 2)
    assert outcome == "ok", final
    assert f"{deployed.name}/web: scaled 1 → 2" in final and "converged (2/2 running)" in final
    assert _running(swarm, deployed.service) == 2
    record = deployed.history()[0]
    assert (record.action, record.outcome, record.user, record.message) == (
        "scale",
        "success",
        "otto (dashboard)",
        "web: 1 → 2",
    )
    assert record.revision == deployed.history()[1].revision  # the deployed revision, unchanged
    row = re.search(rf'data-service="{deployed.service}">.*?</tr>', operator.get("/swarm").text, re.S)
    assert row and ">2/2<" in row.group(0)

    # a scale started elsewhere holds the project's lock: the dashboard's is refused and changes nothing
    with project_lock(deployed.state, deployed.name):
        outcome, final = _scale(operator, deployed, 1)
    assert outcome == "failed" and f"another darse is deploying {deployed.name} on this host" in final
    assert swarm.api.inspect_service(deployed.service)["Spec"]["Mode"]["Replicated"]["Replicas"] == 2


def test_the_page_follows_a_scale_from_the_command_line_live(
    page, deployed: Deployed, swarm: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    monkeypatch.setenv("DARSE_STATE_DIR", str(deployed.state))
    users = tmp_path / "users"
    password = add_test_user(users, "vera", "viewer")
    app = create_app(ServeSettings(start=deployed.root, users_file=users, secret_key="swarm-live-" + "k" * 32))
    with served(app) as url:
        page.goto(url + "/swarm")
        page.get_by_label("User name").fill("vera")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(url + "/swarm")
        row = page.locator(f'tr[data-service="{deployed.service}"] td.replicas')
        current = swarm.api.inspect_service(deployed.service)["Spec"]["Mode"]["Replicated"]["Replicas"]
        expect(row).to_contain_text(f"{current}/{current}", timeout=LIVE)
        page.evaluate("window.darseNoReload = true")  # gone if the page ever reloads
        for _ in range(300):  # the page's stream subscribed to the manager's events: no change missed
            if getattr(app.state, "swarm_subscriptions", 0):
                break
            page.wait_for_timeout(100)
        assert app.state.swarm_subscriptions == 1

        wanted = current + 1
        scaled = deployed.darse("stack", "scale", f"{deployed.name}/web={wanted}", "--timeout", "120")
        assert scaled.returncode == 0, scaled.stdout + scaled.stderr
        expect(row).to_contain_text(f"{wanted}/{wanted}", timeout=LIVE)
        assert page.evaluate("window.darseNoReload") is True
    record = deployed.history()[0]
    assert (record.action, record.outcome, record.message) == ("scale", "success", f"web: {current} → {wanted}")
    assert "(dashboard)" not in record.user  # the command line names the OS user


def _desired(client: docker.DockerClient, service: str) -> int:
    return client.api.inspect_service(service)["Spec"]["Mode"]["Replicated"]["Replicas"]


def _post(client: TestClient, path: str) -> str:
    """A confirmed POST followed to its end: the stream's text."""
    answer = client.post(path, data={"csrf": client.csrf}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert (
        f'href="http://testserver/services/{path.split("/")[2]}">Back to' in client.get(answer.headers["location"]).text
    )
    return client.get(answer.headers["location"] + "/events").text


def test_a_deploy_says_which_scale_it_undoes_and_a_stack_is_brought_down_once(
    operator: TestClient, deployed: Deployed, swarm: docker.DockerClient
) -> None:
    """Last in this module: it removes the stack."""
    from darse import api

    name = deployed.name
    page = operator.get(f"/services/{name}")
    nav = re.search(r'<nav class="actions".*?</nav>', page.text, re.S)
    assert nav and "Scale…" in nav.group(0) and "Restart…" not in nav.group(0)

    # scaled by hand, then the deploy: the confirmation and the progress say what it puts back
    assert deployed.darse("stack", "scale", f"{name}/web=3", "--timeout", "120").returncode == 0
    confirm = operator.get(f"/services/{name}/deploy")
    assert "web: replicas: 3 now → 1 from the Compose file" in confirm.text
    events: list = []
    ctx = api.open_deployments(deployed.root)
    try:
        report = api.up(ctx, [name], force=True, timeout=120, listener=events.append)
    finally:
        ctx.history.close()
    assert report.ok
    details = [event.detail for event in events if event.detail]
    assert "web: replicas: 3 now → 1 from the Compose file" in details
    assert details.index("web: replicas: 3 now → 1 from the Compose file") < details.index("docker stack deploy")
    assert all(a != b for a, b in itertools.pairwise(details)), details  # a replica line only when it changes
    assert "   web: replicas: 3 now → 1 from the Compose file" in report.summary_lines()
    assert _desired(swarm, deployed.service) == 1  # what the deploy does is unchanged

    # the command line prints it too
    assert deployed.darse("stack", "scale", f"{name}/web=2", "--timeout", "120").returncode == 0
    cli = deployed.darse("stack", "deploy", name, "--force", "--timeout", "120")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "web: replicas: 2 now → 1 from the Compose file" in cli.stdout

    # down: the stack is named, its progress says `docker stack rm`; then there is nothing to bring down
    confirm = operator.get(f"/services/{name}/down")
    assert f"its stack <code>{name}</code> is removed (web)" in confirm.text
    stream = _post(operator, f"/services/{name}/down")
    assert f"docker stack rm {name} (volumes kept)" in stream and "docker compose down" not in stream
    assert 'data-outcome="ok"' in stream
    assert not swarm.api.services(filters={"label": f"com.docker.stack.namespace={name}"})
    again = operator.get(f"/services/{name}/down")
    assert f"Nothing to bring down: {name} is not deployed as a stack" in again.text
    assert f"Bring down {name}</button>" not in again.text
    cli = deployed.darse("down", name)
    assert cli.returncode == 2 and "nothing to bring down" in cli.stderr
    assert [r.action for r in deployed.history()].count("down") == 1
