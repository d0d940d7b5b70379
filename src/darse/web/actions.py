"""Actions on a service: deploy at HEAD, roll back, restart, down; each confirmed, then run with live progress.

Every action is two requests. GET shows what would change (for a deploy the masked `darse diff`, the
commits and what the preflight would refuse; for a rollback the target revision; for down and restart
the containers), computed by the same library calls as the CLI (`darse.api.plan_*`). POST (an operator,
with the session's CSRF token) starts the library call (`api.up`, `api.rollback`, `api.down`,
`api.restart`) in a thread and answers with a redirect to the action's progress page, which follows the
action's `darse.progress` events as Server-Sent Events (htmx's SSE extension) until a final `done`
event carrying the outcome and the result lines the CLI would print.

What the web adds to the library: nothing decides differently. No `--force`, no `--allow-dirty`, no
`--volumes` from here; the history records the signed-in user (`requested_by`); one action per service
at a time in this process (`streams.Actions`), and the library's project lock refuses one started
elsewhere (its message is the outcome). Secret values: the library masks what it reports; every line
streamed is masked again with the service's secrets before it leaves.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from darse import api
from darse.errors import DarseError
from darse.masking import masker_for_compose
from darse.progress import Event
from darse.web import auth
from darse.web.common import event_stream, per_app, resume_index, sse_comment
from darse.web.streams import Action, Actions, Busy

if TYPE_CHECKING:
    from darse.deploy.context import DeployContext

log = logging.getLogger(__name__)

DEPLOY_TIMEOUT = 120.0  # seconds a deploy, rollback or restart waits for healthy containers (the CLI's default)
KINDS = ("deploy", "rollback", "restart", "down")
TITLES = {"deploy": "Deploy", "rollback": "Roll back", "restart": "Restart", "down": "Bring down"}


# --- the auth contract (darse.web.auth); until it lands, these stand in -----------------------------


def requester(user: Any) -> str:
    """How the history names a dashboard user: apart from the OS users of the command line."""
    return f"{user.name} (dashboard)"


# --- helpers ------------------------------------------------------------------------------------------


def actions_of(request: Request) -> Actions:
    """The application's running and recent actions (deploys, scales, pulls: one per folder at a time)."""
    return per_app(request, "actions", Actions)


def _start_folder(request: Request) -> Path:
    return request.app.state.settings.start


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


async def _read(request: Request, name: str, work: Callable[[DeployContext, str], Any]) -> tuple[str, Any]:
    """(the service's name, `work(ctx, name)`) in a worker thread (the library blocks; the history's SQLite
    connection stays in the thread that opened it). An unknown service is a 404."""
    start = _start_folder(request)

    def run() -> tuple[str, Any]:
        ctx = api.open_deployments(start)
        try:
            try:
                service = ctx.service(name).name
            except DarseError as exc:
                raise HTTPException(404, exc.one_line()) from None
            return service, work(ctx, service)
        finally:
            _close(ctx)

    return await run_in_threadpool(run)


def _close(ctx: DeployContext) -> None:
    if "history" in ctx.__dict__:
        ctx.history.close()


def _confirm(request: Request, kind: str, service: str, status_code: int = 200, **context: Any) -> Response:
    running = actions_of(request).running_on(service)
    return _render(
        request,
        "confirm.html",
        {
            "kind": kind,
            "title": TITLES[kind],
            "service": service,
            "running": running,
            "action_url": request.url_for(kind, name=service),
            **context,
        },
        status_code,
    )


# --- confirmation pages (GET) and starting (POST) ------------------------------------------------------


async def deploy(request: Request) -> Response:
    name = request.path_params["name"]
    if request.method == "POST":
        return await _start(request, "deploy", name)
    auth.require(request, "viewer")
    try:
        service, plan = await _read(request, name, api.plan_deploy)
    except DarseError as exc:
        return _confirm(request, "deploy", name, 409, error=exc.one_line())
    return _confirm(request, "deploy", service, plan=plan, ready=not plan.refusals)


async def rollback(request: Request) -> Response:
    name = request.path_params["name"]
    if request.method == "POST":
        return await _start(request, "rollback", name, _rollback_target)
    auth.require(request, "viewer")
    to = request.query_params.get("to") or None
    try:
        service, plan = await _read(request, name, lambda ctx, svc: api.plan_rollback(ctx, svc, to=to))
    except DarseError as exc:
        return _confirm(request, "rollback", name, 409, error=exc.one_line())
    return _confirm(request, "rollback", service, plan=plan, ready=bool(plan.target), fields={"to": plan.target})


async def restart(request: Request) -> Response:
    return await _stop_like(request, "restart")


async def down(request: Request) -> Response:
    return await _stop_like(request, "down")


