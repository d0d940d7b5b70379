"""Waiting until a stack has converged, and telling a finished rollout from a failed one honestly.

After `docker stack deploy` returns, nothing has happened yet: the Swarm updates services in the
background. A service has converged when its last update (if this deploy started one) completed and
its desired replicas run. An update that ends in `rollback_completed`, `paused` or `rollback_paused` is a
failure, whatever the replicas say afterwards: the Swarm is running the previous version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from darse.engine.swarm import ServiceState, SwarmEngine

FAILED_UPDATES = {"rollback_completed", "paused", "rollback_paused"}
MOVING_UPDATES = {"updating", "rollback_started"}


@dataclass(frozen=True)
class Before:
    """What a service looked like before darse acted: its task template and when its last update started."""

    template: str
    update_started: str


def snapshot(states: list[ServiceState]) -> dict[str, Before]:
    return {s.name: Before(s.template, s.update_started) for s in states}


@dataclass
class ServiceOutcome:
    name: str
    ok: bool
    state: str  # converged, rolled back, paused, timeout
    detail: str = ""
    errors: list[str] = field(default_factory=list)  # task errors, newest first


@dataclass
class Convergence:
    services: list[ServiceOutcome]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.services)


def wait_for_convergence(
    engine: SwarmEngine,
    stack: str,
    before: dict[str, Before],
    timeout: float,
    on_progress: Callable[[list[ServiceState]], None] | None = None,
    poll: float = 0.5,
) -> Convergence:
    """Poll the stack until every service converged or failed, or `timeout` seconds passed.

    `before` is the stack as it was before darse acted: an update status that did not change since
    belongs to an earlier deploy and says nothing about this one, and a service whose task template
    changed is not settled until its rollout has started (the Swarm starts it after `stack deploy`
    returns). No clocks are compared, so a manager whose clock differs changes nothing."""
    deadline = time.monotonic() + timeout
    while True:
        states = engine.services(stack)
        if on_progress:
            on_progress(states)
        outcomes = [_judge(state, before.get(state.name)) for state in states]
        settled = [o for o in outcomes if o is not None]
        if states and len(settled) == len(states):
            return Convergence(settled)
        if time.monotonic() >= deadline:
            return Convergence([o if o is not None else _timed_out(s) for o, s in zip(outcomes, states, strict=True)])
        time.sleep(poll)


def _judge(state: ServiceState, before: Before | None) -> ServiceOutcome | None:
    """The outcome of one service, or None while it is still moving. The Swarm clears a service's update
    status when its spec changes and sets it again once the rolling update starts: no status at all is
    not this deploy's update (the old tasks still run then; on several nodes that moment is long enough
    to be seen, and the old replicas running would pass for a converged rollout)."""
    this_deploy = before is not None and bool(state.update_started) and state.update_started != before.update_started
    if before is not None and state.template != before.template and not this_deploy:
        return None  # changed, but its rollout has not started yet
    if this_deploy and state.update_state in FAILED_UPDATES:
        what = "rolled back" if state.update_state == "rollback_completed" else "paused"
        return ServiceOutcome(state.short, False, what, state.update_message, _errors(state))
    if state.update_state in MOVING_UPDATES:
        return None
    if state.desired is not None and state.running != state.desired:
        return None
    if state.desired is None and state.running == 0:
        return None
    return ServiceOutcome(state.short, True, "converged", f"{state.running}/{_desired(state)} running")


def _timed_out(state: ServiceState) -> ServiceOutcome:
    detail = f"{state.running}/{_desired(state)} running"
    if state.update_state:
        detail += f", update {state.update_state}"
    return ServiceOutcome(state.short, False, "timeout", detail, _errors(state))


def _errors(state: ServiceState) -> list[str]:
    seen: list[str] = []
    for task in reversed(state.failing_tasks):
        text = task.error or task.state
        if text not in seen:
            seen.append(text)
    return seen[:5]


def _desired(state: ServiceState) -> str:
    return "global" if state.desired is None else str(state.desired)
