"""The actions' channels and registry, their fragments, and the checks a POST passes before anything runs
(no engine: every request here is refused or only reads)."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.exceptions import HTTPException
from starlette.testclient import TestClient

from darse.progress import Event
from darse.web import actions, auth
from darse.web.app import ServeSettings, create_app
from darse.web.streams import Action, Actions, Busy, Channel, Message

from helpers.repo import git_init, write_tree
from helpers.web import signed_in

TOKEN = "the-session-token"


async def _collect(channel: Channel, after: int = 0, keepalive: float = 5.0) -> list[Message | None]:
    return [message async for message in channel.follow(after, keepalive=keepalive)]


def test_a_late_subscriber_replays_everything_then_ends_with_the_final_message() -> None:
    channel = Channel()
    channel.publish("progress", "<li>one</li>")
    channel.publish("progress", "<li>two</li>")
    channel.publish("done", "ok", final=True)
    channel.publish("progress", "after the end")  # dropped
    got = asyncio.run(_collect(channel))
    assert [(m.index, m.event, m.data) for m in got] == [
        (0, "progress", "<li>one</li>"),
        (1, "progress", "<li>two</li>"),
        (2, "done", "ok"),
    ]
    assert [m.index for m in asyncio.run(_collect(channel, after=2))] == [2]


def test_a_subscriber_is_woken_by_messages_from_another_thread() -> None:
    channel = Channel()

    async def follow() -> list[Message | None]:
        async def publish_later() -> None:
            def publish() -> None:
                for n in range(50):
                    channel.publish("progress", f"line {n}")
                channel.publish("done", "end", final=True)

            await asyncio.sleep(0.05)
            threading.Thread(target=publish).start()

        task = asyncio.create_task(publish_later())
        got = await _collect(channel, keepalive=30)
        await task
        return got

    got = asyncio.run(follow())
    assert [m.data for m in got if m is not None] == [*(f"line {n}" for n in range(50)), "end"]


def test_an_idle_stream_yields_keepalives_until_the_end() -> None:
    channel = Channel()

    async def follow() -> list[Message | None]:
        got: list[Message | None] = []
        async for message in channel.follow(keepalive=0.01):
            got.append(message)
            if message is None and len([m for m in got if m is None]) == 2:
                channel.publish("done", "end", final=True)
        return got

    got = asyncio.run(follow())
    assert got[:2] == [None, None] and got[-1] is not None and got[-1].event == "done"


def test_a_full_channel_keeps_the_newest_messages() -> None:
    channel = Channel(kept=3)
    for n in range(5):
        channel.publish("progress", str(n))
    messages, closed = channel.since(0)
    assert [m.index for m in messages] == [2, 3, 4] and not closed


def test_a_multi_line_message_is_one_event_of_several_data_lines() -> None:
    text = Message(7, "done", "first\nsecond\r\nthird").encode()
    assert text == "id: 7\nevent: done\ndata: first\ndata: second\ndata: third\n\n"


def test_one_action_per_service_at_a_time() -> None:
    registry = Actions()
    release = threading.Event()

    def work(action) -> None:
        release.wait(10)
        Actions.finish(action, True, "done", "ok")

    first = registry.start("deploy", "wiki", "alice", work)
    with pytest.raises(Busy) as refused:
        registry.start("down", "wiki", "bob", work)
    assert refused.value.running is first
    other = registry.start("restart", "blog", "bob", lambda action: Actions.finish(action, True, "done", "ok"))
    release.set()
    for action in (first, other):
        asyncio.run(_collect(action.channel))  # ends once the work finished
    assert first.outcome == "ok" and registry.running_on("wiki") is None
    again = registry.start("down", "wiki", "bob", lambda action: Actions.finish(action, False, "done", "no"))
    asyncio.run(_collect(again.channel))
    assert again.outcome == "failed" and registry.get(again.id) is again


def test_fragments_are_escaped_and_masked() -> None:
    def mask(text: str) -> str:
        return text.replace("hunter2", "****")

    line = actions.event_html(Event("deploying <wiki>", "password hunter2 <b>"), mask)
    assert "hunter2" not in line and "&lt;b&gt;" in line and "&lt;wiki&gt;" in line
    done = actions.done_html(False, ["✘ wiki: <up> failed hunter2"], {"message": "hunter2"}, mask)
    assert 'data-outcome="failed"' in done and "hunter2" not in done and "&lt;up&gt;" in done


# --- the checks of a POST, before anything runs ---------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An app over a one-service repository, with stand-ins for auth's contract: the role comes from a
    header, the CSRF token is TOKEN (the real auth is tested by its own work)."""
    root = write_tree(tmp_path / "repo", {"wiki/compose.yaml": "services:\n  web:\n    image: busybox:1.36\n"})
    git_init(root)
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))

    def require(request, role: str):
        have = request.headers.get("x-test-role", "operator")
        if role == "operator" and have != "operator":
            raise HTTPException(403, "operators only")
        return SimpleNamespace(name="alice", role=have)

    async def check_csrf(request) -> None:
        form = await request.form()
        if form.get("csrf") != TOKEN and request.headers.get("x-csrf-token") != TOKEN:
            raise HTTPException(403, "CSRF token missing or wrong")

    monkeypatch.setattr(auth, "require", require, raising=False)
    monkeypatch.setattr(auth, "check_csrf", check_csrf, raising=False)
    monkeypatch.setattr(auth, "csrf_token", lambda request: TOKEN)
    app = create_app(ServeSettings(start=root, users_file=tmp_path / "users"))
    with TestClient(app) as test_client:
        signed_in(test_client, tmp_path / "users")  # RequireSignIn lets only a session through
        yield test_client


