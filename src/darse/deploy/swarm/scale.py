"""Scaling one Swarm service of a folder's stack: planned, locked, recorded in the history, waited for.

The command line (`darse stack scale wiki/web=3`) and the dashboard's Scale action run the same code:
the replica count is checked (`check_replicas`), the project's lock is taken (one deploy, rollback or
scale of a project at a time on this host, from any interface), a `scale` record is written in the
history with the user who asked, then the Swarm is told and darse waits until the replicas run.

A scale changes no file and no image: its record repeats the last deployment's revision, configuration
and images (like a restart), so `darse diff`, `rollback --steps` and the drift of `darse status` see the
same deployed state after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from darse.deploy.context import DeployContext
from darse.deploy.swarm.converge import Convergence, snapshot, wait_for_convergence
from darse.deploy.swarm.deploy import replica_reporter
from darse.deploy.swarm.select import split_member
from darse.deploy.swarm.stack import stack_member, stack_name, swarm_target
from darse.engine.swarm import ServiceState, SwarmEngine
from darse.errors import DarseError
from darse.history import FAILED, SUCCESS
from darse.progress import Event, Listener, ignore, reporter
from darse.state import project_lock

MAX_REPLICAS = 1000  # a typo (30000 for 3) must not start thousands of tasks
REPLICAS_HINT = f"give a whole number from 0 to {MAX_REPLICAS}"


def check_replicas(text: Any) -> int:
    """A replica count typed by someone (a form field, the CLI's `=N`): a whole number in range."""
    value = str(text if text is not None else "").strip()
    if not value.isascii() or not value.isdigit():
        raise DarseError(f"cannot scale to {value[:20]!r} replicas", REPLICAS_HINT)
    if len(value) > 6 or int(value) > MAX_REPLICAS:
        raise DarseError(f"{value[:20]} replicas is more than darse starts at once", REPLICAS_HINT)
    return int(value)


@dataclass(frozen=True)
class ScalePlan:
    """What a scale would change: one Swarm service from `current` to `replicas` desired tasks."""

    service: str  # the folder
    member: str  # the Compose service name inside its stack
    name: str  # the Swarm service's full name (STACK_MEMBER)
    stack: str
    target: str
    current: int
    running: int
    replicas: int | None  # None: not chosen yet

    @property
    def changes(self) -> bool:
        return self.replicas is not None and self.replicas != self.current

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "member": self.member,
            "name": self.name,
            "stack": self.stack,
            "target": self.target,
            "current": self.current,
            "running": self.running,
            "replicas": self.replicas,
        }


@dataclass
class ScaleResult:
    """A scale done: the plan, whether the replicas converged (None when not waited for), the record's id."""

    plan: ScalePlan
    ok: bool
    convergence: Convergence | None
    record_id: int | None = None

    def summary_lines(self) -> list[str]:
        plan = self.plan
        change = f"{plan.current} → {plan.replicas}"
        if self.convergence is None:
            return [f"✔ {plan.service}/{plan.member}: scaled {change} (the Swarm converges in the background)"]
        lines = [f"{'✔' if self.ok else '✖'} {plan.service}/{plan.member}: scaled {change}"]
        for outcome in self.convergence.services:
            if outcome.name == plan.member:
                lines.append(f"   {outcome.name}: {outcome.state}" + (f" ({outcome.detail})" if outcome.detail else ""))
                lines += [f"      task error: {error}" for error in outcome.errors]
        return lines

    def to_dict(self) -> dict[str, Any]:
        outcomes = self.convergence.services if self.convergence is not None else []
        mine = next((o for o in outcomes if o.name == self.plan.member), None)
        return {
            **self.plan.to_dict(),
            "ok": self.ok,
            "waited": self.convergence is not None,
            "state": mine.state if mine else "",
            "detail": mine.detail if mine else "",
            "errors": mine.errors if mine else [],
        }


def plan_scale(ctx: DeployContext, text: str, replicas: int | None = None) -> ScalePlan:
    """The scale `text` (`wiki`, `wiki/web`) names, as the Swarm runs it now; nothing changes."""
    plan, engine = _plan(ctx, text, replicas)
    engine.close()
    return plan


def scale(
    ctx: DeployContext,
    text: str,
    replicas: int,
    *,
    wait: bool = True,
    timeout: float = 300,
    listener: Listener = ignore,
) -> ScaleResult:
    """`darse stack scale`: under the project's lock, recorded (`scale`, with who asked), then waited for
    until the service runs `replicas` tasks (unless `wait` is false) or `timeout` seconds passed."""
    replicas = check_replicas(replicas)
    folder, _ = split_member(ctx.repository, text)
    project = ctx.project(folder)
    task = f"scaling {text}"
    say = reporter(listener, task)
    try:
        with project_lock(ctx.state, project):
            say("reading the stack")
            plan, engine = _plan(ctx, text, replicas)
            record = ctx.history.start_in_place(project, folder.name, str(ctx.root), "scale")
            try:
                before = snapshot(engine.services(plan.stack))
                say(f"{plan.member}: {plan.current} → {replicas} replicas")
                engine.scale(plan.name, replicas)
                convergence = None
                if wait:
                    one = _OneService(engine, plan.name)
                    convergence = wait_for_convergence(one, plan.stack, before, timeout, replica_reporter(say))
            except BaseException as exc:
                ctx.history.finish(record, FAILED, _why(exc))
                raise
            finally:
                engine.close()
            result = ScaleResult(plan, _ok(convergence, plan.member), convergence, record.id)
            note = f"{plan.member}: {plan.current} → {replicas}"
            ctx.history.finish(record, SUCCESS if result.ok else FAILED, note if result.ok else _failure(result))
    finally:
        listener(Event(task, done=True))
    return result


def _plan(ctx: DeployContext, text: str, replicas: int | None) -> tuple[ScalePlan, SwarmEngine]:
    folder, member = split_member(ctx.repository, text)
    target = swarm_target(ctx.repository, folder)
    engine = SwarmEngine(target)
    stack = stack_name(folder)
    try:
        engine.ensure_manager()
        chosen = stack_member(folder, engine.services(stack), member)
        if chosen.desired is None:
            raise DarseError(f"{chosen.name} is a global service", "a global service runs one task per node")
    except BaseException:
        engine.close()
        raise
    plan = ScalePlan(
        folder.name, chosen.short, chosen.name, stack, target.name, chosen.desired, chosen.running, replicas
    )
    return plan, engine


class _OneService:
    """The engine as `wait_for_convergence` sees it, showing only the scaled service: the other members
    of the stack are not being changed, and one of them failing must not hold this scale up."""

    def __init__(self, engine: SwarmEngine, name: str) -> None:
        self.engine, self.name = engine, name

    def services(self, stack: str) -> list[ServiceState]:
        return [s for s in self.engine.services(stack) if s.name == self.name]


def _ok(convergence: Convergence | None, member: str) -> bool:
    if convergence is None:
        return True
    return all(o.ok for o in convergence.services if o.name == member)


def _failure(result: ScaleResult) -> str:
    state = result.to_dict()
    errors = state["errors"]
    return (f"{result.plan.member} {state['state']}" + (f": {errors[0]}" if errors else ""))[:300]


def _why(exc: BaseException) -> str:
    return exc.message if isinstance(exc, DarseError) else f"interrupted: {type(exc).__name__}"
