"""Time from a deploy click in the dashboard to the state change shown, side by side with the CLI.

One one-container service on the local engine, brought down before every run. In one run, alternating
the order, three ways to deploy it:
- the dashboard in a real browser (Debian's chromium driven by Playwright, the app served by uvicorn in
  this process): the operator clicks "Deploy" on the confirmation page; measured until the live fleet
  page (open in a second tab, no reload) shows the service's row "in sync", and until the action's
  progress page shows its outcome;
- `darse up NAME` as a command (what an admin would otherwise run);
- plain `docker compose up -d --wait` of the same folder (the floor: Compose alone, no checks, no history).
Reported: medians, and dashboard / `darse up`. No budget is set in the issue for this one: the number is
the time an operator waits after a click, with what the CLI costs beside it.
Needs darse installed with its dependencies, playwright and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from deploy_support import ONE_CONTAINER, darse_executable, ensure_images, make_repo, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from darse.dashboard.users import add_user
    from darse.web.app import ServeSettings, create_app

    from helpers.browser import CHROMIUM, served  # the tests' uvicorn-in-a-thread server

    ensure_images()
    name = f"click{uuid.uuid4().hex[:6]}"
    proxy = f"darsebench_px{name}"
    work = Path(tempfile.mkdtemp(prefix="darse-click-bench-"))
    root = work / "services"
    make_repo(root, [name], ONE_CONTAINER, proxy)
    os.environ["DARSE_STATE_DIR"] = str(work / "state")
    darse = darse_executable()
    run("docker", "network", "create", proxy, check=False)
    users = work / "dashboard-users"
    add_user(users, "bench", "bench-passphrase-long", "operator", rounds=4)
    app = create_app(ServeSettings(start=root, users_file=users, secret_key="bench-" + "k" * 32))
    timings: dict[str, list[float]] = {
        "dashboard: click → fleet row in sync (live)": [],
        "dashboard: click → outcome shown": [],
        "darse up NAME (process)": [],
        "docker compose up -d --wait (process)": [],
    }

    def bring_down() -> None:
        run("docker", "compose", "--project-name", name, "down", check=False)

    try:
        with served(app) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            print(f"chromium {browser.version} driven by Playwright")
            context = browser.new_context()
            context.set_default_timeout(120_000)
            confirm, fleet = context.new_page(), context.new_page()
            confirm.goto(url + "/sign-in")
            confirm.get_by_label("User name").fill("bench")
            confirm.get_by_label("Password").fill("bench-passphrase-long")
            confirm.get_by_role("button", name="Sign in").click()
            confirm.wait_for_url(url + "/")

            def dashboard() -> None:
                fleet.goto(url + "/")
                row = fleet.get_by_role("row").filter(has_text=name)
                assert "in sync" not in row.inner_text()
                fleet.wait_for_timeout(300)  # the live stream is open before the click
                confirm.goto(f"{url}/services/{name}/deploy")
                button = confirm.get_by_role("button", name=re.compile(r"^Deploy "))
                t0 = time.perf_counter()
                button.click()
                row.filter(has_text="in sync").wait_for()
                timings["dashboard: click → fleet row in sync (live)"].append(time.perf_counter() - t0)
                outcome = confirm.locator("[data-outcome]")
                outcome.wait_for()
                timings["dashboard: click → outcome shown"].append(time.perf_counter() - t0)
                assert outcome.get_attribute("data-outcome") == "ok", outcome.inner_text()

            def cli() -> None:
                t0 = time.perf_counter()
                result = run(darse, "up", name, cwd=root, check=False)
                timings["darse up NAME (process)"].append(time.perf_counter() - t0)
                assert result.returncode == 0, result.stderr[-2000:]

            def compose() -> None:
                t0 = time.perf_counter()
                result = run("docker", "compose", "--project-name", name, "up", "-d", "--wait", cwd=root / name)
                timings["docker compose up -d --wait (process)"].append(time.perf_counter() - t0)
                assert result.returncode == 0, result.stderr[-2000:]

            ways = [dashboard, cli, compose]
            for index in range(args.runs + 1):  # the first round warms caches and is not counted
                for way in ways[index % 3 :] + ways[: index % 3]:
                    bring_down()
                    way()
                if index == 0:
                    for values in timings.values():
                        values.clear()
            browser.close()
    finally:
        bring_down()
        run("docker", "network", "rm", proxy, check=False)
    for label, values in timings.items():
        print(f"{label}: median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f}, "
              f"{len(values)} runs)")  # fmt: skip
    live = statistics.median(timings["dashboard: click → fleet row in sync (live)"])
    cli_median = statistics.median(timings["darse up NAME (process)"])
    floor = statistics.median(timings["docker compose up -d --wait (process)"])
    print(f"dashboard click → state shown / darse up: {live / cli_median:.2f}; / plain compose: {live / floor:.2f}")


if __name__ == "__main__":
    main()
