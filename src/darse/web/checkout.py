"""The checkout: the branch the dashboard deploys from, the commits its upstream has that it has not
(each with the services it touches), and two actions, fetch and pull.

`/checkout` (a viewer) shows the plan as of the last fetch (`api.plan_pull(fetch=False)`: no network
while a page renders) and the recent pulls Git's reflog recorded. An operator's "Fetch" (POST, CSRF)
asks the remote now, bounded in time, and comes back to the page. "Pull" is confirmed like every
action: GET `/checkout/pull` lists the commits and services, POST (an operator, with the CSRF token
and the upstream commit that page showed) starts `api.pull` in a thread, which fast-forwards to exactly
that commit, and redirects to a progress page that follows the action's events live (the channels and
fragments of `web.actions`/`web.streams`). A pull waits for the dashboard's running actions: a deploy
reads the checkout's files. Git's reflog records who pulled ("darse pull by alice (dashboard)").

After a pull HEAD has moved, so the fleet's cached lint and secrets verdicts (keyed by HEAD, see
`dashboard.fleet.FleetCache`) are computed again on the next fleet page.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from darse import api
from darse.errors import DarseError
from darse.git import FetchFailed
from darse.progress import Event
from darse.web import auth
from darse.web.actions import actions_of, done_html, event_html, follow_action, progress_context, requester
from darse.web.pages import service_url
from darse.web.streams import Action, Actions, Busy

log = logging.getLogger(__name__)

KIND = "pull"
KEY = ""  # the Actions key of a pull: no service folder has an empty name
_HASH = re.compile(r"[0-9a-f]{40,64}")


def _plain(text: str) -> str:
    """Commits, paths and Git's messages hold no secret values: shown as they are (escaped)."""
    return text


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    context = {"service_url": service_url, "running": _running_pull(request), **context}
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


def _running_pull(request: Request) -> Action | None:
    return actions_of(request).running_on(KEY)


async def _plan(request: Request, fetch: bool = False) -> Any:
    start = request.app.state.settings.start
    return await run_in_threadpool(api.plan_pull, start, fetch)


async def _pulls(request: Request) -> list[Any]:
    start = request.app.state.settings.start
    try:
        return await run_in_threadpool(api.recent_pulls, start)
    except DarseError:
        return []


async def _page(request: Request, error: DarseError | None = None, status_code: int = 200) -> Response:
    plan, problem = None, None
    try:
        plan = await _plan(request)
    except DarseError as exc:
        problem = exc
    context = {"plan": plan, "problem": problem, "error": error, "pulls": await _pulls(request)}
    return _render(request, "checkout.html", context, status_code)


async def checkout(request: Request) -> Response:
    auth.require(request, "viewer")
    return await _page(request)


async def fetch(request: Request) -> Response:
    """An operator asks the remote now; the page again (Post/Redirect/Get), or why the fetch failed."""
    auth.require(request, "operator")
    await auth.check_csrf(request)
    try:
        await _plan(request, fetch=True)
    except FetchFailed as exc:
        return await _page(request, error=exc, status_code=502)
    except DarseError as exc:
        return await _page(request, error=exc, status_code=409)
    return RedirectResponse(request.url_for("checkout"), status_code=303)


async def pull(request: Request) -> Response:
    if request.method == "POST":
        return await _start(request)
    auth.require(request, "viewer")
    try:
        plan = await _plan(request)
    except DarseError as exc:
        return _render(request, "checkout_pull.html", {"plan": None, "error": exc}, 409)
    return _render(request, "checkout_pull.html", {"plan": plan, "error": None})


async def _start(request: Request) -> Response:
    """An operator's confirmed pull (CSRF checked first): started, then a redirect to its progress."""
    user = auth.require(request, "operator")
    await auth.check_csrf(request)
    form = await request.form(max_files=0, max_fields=16, max_part_size=16 * 1024)
    target = str(form.get("target") or "")
    if not _HASH.fullmatch(target):
        raise HTTPException(400, "the pull's upstream commit is missing: review the pull again")

    def refused(plan: Any, message: str, hint: str) -> Response:
        error = DarseError(message, hint)
        return _render(request, "checkout_pull.html", {"plan": plan, "error": error}, 409)

    try:
        plan = await _plan(request)
    except DarseError as exc:
        return _render(request, "checkout_pull.html", {"plan": None, "error": exc}, 409)
    if plan.target != target:
        return refused(plan, "the upstream changed since that page was shown", "review the commits below, then pull")
    if plan.refusals:
        return refused(plan, plan.refusals[0].message, plan.refusals[0].hint)
    busy = [a for a in actions_of(request).running() if a.service != KEY]
    if busy:
        first = busy[0]
        return refused(
            plan,
            f"{first.kind} of {first.service} by {first.user} is running and reads the checkout",
            "wait for the dashboard's actions to finish, then pull",
        )
    start = request.app.state.settings.start
    try:
        action = actions_of(request).start(KIND, KEY, user.name, _work(start, plan, requester(user)))
    except Busy as busy_pull:
        running = busy_pull.running
        return refused(plan, f"a pull by {running.user} is running", "wait for it to finish")
    return RedirectResponse(request.url_for("checkout_action", action_id=action.id), status_code=303)


def _work(start: Any, plan: Any, requested_by: str) -> Callable[[Action], None]:
    def run(action: Action) -> None:
        ok, lines, result = False, [f"✘ the pull of {plan.upstream} failed"], None
        try:

            def listener(event: Event) -> None:
                action.channel.publish("progress", event_html(event, _plain))

            pulled = api.pull(start, plan, requested_by=requested_by, listener=listener)
            ok, lines, result = True, pulled.summary_lines(), pulled.to_dict()
            log.info("%s pulled %s: %s..%s", requested_by, plan.branch, pulled.old[:12], pulled.new[:12])
        except DarseError as exc:
            log.info("a pull by %s was refused: %s", requested_by, exc.message)
            lines = [f"✘ {exc.message}", *([f"  hint: {exc.hint}"] if exc.hint else [])]
        except Exception as exc:  # a bug: the page says so, the log has where
            trace = "".join(traceback.format_tb(exc.__traceback__))
            log.error("the pull failed: %s\n%s", type(exc).__name__, trace)
            lines = [f"✘ the pull failed: unexpected {type(exc).__name__} (see the server's log)"]
        finally:
            Actions.finish(action, ok, "done", done_html(ok, lines, result, _plain))

    return run


def _action_of(request: Request) -> Action:
    action = actions_of(request).get(request.path_params["action_id"])
    if action is None or action.kind != KIND or action.service != KEY:
        raise HTTPException(404, "no such pull (the dashboard keeps the recent ones until it restarts)")
    return action


async def progress(request: Request) -> Response:
    auth.require(request, "viewer")
    action = _action_of(request)
    events_url = request.url_for("checkout_action_events", action_id=action.id).path
    return _render(request, "checkout_progress.html", progress_context(action, events_url))


async def events(request: Request) -> Response:
    """`text/event-stream` of the pull's `progress` events, then its `done` event (as `web.actions`)."""
    auth.require(request, "viewer")
    return follow_action(request, _action_of(request))


def routes() -> list[Route]:
    return [
        Route("/checkout", checkout, name="checkout"),
        Route("/checkout/fetch", fetch, methods=["POST"], name="checkout_fetch"),
        Route("/checkout/pull", pull, methods=["GET", "POST"], name="checkout_pull"),
        Route("/checkout/actions/{action_id}", progress, name="checkout_action"),
        Route("/checkout/actions/{action_id}/events", events, name="checkout_action_events"),
    ]
