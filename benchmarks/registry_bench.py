"""Benchmark: `darse registry ls` on a real registry, concurrent (default pool) against one request at a time.

Starts Debian's docker-registry (distribution 2.8) on 127.0.0.1 with htpasswd authentication, pushes
one tiny image under N tags with the engine (layers shared, so the push is quick), then alternates
`darse registry ls --json --workers 8` and `--workers 1` (the sequential loop of curl calls a user
would otherwise script: catalog, tags, then one manifest and one config per tag). Reports medians.

    python benchmarks/registry_bench.py            # 40 tags, 5 runs after 1 warm-up
    python benchmarks/registry_bench.py -n 100 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=40, help="tags")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cost", type=int, default=10, help="bcrypt cost of the users' hashes")
    args = parser.parse_args()

    import docker

    from helpers.engine import build_image, ensure_busybox
    from helpers.registry import darse, new_users, start_registry, stop_registry

    engine = docker.from_env()
    ensure_busybox(engine)
    with tempfile.TemporaryDirectory() as tmp:
        reg = start_registry(Path(tmp) / "reg", "http", new_users(), args.cost)
        try:
            repo = f"{reg.host}/bench/app"
            image = build_image(engine, f"{repo}:0", "FROM darse-test/busybox:base\nLABEL bench=1\n")
            auth = {"username": reg.user, "password": reg.password}
            for i in range(args.n):
                image.tag(repo, str(i))
                engine.images.push(repo, str(i), auth_config=auth)
            env = reg.env()
            times: dict[str, list[float]] = {"workers=8": [], "workers=1": []}
            for run in range(args.runs + 1):
                for label in times:
                    started = time.perf_counter()
                    result = darse("registry", "ls", "--json", "--registry", reg.host, "--workers", label[-1], env=env)
                    elapsed = time.perf_counter() - started
                    assert result.returncode == 0, result.stderr
                    if run:
                        times[label].append(elapsed)
            for label, values in times.items():
                median = statistics.median(values)
                print(f"{label}: median {median:.3f} s (min {min(values):.3f}, max {max(values):.3f})")
            ratio = statistics.median(times["workers=1"]) / statistics.median(times["workers=8"])
            where = f"{args.n} tags, bcrypt cost {args.cost}, {os.cpu_count()} CPUs"
            print(f"{where}: the pool is {ratio:.2f}x faster than one request at a time")
        finally:
            stop_registry(reg)
            for i in range(args.n):
                subprocess.run(["docker", "image", "rm", "-f", f"{reg.host}/bench/app:{i}"], capture_output=True)
            subprocess.run(["docker", "image", "rm", "-f", f"{reg.host}/bench/app:0"], capture_output=True)


if __name__ == "__main__":
    main()
