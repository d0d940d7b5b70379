"""`darse status` with N deployed services (default 50): budget under 1 s.

Deploys N one-container services with `darse up --all`, then times `darse status --json` and
`darse status` (median of --runs each), then removes everything it created. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from deploy_support import ONE_CONTAINER, darse_executable, ensure_images, make_repo, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    ensure_images()
    suffix = uuid.uuid4().hex[:6]
    names = [f"bench{suffix}s{i:03d}" for i in range(args.n)]
    proxy = f"darsebench_px{suffix}"
    work = Path(tempfile.mkdtemp(prefix="darse-status-bench-"))
    root = work / "services"
    make_repo(root, names, ONE_CONTAINER, proxy)
    env = {**os.environ, "DARSE_STATE_DIR": str(work / "state")}
    darse = darse_executable()
    timings: dict[str, list[float]] = {"status --json": [], "status": []}
    try:
        start = time.perf_counter()
        deployed = subprocess.run(
            [darse, "up", "--all", "--timeout", "60", "--json"], cwd=root, env=env, capture_output=True, text=True
        )
        if deployed.returncode != 0:
            raise SystemExit(f"darse up --all failed:\n{deployed.stdout[-2000:]}\n{deployed.stderr[-2000:]}")
        print(f"deployed {args.n} services in {time.perf_counter() - start:.1f} s")
        for _ in range(args.runs):
            for label, extra in (("status --json", ["--json"]), ("status", [])):
                t0 = time.perf_counter()
                result = subprocess.run([darse, "status", *extra], cwd=root, env=env, capture_output=True, text=True)
                timings[label].append(time.perf_counter() - t0)
                if result.returncode != 0:
                    raise SystemExit(result.stderr)
                if extra:
                    rows = json.loads(result.stdout)["services"]
                    assert len(rows) == args.n and all(r["state"] == "in-sync" for r in rows), rows[:2]
    finally:
        for name in names:
            run("docker", "compose", "--project-name", name, "down", check=False)
        run("docker", "network", "rm", proxy, check=False)
    for label, values in timings.items():
        median = statistics.median(values)
        print(
            f"darse {label}: median {median:.3f} s (min {min(values):.3f}, max {max(values):.3f}, "
            f"{args.runs} runs, {args.n} services) -> budget < 1 s {'met' if median < 1 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
