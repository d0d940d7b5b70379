"""darse up's overhead over plain `docker compose up -d --wait` on the same two-service stack.

Alternating runs (darse, compose, darse, ...), median of --runs each, in two situations:
- cold: the project is down before every run (networks and containers created, healthcheck waited);
- warm: the project already runs and nothing changed (what a routine `up` of an unchanged service costs).
darse and plain compose deploy the same folder under two project names, so neither disturbs the other.
Budget: darse's median under 1.15 times compose's (cold). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from deploy_support import WEB_AND_DB, darse_executable, ensure_images, make_repo, run


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = __import__("subprocess").run(args, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    ensure_images()
    suffix = uuid.uuid4().hex[:6]
    name, proxy = f"benchapp{suffix}", f"darsebench_px{suffix}"
    work = Path(tempfile.mkdtemp(prefix="darse-deploy-bench-"))
    root = work / "services"
    make_repo(root, [name], WEB_AND_DB, proxy)
    run("docker", "network", "create", proxy)
    env = {**os.environ, "DARSE_STATE_DIR": str(work / "state")}
    folder = root / name
    plain_project = f"{name}-plain"
    darse_up = [darse_executable(), "up", name, "--timeout", "60"]
    compose_up = ["docker", "compose", "--project-name", plain_project, "up", "-d", "--wait", "--wait-timeout", "60"]
    results: dict[str, dict[str, list[float]]] = {
        "cold": {"darse": [], "compose": []},
        "warm": {"darse": [], "compose": []},
    }
    try:
        timed(darse_up, root, env)  # warm-up: images cached, state created
        timed(compose_up, folder, env)
        for mode in ("cold", "warm"):
            for index in range(args.runs):
                order = [("darse", darse_up, root, name), ("compose", compose_up, folder, plain_project)]
                if index % 2:
                    order.reverse()
                for tool, command, cwd, project in order:
                    if mode == "cold":
                        run("docker", "compose", "--project-name", project, "down", check=False)
                    results[mode][tool].append(timed(command, cwd, env))
    finally:
        for project in (name, plain_project):
            run("docker", "compose", "--project-name", project, "down", "--volumes", check=False)
        run("docker", "network", "rm", proxy, check=False)
    summary = {}
    for mode, by_tool in results.items():
        darse_median = statistics.median(by_tool["darse"])
        compose_median = statistics.median(by_tool["compose"])
        summary[mode] = {
            "darse_median_s": round(darse_median, 3),
            "compose_median_s": round(compose_median, 3),
            "ratio": round(darse_median / compose_median, 3),
            "darse_runs": [round(x, 3) for x in by_tool["darse"]],
            "compose_runs": [round(x, 3) for x in by_tool["compose"]],
        }
        print(
            f"{mode:5}: darse {darse_median:.3f} s, docker compose {compose_median:.3f} s, "
            f"ratio {darse_median / compose_median:.3f} (overhead {darse_median - compose_median:+.3f} s, "
            f"median of {args.runs})"
        )
    print(json.dumps(summary, indent=2))
    ok = summary["cold"]["ratio"] < 1.15
    print("budget (cold ratio < 1.15):", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
