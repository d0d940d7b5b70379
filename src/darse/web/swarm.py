"""The Swarm page (`/swarm`, route `swarm`) and the Scale action of a stack service.

The page shows what `darse.api.swarm_view` returns: each Swarm target's nodes (role, availability,
state), the services of the repository's stacks with their replicas, rolling update and tasks. It
follows the managers live: `/swarm/events` (route `swarm_events`) is a Server-Sent Events stream of
`swarm` events, each the page's body re-rendered, sent when a manager announces a service, node or task
container change (`darse.api.follow_swarm`). Tasks on other nodes announce nothing to the manager, so
while something still moves (a rolling update, replicas not yet there) the body is also read again every
`MOVING_POLL` seconds; once everything has converged only events wake it.

Scale is an action like deploy or restart (`darse.web.actions`, registered as `scale`): GET
`/services/{folder}/scale?member=web&replicas=3` shows what changes (1 → 3), the operator's POST (CSRF
checked) runs `darse.api.stack_scale` in a thread with live progress; the library takes the project's
lock (shared with the command line) and records the scale in the history with the user who asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from darse import api
from darse.errors import DarseError
from darse.web import actions, auth
from darse.web.common import event_stream, open_context, per_app, render, sse

KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing an idle stream
MOVING_POLL = 2.0  # seconds between reads while an update or a scale is still converging
DEBOUNCE = 0.3  # a burst of events (a rolling update's tasks) is one re-render
SCALE_TIMEOUT = 120.0  # seconds the action waits for the replicas to run
MAX_STREAMS = 32  # Swarm pages followed at once (each holds a subscription and a thread per manager)


def _view(request: Request) -> Any:
    """The view model, or the DarseError that says why there is none (a broken checkout)."""
    try:
        return api.swarm_view(open_context(request))
    except DarseError as exc:
        return exc


async def swarm(request: Request) -> Response:
    auth.require(request, "viewer")
    view = await run_in_threadpool(_view, request)
    if isinstance(view, DarseError):
        return render(request, "swarm.html", {"view": None, "problem": view}, status_code=503)
    return render(request, "swarm.html", {"view": view, "problem": None})


async def swarm_events(request: Request) -> Response:
    """`text/event-stream`: a `swarm` event (the page's body) after every change the managers announce,
    and every MOVING_POLL seconds while something converges; keep-alive comments otherwise."""
    auth.require(request, "viewer")
    loop = asyncio.get_running_loop()
    changes: asyncio.Queue[object] = asyncio.Queue()
    body = request.app.state.templates.get_template("_swarm_body.html")

    def subscribe() -> list[Any]:
        try:
            return api.follow_swarm(open_context(request))
        except DarseError:
            return []

    def pump(stream: Any) -> None:  # one thread per manager: its blocking reads hand over to the loop
        with contextlib.suppress(Exception):  # the stream broke or was closed: the page keeps what it shows
            for change in stream:
                loop.call_soon_threadsafe(changes.put_nowait, change)

    def body_html() -> tuple[str, bool]:
        view = _view(request)
        if isinstance(view, DarseError):
            return "", False
        return body.render({"request": request, "view": view}), view.moving

    async def stream():
        followed = per_app(request, "swarm_streams", set)  # on the event loop: the check and the add are one step
        if len(followed) >= MAX_STREAMS:
            yield f": {MAX_STREAMS} Swarm pages are followed already: this one is not live, reload it later\n"
            yield "retry: 60000\n\n"  # an EventSource asks again in a minute, not in three seconds
            return
        place = object()
        followed.add(place)
        streams: list[Any] = []
        try:
            streams = await run_in_threadpool(subscribe)
            state = request.app.state  # how many pages subscribed (the tests' probe)
            state.swarm_subscriptions = getattr(state, "swarm_subscriptions", 0) + len(streams)
            for each in streams:
                threading.Thread(target=pump, args=(each,), name="darse-swarm-events", daemon=True).start()
            moving = request.query_params.get("moving") == "1"
            yield ": following the Swarm\n\n"
            while auth.still_signed_in(request):  # signed out, removed: the page stops following
                try:
                    await asyncio.wait_for(changes.get(), MOVING_POLL if moving else KEEPALIVE_SECONDS)
                    await asyncio.sleep(DEBOUNCE)
                    while not changes.empty():
                        changes.get_nowait()
                except TimeoutError:
                    if not moving:
                        yield ": keep-alive\n\n"
                        continue
                html, moving = await run_in_threadpool(body_html)
                if html:
                    yield sse("swarm", html)
        finally:
            followed.discard(place)
            for each in streams:
                with contextlib.suppress(Exception):
                    each.close()

    return event_stream(stream())


# --- scale: a confirmed action on actions.py's machinery --------------------------------------------------


def _member(value: Any) -> str:
    """A stack member's name as the form gives it: a Compose service name, nothing that reads as a path."""
    member = str(value or "").strip()
    if len(member) > 200 or "/" in member or member.startswith("-"):
        raise DarseError(f"{member[:40]!r} is not a service of a stack", "choose a service on the Swarm page")
    return member


def _text(service: str, member: str) -> str:
    return f"{service}/{member}" if member else service


async def scale(request: Request) -> Response:
    name = request.path_params["name"]
    if request.method == "POST":
        return await _start_scale(request, name)
    auth.require(request, "viewer")
    query = request.query_params
    try:
        member = _member(query.get("member"))
        wanted = query.get("replicas")
        replicas = api.check_replicas(wanted) if wanted not in (None, "") else None
    except DarseError as exc:
        return _confirm(request, name, query.get("member") or "", None, 400, error=exc)
    try:
        service, plan = await actions.read(
            request, name, lambda ctx, svc: api.plan_stack_scale(ctx, _text(svc, member), replicas)
        )
    except DarseError as exc:
        return _confirm(request, name, member, None, 409, error=exc)
    return _confirm(request, service, member, plan)


async def _start_scale(request: Request, name: str) -> Response:
    """The operator's confirmed POST: a bad count is a 400 page saying why, before anything starts."""
    auth.require(request, "operator")
    await auth.check_csrf(request)
    form = await request.form(max_files=0, max_fields=16, max_part_size=16 * 1024)  # cached by the CSRF check
    try:
        member = _member(form.get("member"))
        replicas = api.check_replicas(form.get("replicas"))
    except DarseError as exc:
        return _confirm(request, name, str(form.get("member") or "")[:200], None, 400, error=exc)
    return await actions.start(request, "scale", name, lambda _form: {"member": member, "replicas": str(replicas)})


def _confirm(
    request: Request, service: str, member: str, plan: Any, status_code: int = 200, error: DarseError | None = None
) -> Response:
    running = actions.running_on(request, service)
    return render(
        request,
        "swarm_scale.html",
        {"service": service, "member": member, "plan": plan, "error": error, "running": running},
        status_code,
    )


def _run_scale(ctx: Any, name: str, params: dict[str, str], listener: Any) -> tuple[bool, list[str], Any]:
    """In the action's thread: the library's scale, waited for; the lines the CLI prints."""
    text = _text(name, params["member"])
    result = api.stack_scale(ctx, text, int(params["replicas"]), timeout=SCALE_TIMEOUT, listener=listener)
    return result.ok, result.summary_lines(), result.to_dict()


actions.register("scale", "Scale", _run_scale)


def routes() -> list[Route]:
    return [
        Route("/swarm", swarm, name="swarm"),
        Route("/swarm/events", swarm_events, name="swarm_events"),
        Route("/services/{name:path}/scale", scale, methods=["GET", "POST"], name="scale"),
    ]
