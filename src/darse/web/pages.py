"""The read-only pages: the fleet (`/`, route `fleet`) and one service (`/services/{name}`, route `service`).

Each page asks the library once (`darse.api.fleet`, `darse.api.service_view`) in a worker thread and
renders the view model; nothing is decided here. Every page is for a signed-in user with at least the
`viewer` role. The lint and secrets verdicts are kept in one `FleetCache` per application (on
`app.state`), so the fleet page costs one `darse status` once they are computed for the checkout.

`app.state.open_deployments`, when set, replaces `darse.api.open_deployments` (a callable from the
checkout folder to a `DeployContext`): tests and benchmarks give an engine of their own that way.

The fleet follows the engine live: `/fleet/events` (route `fleet_events`) is a Server-Sent Events
stream of `row` events, each a re-rendered `<tr>` the page swaps in by its id, sent when the process's
one `FleetWatcher` (on `app.state`) says the engine changed that service's containers. Nothing polls,
but for one case: a row sent as `deploying` is built again every DEPLOYING_RECHECK_SECONDS until it is not
(the action's end, its lock released, is no engine event).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from darse import api
from darse.dashboard.fleet import FleetCache, fleet_rows
from darse.dashboard.watch import ALL, FleetWatcher, fleet_engines
from darse.deploy.status import DEPLOYING
from darse.errors import DarseError
from darse.web import auth
from darse.web.common import event_stream, open_context, per_app, render, sse, unknown_service

STATE_WORDS = {
    "in-sync": "in sync",
    "drift": "drift",
    "degraded": "degraded",
    "not-deployed": "not deployed",
    "down": "down",
    "deploying": "deploying",
    "unreachable": "unreachable",
    "unknown": "unknown",
}


def fleet_cache(request: Request) -> FleetCache:
    """The application's cache of lint and secrets verdicts."""
    return per_app(request, "fleet_cache", FleetCache)


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return render(request, name, {"state_words": STATE_WORDS, "service_url": service_url, **context}, status_code)


def service_url(request: Request, name: str) -> str:
    """The page of a service; folder names may hold characters a URL path must escape."""
    return str(request.url_for("service", name=quote(name, safe="/")).path)


async def fleet(request: Request) -> Response:
    auth.require(request, "viewer")
    cache = fleet_cache(request)

    def build() -> Any:
        return api.fleet(open_context(request), cache)

    try:
        summary = await run_in_threadpool(build)
    except DarseError as exc:  # no service in the checkout, a broken darse.toml: the page says why
        return _render(request, "fleet.html", {"fleet": None, "problem": exc}, status_code=503)
    return _render(request, "fleet.html", {"fleet": summary, "problem": None})


async def service(request: Request) -> Response:
    auth.require(request, "viewer")
    name = request.path_params["name"].strip("/")
    cache = fleet_cache(request)

    def build() -> Any:
        ctx = open_context(request)
        missing = unknown_service(ctx, name)
        if missing:
            return missing, []
        return api.service_view(ctx, name, cache), _rollback_targets(ctx, name)

    try:
        view, targets = await run_in_threadpool(build)
    except DarseError as exc:
        return _render(request, "fleet.html", {"fleet": None, "problem": exc}, status_code=503)
    if isinstance(view, DarseError):
        return _render(request, "not_found.html", {"name": name, "problem": view}, status_code=404)
    return _render(request, "service.html", {"view": view, "row": view.row, "rollback_targets": targets})


def _rollback_targets(ctx: Any, name: str) -> list[str]:
    """The history's revisions that a rollback accepts (the rows linked "Roll back to this")."""
    try:
        return api.plan_rollback(ctx, name).targets
    except DarseError:  # the history cannot be read: the page says so in its history section
        return []


KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing an idle stream
DEPLOYING_RECHECK_SECONDS = 2.0  # a `deploying` row is built again this often until its action ends


def _watcher(request: Request) -> FleetWatcher:
    """The application's one watcher, made on first use (on the event loop: no race). It subscribes to
    the engines while at least one fleet page follows it, and stops when the last one goes away."""
    state = request.app.state
    watcher = getattr(state, "fleet_watcher", None)
    if watcher is None:
        app = request.app

        def engines() -> Any:
            opener = getattr(app.state, "open_deployments", None) or api.open_deployments
            return fleet_engines(opener(app.state.settings.start))

        watcher = state.fleet_watcher = FleetWatcher(engines)
    return watcher


async def fleet_events(request: Request) -> Response:
    """`text/event-stream`: a `row` event (the service's `<tr>`, swapped in by its id) for every service
    the engine says changed; a keep-alive comment when nothing happens. Ends when the visitor leaves."""
    auth.require(request, "viewer")
    watcher = _watcher(request)
    cache = fleet_cache(request)
    templates = request.app.state.templates
    loop = asyncio.get_running_loop()
    notices: asyncio.Queue[frozenset[str]] = asyncio.Queue()

    def on_notice(notice: frozenset[str]) -> None:  # the watcher's thread: hand over to this loop
        loop.call_soon_threadsafe(notices.put_nowait, notice)

    def rows(projects: frozenset[str] | None) -> tuple[list[str], frozenset[str]]:
        """The rows' HTML, and the projects among them still `deploying`."""
        try:
            summary = fleet_rows(open_context(request), projects, cache) if projects is not None else None
            if summary is None:
                summary = api.fleet(open_context(request), cache)
        except DarseError:  # the checkout broke meanwhile: the rows stay as they are until a reload says why
            return [], frozenset()
        template = templates.get_template("_fleet_row.html")
        context = {"request": request, "state_words": STATE_WORDS, "service_url": service_url, "oob": True}
        deploying = frozenset(row.project for row in summary.rows if row.state == DEPLOYING)
        return [template.render({**context, "row": row}) for row in summary.rows], deploying

    # The end of an action is no engine event (its lock is released after the containers' last change):
    # a row shown `deploying` is built again a little later, until it is not, so it never stays so.
    rechecks: set[str] = set()

    def recheck(projects: frozenset[str]) -> None:
        rechecks.difference_update(projects)
        notices.put_nowait(projects)

    if request.headers.get("last-event-id") is not None:  # a page reconnecting may have missed changes
        notices.put_nowait(frozenset({ALL}))

    async def stream():
        unsubscribe = watcher.subscribe(on_notice)
        try:
            yield ": following the fleet\nid: live\n\n"  # an id: a reconnecting EventSource says so
            while auth.still_signed_in(request):  # signed out, removed: the page stops following
                try:
                    notice = await asyncio.wait_for(notices.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                while not notices.empty():  # notices that came while the last rows were built: one pass
                    notice |= notices.get_nowait()
                htmls, deploying = await run_in_threadpool(rows, None if ALL in notice else notice)
                for html in htmls:
                    yield sse("row", html)
                if deploying - rechecks:
                    rechecks.update(deploying)
                    loop.call_later(DEPLOYING_RECHECK_SECONDS, recheck, deploying)
        finally:
            unsubscribe()  # the last visitor gone: the watcher closes its stream (without waiting here)

    return event_stream(stream())


def routes() -> list[Route]:
    return [
        Route("/", fleet, name="fleet"),
        Route("/fleet/events", fleet_events, name="fleet_events"),
        Route("/services/{name:path}", service, name="service"),
    ]