async def _stop_like(request: Request, kind: str) -> Response:
    name = request.path_params["name"]
    if request.method == "POST":
        return await _start(request, kind, name)
    auth.require(request, "viewer")
    try:
        service, plan = await _read(request, name, api.plan_down)
    except DarseError as exc:
        return _confirm(request, kind, name, 409, error=exc.one_line())
    # a restart is for Compose targets; a down needs something to remove (the library refuses it too)
    ready = bool(plan.members) if kind == "down" and plan.on_swarm else bool(plan.containers) and not plan.on_swarm
    return _confirm(request, kind, service, plan=plan, ready=ready)


def _rollback_target(form: Any) -> dict[str, str]:
    to = str(form.get("to") or "").strip()
    if not to or to.startswith("-") or len(to) > 200:
        raise HTTPException(400, "choose the revision to roll back to")
    return {"to": to}


def _no_params(_form: Any) -> dict[str, str]:
    return {}


async def _start(
    request: Request, kind: str, name: str, parse: Callable[[Any], dict[str, str]] = _no_params
) -> Response:
    """An operator's confirmed POST (CSRF checked first): the action started, a redirect to its progress."""
    user = auth.require(request, "operator")
    await auth.check_csrf(request)
    # the form was read (and cached) by the CSRF check, with the same limits
    params = parse(await request.form(max_files=0, max_fields=16, max_part_size=16 * 1024))
    service, _ = await _read(request, name, lambda _ctx, _svc: None)
    work = _work(_start_folder(request), kind, service, params, requester(user))
    try:
        action = actions_of(request).start(kind, service, user.name, work)
    except Busy as busy:
        return _confirm(
            request,
            kind,
            service,
            409,
            error=f"{busy.running.kind} of {service} by {busy.running.user} is running; wait for it to finish",
        )
    return RedirectResponse(request.url_for("action", name=service, action_id=action.id), status_code=303)


# --- the action in its thread --------------------------------------------------------------------------


