"""Placement checked against the Swarm's nodes before a stack is deployed (reads only).

A stack whose tasks cannot be placed deploys "successfully" and then waits for ever with tasks pending;
these checks say why before anything changes:

- constraints that no node of the cluster satisfies (`node.labels.zone==east` and no node has it), with
  each node's value of the keys involved;
- more replicas than `max_replicas_per_node` allows on the nodes that can run the service;
- a service with a named volume of the `local` driver and more than one replica (or global) on nodes
  where replicas may land on different nodes: each node would get its own empty volume, the data split.

The constraint language is swarmkit's: `KEY==VALUE` or `KEY!=VALUE`, values compared without regard to
case, a missing node label being the empty value; keys `node.id`, `node.hostname`, `node.role`,
`node.platform.os`, `node.platform.arch`, `node.labels.NAME`, `engine.labels.NAME`, `node.ip`
(an address or a CIDR). A constraint darse cannot read is left to the Swarm (never refused here).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from darse.engine.swarm import NodeState
from darse.errors import DarseError

_CONSTRAINT = re.compile(r"^\s*(?P<key>[A-Za-z0-9_.\-]+)\s*(?P<op>==|!=)\s*(?P<value>.*?)\s*$")


@dataclass(frozen=True)
class Constraint:
    key: str
    equal: bool  # == (True) or != (False)
    value: str

    @classmethod
    def parse(cls, text: str) -> Constraint | None:
        found = _CONSTRAINT.match(text)
        if found is None:
            return None
        return cls(found["key"], found["op"] == "==", found["value"])

    def known(self) -> bool:
        return self.key in _PLAIN_KEYS or self.key == "node.ip" or self.key.startswith(_LABEL_KEYS)

    def matches(self, node: NodeState) -> bool:
        """swarmkit's rule: the node's value compared without regard to case; `!=` is its negation."""
        if self.key == "node.ip":
            same = _ip_matches(node.address, self.value)
        else:
            same = node_value(node, self.key).casefold() == self.value.casefold()
        return same if self.equal else not same

    def __str__(self) -> str:
        return f"{self.key}{'==' if self.equal else '!='}{self.value}"


_PLAIN_KEYS = ("node.id", "node.hostname", "node.role", "node.platform.os", "node.platform.arch")
_LABEL_KEYS = ("node.labels.", "engine.labels.")


def node_value(node: NodeState, key: str) -> str:
    """The node's value for a constraint key ("" for a label it does not have)."""
    plain = {
        "node.id": node.id,
        "node.hostname": node.hostname,
        "node.role": node.role,
        "node.platform.os": node.os,
        "node.platform.arch": node.arch,
        "node.ip": node.address,
    }
    if key in plain:
        return plain[key]
    if key.startswith("node.labels."):
        return node.labels.get(key.removeprefix("node.labels."), "")
    if key.startswith("engine.labels."):
        return node.engine_labels.get(key.removeprefix("engine.labels."), "")
    return ""


def _ip_matches(address: str, value: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False


def eligible_nodes(service: dict[str, Any], nodes: list[NodeState]) -> tuple[list[NodeState], list[Constraint]]:
    """The nodes whose every readable constraint of `service` holds, and those constraints."""
    placement = ((service.get("deploy") or {}).get("placement") or {}) if isinstance(service, dict) else {}
    texts = placement.get("constraints") or []
    constraints = [c for c in (Constraint.parse(str(t)) for t in texts if isinstance(t, str)) if c and c.known()]
    return [n for n in nodes if all(c.matches(n) for c in constraints)], constraints


def placement_problems(document: dict[str, Any], nodes: list[NodeState]) -> list[str]:
    """What would keep a service of the stack document from being placed as written, one line each."""
    problems: list[str] = []
    if not nodes:
        return problems
    volumes = document.get("volumes") or {}
    for name, service in sorted((document.get("services") or {}).items()):
        if not isinstance(service, dict):
            continue
        eligible, constraints = eligible_nodes(service, nodes)
        if constraints and not eligible:
            problems.append(_unsatisfied(name, constraints, nodes))
            continue
        usable = [n for n in eligible if n.availability == "active" and n.state == "ready"]
        deploy = service.get("deploy") or {}
        global_mode = deploy.get("mode") == "global"
        replicas = deploy.get("replicas", 1) if not global_mode else None
        per_node = (deploy.get("placement") or {}).get("max_replicas_per_node")
        if isinstance(replicas, int) and isinstance(per_node, int) and per_node > 0 and usable:
            room = per_node * len(usable)
            if replicas > room:
                problems.append(
                    f"{name}: {replicas} replicas, at most {per_node} per node on the {len(usable)} node(s) that "
                    f"can run it ({', '.join(n.hostname for n in usable)}): {replicas - room} would never be placed"
                )
        several = global_mode or (isinstance(replicas, int) and replicas > 1)
        local = _local_volumes(service, volumes)
        if several and local and len(eligible) > 1:
            count = "global" if global_mode else f"{replicas} replicas"
            problems.append(
                f"{name}: {count} with the local volume(s) {', '.join(local)} on {len(eligible)} nodes: each node "
                "would get its own volume, the data split between them"
            )
    return problems


def _unsatisfied(name: str, constraints: list[Constraint], nodes: list[NodeState]) -> str:
    keys = sorted({c.key for c in constraints})
    values = "; ".join(
        f"{n.hostname}: " + ", ".join(f"{k.split('.')[-1]}={node_value(n, k) or '-'}" for k in keys) for n in nodes[:10]
    )
    return f"{name}: no node satisfies {' and '.join(str(c) for c in constraints)} ({values})"


def _local_volumes(service: dict[str, Any], volumes: dict[str, Any]) -> list[str]:
    """The named volumes the service mounts whose driver is `local` (the default)."""
    found = []
    for mount in service.get("volumes") or []:
        if isinstance(mount, dict):
            if mount.get("type", "volume") != "volume" or not mount.get("source"):
                continue
            source = str(mount["source"])
        elif isinstance(mount, str) and ":" in mount and not mount.startswith(("/", ".", "~")):
            source = mount.split(":", 1)[0]
        else:
            continue
        declared = volumes.get(source)
        driver = (declared or {}).get("driver") if isinstance(declared, dict) else None
        if (driver or "local") == "local" and not (isinstance(declared, dict) and declared.get("external")):
            found.append(source)
    return sorted(set(found))


def refuse_unplaceable(document: dict[str, Any], nodes: list[NodeState]) -> None:
    """Refuse, in one line, a stack whose tasks could not all be placed (see the module)."""
    problems = placement_problems(document, nodes)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DarseError(
            problems[0] + more,
            "fix the service's deploy: section (constraints, replicas, max_replicas_per_node, volumes), "
            "or the nodes (`docker node update --label-add`, `darse node ls`); --force deploys anyway",
        )
