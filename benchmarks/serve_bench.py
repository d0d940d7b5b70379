"""The dashboard's fleet page with N deployed services (default 50), side by side with `darse status`.

Deploys N one-container services with `darse up --all`, then, in one run:
- `darse status --json` as a command (a whole process: what an admin would otherwise run);
- the fleet page rendered server-side: `GET /` through the application in this process (Starlette's
  test client: no network, a signed-in operator), cache warm (one request first);
- the page's weight: its HTML plus the stylesheet and scripts it loads.
Budgets: the fleet page under 300 ms (median, cache warm), the page under 150 KB.
Needs darse installed with its dependencies (it imports darse.web); removes what it created.
"""

from __future__ import annotations

import argparse
import os
import re
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
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    ensure_images()
    suffix = uuid.uuid4().hex[:6]
    names = [f"serve{suffix}s{i:03d}" for i in range(args.n)]
    proxy = f"darsebench_px{suffix}"
    work = Path(tempfile.mkdtemp(prefix="darse-serve-bench-"))
    root = work / "services"
    make_repo(root, names, ONE_CONTAINER, proxy)
    os.environ["DARSE_STATE_DIR"] = str(work / "state")
    darse = darse_executable()
    timings: dict[str, list[float]] = {"darse status --json (process)": [], "fleet page (server-side)": []}
    try:
        start = time.perf_counter()
        deployed = subprocess.run([darse, "up", "--all", "--timeout", "60", "--json"], cwd=root, capture_output=True)
        if deployed.returncode != 0:
            raise SystemExit(f"darse up --all failed:\n{deployed.stdout[-2000:]!r}\n{deployed.stderr[-2000:]!r}")
        print(f"deployed {args.n} services in {time.perf_counter() - start:.1f} s")
        client = _signed_in_client(root, work)
        first = client.get("/")
        assert first.status_code == 200 and all(name in first.text for name in names), first.status_code
        assets = re.findall(r'(?:href|src)="(?:https?://[^/"]+)?(/static/[^"]+)"', first.text)
        weight = len(first.content) + sum(len(client.get(path).content) for path in assets)
        for index in range(args.runs):
            order = ["status", "page"] if index % 2 == 0 else ["page", "status"]
            for what in order:
                t0 = time.perf_counter()
                if what == "status":
                    result = subprocess.run([darse, "status", "--json"], cwd=root, capture_output=True)
                    assert result.returncode == 0, result.stderr
                    timings["darse status --json (process)"].append(time.perf_counter() - t0)
                else:
                    page = client.get("/")
                    assert page.status_code == 200
                    timings["fleet page (server-side)"].append(time.perf_counter() - t0)
    finally:
        for name in names:
            run("docker", "compose", "--project-name", name, "down", check=False)
        run("docker", "network", "rm", proxy, check=False)
    for label, values in timings.items():
        print(f"{label}: median {statistics.median(values) * 1000:.0f} ms (min {min(values) * 1000:.0f}, "
              f"max {max(values) * 1000:.0f}, {len(values)} runs, {args.n} services)")  # fmt: skip
    page_ms = statistics.median(timings["fleet page (server-side)"]) * 1000
    status_ms = statistics.median(timings["darse status --json (process)"]) * 1000
    print(f"fleet page / darse status: {page_ms / status_ms:.2f}")
    print(f"budget: fleet page under 300 ms: {'met' if page_ms < 300 else 'MISSED'} ({page_ms:.0f} ms)")
    print(f"budget: page weight under 150 KB: {'met' if weight < 150_000 else 'MISSED'} ({weight / 1000:.1f} KB)")


def _signed_in_client(root: Path, work: Path):
    """The dashboard of `root` in this process, with an operator signed in through the real form."""
    from starlette.testclient import TestClient

    from darse.dashboard.users import add_user
    from darse.web.app import ServeSettings, create_app

    users = work / "dashboard-users"
    add_user(users, "bench", "bench-passphrase-long", "operator", rounds=4)
    app = create_app(ServeSettings(start=root, users_file=users, secret_key="bench-" + "k" * 32))
    client = TestClient(app, follow_redirects=False)
    form = client.get("/sign-in").text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    answer = client.post("/sign-in", data={"csrf": token, "name": "bench", "password": "bench-passphrase-long"})
    assert answer.status_code == 303, answer.text
    return client


if __name__ == "__main__":
    main()