def _work(start: Path, kind: str, name: str, params: dict[str, str], requested_by: str) -> Callable[[Action], None]:
    def run(action: Action) -> None:
        channel = action.channel
        mask: Callable[[str], str] = lambda text: text  # noqa: E731  (until the service's secrets are read)
        ok, lines, result = False, [], None
        ctx = None
        try:
            ctx = api.open_deployments(start, requested_by=requested_by)
            service = ctx.service(name)
            mask = masker_for_compose(service.compose_path).text

            def listener(event: Event) -> None:
                channel.publish("progress", event_html(event, mask))

            ok, lines, result = RUNNERS[kind](ctx, name, params, listener)
        except DarseError as exc:
            lines = [f"✘ {exc.message}", *([f"  hint: {exc.hint}"] if exc.hint else [])]
        except Exception as exc:  # a bug: the page says so, the log has where (not the message: it may quote a value)
            log.error(
                "%s of %s failed: %s\n%s",
                kind,
                name,
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            lines = [f"✘ {kind} of {name} failed: unexpected {type(exc).__name__} (see the server's log)"]
        finally:
            if ctx is not None:
                _close(ctx)
            try:
                final = done_html(ok, lines, result, mask)
            except Exception:  # the action must end whatever happens: its service is free again
                final = done_html(False, [f"✘ {kind} of {name}: its result could not be shown"], None, mask)
            Actions.finish(action, ok, "done", final)

    return run


Runner = Callable[["DeployContext", str, dict[str, str], Callable[[Event], None]], tuple[bool, list[str], Any]]


def _run_deploy(ctx: DeployContext, name: str, _params: dict[str, str], listener: Callable[[Event], None]):
    report = api.up(ctx, [name], timeout=DEPLOY_TIMEOUT, listener=listener)
    return report.ok, report.summary_lines(), report.to_dict()


def _run_rollback(ctx: DeployContext, name: str, params: dict[str, str], listener: Callable[[Event], None]):
    report = api.rollback(ctx, name, to=params["to"], timeout=DEPLOY_TIMEOUT, listener=listener)
    return report.ok, report.summary_lines(), report.to_dict()


def _run_down(ctx: DeployContext, name: str, _params: dict[str, str], listener: Callable[[Event], None]):
    result = api.down(ctx, name, volumes=False, listener=listener)
    return result.ok, down_lines(result), result.to_dict()


def _run_restart(ctx: DeployContext, name: str, _params: dict[str, str], listener: Callable[[Event], None]):
    result = api.restart(ctx, name, timeout=DEPLOY_TIMEOUT, listener=listener)
    return result.ok, restart_lines(result), result.to_dict()


RUNNERS: dict[str, Runner] = {
    "deploy": _run_deploy,
    "rollback": _run_rollback,
    "down": _run_down,
    "restart": _run_restart,
}


# --- actions defined elsewhere in the web layer (web.swarm's scale), on this same machinery -------------


def register(kind: str, title: str, runner: Runner) -> None:
    """Add an action: its routes are named `kind` (the confirmation) like the others, its progress page is
    titled `title`, `runner` does it in the action's thread. Confirm, lock, stream and history as here."""
    TITLES[kind] = title
    RUNNERS[kind] = runner


async def start(request: Request, kind: str, name: str, parse: Callable[[Any], dict[str, str]]) -> Response:
    """Start a registered action from its confirmed POST (operator, CSRF): see `_start`."""
    return await _start(request, kind, name, parse)


def running_on(request: Request, service: str) -> Action | None:
    """The dashboard's action running on `service`, if any (its confirmation pages say so)."""
    return actions_of(request).running_on(service)


async def read(request: Request, name: str, work: Callable[[DeployContext, str], Any]) -> tuple[str, Any]:
    """`work(ctx, service)` in a worker thread for a confirmation page: see `_read`."""
    return await _read(request, name, work)


# --- results as the CLI prints them ---------------------------------------------------------------------


def down_lines(result: Any) -> list[str]:
    if result.on_swarm:
        return [f"✔ {result.service}: stack {result.project} removed (volumes kept)"]
    if result.ok:
        return [f"✔ {result.service}: stopped (volumes kept)"]
    return [f"✘ {result.service}: docker compose down failed", *result.output[-2000:].splitlines()]


def restart_lines(result: Any) -> list[str]:
    if result.ok:
        running = sum(c.running for c in result.containers)
        return [f"✔ {result.service}: restarted ({running}/{len(result.containers)} running)"]
    return [f"✘ {result.service}: docker compose restart failed", *result.output[-2000:].splitlines()]


# --- the fragments streamed (HTML: htmx swaps them in as they come) -------------------------------------


def event_html(event: Event, mask: Callable[[str], str]) -> str:
    detail = "done" if event.done else mask(event.detail)
    cls = "event done" if event.done else "event"
    return str(Markup('<li class="{}"><span class="task">{}</span>: {}</li>').format(cls, mask(event.task), detail))


def done_html(ok: bool, lines: list[str], result: Any, mask: Callable[[str], str]) -> str:
    """The final fragment: the outcome (`data-outcome` ok or failed), the CLI's lines, the JSON result."""
    outcome = "ok" if ok else "failed"
    heading = "Succeeded" if ok else "Failed"
    text = mask("\n".join(lines))
    html = Markup(
        '<section class="outcome {0}" data-outcome="{0}" role="status"><h2>{1}</h2><pre class="result">{2}</pre>'
    ).format(outcome, heading, text)
    if result is not None:
        document = mask(json.dumps(result, indent=2, sort_keys=True, default=str))
        html += Markup("<details><summary>As JSON</summary><pre>{}</pre></details>").format(document)
    return str(html + Markup("</section>"))


# --- progress ------------------------------------------------------------------------------------------


def _action_of(request: Request) -> Action:
    action = actions_of(request).get(request.path_params["action_id"])
    if action is None or action.service != request.path_params["name"]:
        raise HTTPException(404, "no such action (the dashboard keeps the recent ones until it restarts)")
    return action


def progress_context(action: Action, events_url: str) -> dict[str, Any]:
    """What a progress page shows: the messages so far, and where its stream resumes after them."""
    messages, closed = action.channel.since(0)
    after = messages[-1].index + 1 if messages else 0
    return {
        "action": action,
        "events": [Markup(m.data) for m in messages if m.event == "progress"],
        "final": next((Markup(m.data) for m in messages if m.event == "done"), None),
        "closed": closed,
        "stream_url": f"{events_url}?after={after}",
    }


async def progress(request: Request) -> Response:
    auth.require(request, "viewer")
    action = _action_of(request)
    events_url = request.url_for("action_events", name=action.service, action_id=action.id)
    return _render(
        request, "progress.html", {**progress_context(action, str(events_url)), "title": TITLES[action.kind]}
    )


async def events(request: Request) -> Response:
    """`text/event-stream`: `progress` events (an `<li>` each), then one `done` event, then the end."""
    auth.require(request, "viewer")
    return follow_action(request, _action_of(request))


def follow_action(request: Request, action: Action) -> Response:
    """The action's messages from where the page (or a reconnecting EventSource) left off, to its end."""
    after = resume_index(request)

    async def stream():
        yield sse_comment(f"{action.kind} of {action.service}") + "\n"
        async for message in action.channel.follow(after):
            yield ": keep-alive\n\n" if message is None else message.encode()

    return event_stream(stream())


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/services/{name:path}/actions/{action_id}/events", events, name="action_events"),
        Route("/services/{name:path}/actions/{action_id}", progress, name="action"),
        Route("/services/{name:path}/deploy", deploy, methods=both, name="deploy"),
        Route("/services/{name:path}/rollback", rollback, methods=both, name="rollback"),
        Route("/services/{name:path}/restart", restart, methods=both, name="restart"),
        Route("/services/{name:path}/down", down, methods=both, name="down"),
    ]
