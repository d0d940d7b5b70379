"""`darse stack status` across a real three-node Swarm against `docker service ps` run for each service.

The tests' three-node cluster (tests/helpers/swarm_nodes.py: this machine's engine as the manager, two
worker engines in network namespaces, a registry they all pull from) runs N stacks (default 20) of one
service with R replicas each (default 4), deployed with plain `docker stack deploy`; a darse repository
names them (one folder per stack, its darse.toml target the Swarm). Then, in rounds whose order rotates:

- `darse stack status --json`: every stack with its tasks and their nodes (two queries for tasks and
  services per stack, one for the nodes);
- `docker service ps` run once per service (what an admin types to see where tasks run), N processes;
- `docker stack ps` run once per stack, N processes.

Medians of --runs rounds; the load average at the start and end. Everything made is removed. Needs root
(the cluster's namespaces), the engine with Compose, and pytest importable (the cluster helper's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from deploy_support import darse_executable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

COMPOSE = """\
services:
  app:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 5; done"]
    deploy:
      replicas: {replicas}
      restart_policy:
        condition: any
"""


def timed(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, timeout=300)
    return time.perf_counter() - start


def rounds(tools: dict[str, Callable[[], float]], runs: int) -> dict[str, list[float]]:
    names = list(tools)
    kept: dict[str, list[float]] = {name: [] for name in names}
    for number in range(runs + 1):  # the first round warms up, not kept
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            value = tools[name]()
            if number:
                kept[name].append(value)
    return kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20, help="stacks of one service")
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "swarm_status_bench.json")
    args = parser.parse_args()
    import docker

    from helpers.swarm_nodes import start_cluster

    load_before = os.getloadavg()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in load_before)}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="darse-swarm-status-bench-"))
    root = work / "repo"
    suffix = uuid.uuid4().hex[:6]
    stacks = [f"swb{suffix}s{i:02d}" for i in range(args.n)]
    env = {**os.environ, "DARSE_STATE_DIR": str(work / "state"), "NO_COLOR": "1"}
    manager = docker.from_env()
    with start_cluster(manager) as cluster:
        image = cluster.busybox(f"darse-swarm-bench-{suffix}:1.0")
        toml = '[targets.cluster]\nkind = "swarm"\n' + "".join(
            f'[services."{s}"]\ntarget = "cluster"\n' for s in stacks
        )
        (root).mkdir(parents=True)
        (root / "darse.toml").write_text(toml)
        try:
            started = time.perf_counter()
            for stack in stacks:
                (root / stack).mkdir()
                compose = root / stack / "compose.yaml"
                compose.write_text(COMPOSE.format(image=image, replicas=args.replicas))
                subprocess.run(
                    ["docker", "stack", "deploy", "-c", str(compose), stack], check=True, capture_output=True
                )
            want = args.n * args.replicas
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                tasks = manager.api.tasks(filters={"desired-state": "running"})
                running = [t for t in tasks if (t.get("Status") or {}).get("State") == "running"]
                if len(running) >= want:
                    break
                time.sleep(1)
            nodes = {t["NodeID"] for t in running}
            print(
                f"{len(running)} tasks running on {len(nodes)} nodes, deployed in {time.perf_counter() - started:.1f} s"
            )
            darse = darse_executable()
            services = [f"{s}_app" for s in stacks]
            results = rounds(
                {
                    "darse stack status --json": lambda: timed([darse, "stack", "status", "--json"], root, env),
                    "docker service ps (each service)": lambda: sum(
                        timed(["docker", "service", "ps", "--no-trunc", s]) for s in services
                    ),
                    "docker stack ps (each stack)": lambda: sum(timed(["docker", "stack", "ps", s]) for s in stacks),
                },
                args.runs,
            )
            report = json.loads(
                subprocess.run([darse, "stack", "status", "--json"], cwd=root, env=env, capture_output=True,
                               text=True, check=True).stdout
            )  # fmt: skip
            shown = sum(len([t for t in row.get("tasks", []) if t["state"] == "running"]) for row in report["services"])
            if shown != want:
                raise SystemExit(f"darse showed {shown} running tasks, {want} expected")
        finally:
            for stack in stacks:
                subprocess.run(["docker", "stack", "rm", stack], capture_output=True)
            subprocess.run(["rm", "-rf", str(work)], check=False)
    load_after = os.getloadavg()
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in load_after)}")
    print(f"\n{args.n} stacks x {args.replicas} replicas on 3 nodes, {args.runs} rounds, medians")
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, value in medians.items():
        print(f"  {name:36} {value:7.3f} s   (min {min(results[name]):.3f}, max {max(results[name]):.3f})")
    ratio = medians["docker service ps (each service)"] / medians["darse stack status --json"]
    print(f"  darse is {ratio:.1f}x faster than `docker service ps` per service")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "stacks": args.n,
                "replicas": args.replicas,
                "runs": args.runs,
                "load_average": {"start": load_before, "end": load_after},
                "medians": medians,
                "rounds": results,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