@pytest.mark.parametrize("kind", actions.KINDS)
def test_a_viewer_cannot_act(client: TestClient, kind: str) -> None:
    answer = client.post(
        f"/services/wiki/{kind}", data={"csrf": TOKEN, "to": "HEAD"}, headers={"x-test-role": "viewer"}
    )
    assert answer.status_code == 403
    assert not hasattr(client.app.state, "actions") or client.app.state.actions.running_on("wiki") is None


@pytest.mark.parametrize("kind", actions.KINDS)
def test_a_post_without_the_csrf_token_is_refused(client: TestClient, kind: str) -> None:
    answer = client.post(f"/services/wiki/{kind}", data={"to": "HEAD"})
    assert answer.status_code == 403


def test_an_unknown_service_or_action_is_not_found(client: TestClient) -> None:
    assert client.get("/services/nope/deploy").status_code == 404
    assert client.post("/services/nope/down", data={"csrf": TOKEN}).status_code == 404
    assert client.get("/services/wiki/actions/nope").status_code == 404
    assert client.get("/services/wiki/actions/nope/events").status_code == 404


def test_a_rollback_needs_a_revision(client: TestClient) -> None:
    assert client.post("/services/wiki/rollback", data={"csrf": TOKEN, "to": ""}).status_code == 400
    assert client.post("/services/wiki/rollback", data={"csrf": TOKEN, "to": "--all"}).status_code == 400


def test_the_rollback_page_says_when_nothing_earlier_is_recorded(client: TestClient) -> None:
    page = client.get("/services/wiki/rollback")
    assert page.status_code == 200
    assert "No earlier successful deployment of wiki is recorded" in page.text
    assert 'action="http://testserver/services/wiki/rollback"' not in page.text  # the header's sign-out form stays


def test_a_service_name_with_carriage_returns_writes_no_event_into_the_progress_stream() -> None:
    """A folder may be named `x\\revent: done\\rdata: <b>`: CR ends a line of Server-Sent Events."""
    from starlette.requests import Request

    action = Action("a1", "deploy", "x\revent: done\rdata: <b>pwned</b>\r", "alice")
    action.channel.publish("done", "<p>ok</p>", final=True)
    request = Request({"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []})
    response = actions.follow_action(request, action)

    async def body() -> str:
        return "".join([chunk if isinstance(chunk, str) else chunk.decode() async for chunk in response.body_iterator])

    lines = re.split(r"\r\n|\r|\n", asyncio.run(body()))
    assert lines[0].startswith(": deploy of x")
    assert [line for line in lines if line.startswith(("event:", "data:"))] == ["event: done", "data: <p>ok</p>"]
