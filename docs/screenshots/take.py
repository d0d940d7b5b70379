"""The README's screenshots of the dashboard, taken again: `python docs/screenshots/take.py`.

Makes a three-service test fleet on the local engine (busybox images, as the benchmarks do), a clone
with one commit waiting upstream, deploys it with `darse up --all`, serves the dashboard in this process,
and photographs its pages with Debian's chromium (Playwright) at a desktop and a phone's width. Removes
what it created. Needs darse installed with its test dependencies and /usr/bin/chromium.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests")]

from deploy_support import WEB_AND_DB, darse_executable, ensure_images, make_repo, run  # noqa: E402

NAMES = ("wiki", "chat", "pad")
# the benchmarks' web application and database, the web one logging every request (its healthcheck's)
TEMPLATE = WEB_AND_DB.replace("exec httpd -f -p 8080", "exec httpd -f -v -p 8080")
WIDE, PHONE = {"width": 1200, "height": 820}, {"width": 390, "height": 844}


def git(cwd: Path, *args: str) -> None:
    run("git", "-c", "user.name=Admin", "-c", "user.email=admin@example.org", *args, cwd=cwd)


def main() -> None:
    from playwright.sync_api import sync_playwright

    from darse.dashboard.users import add_user
    from darse.web.app import ServeSettings, create_app

    from helpers.browser import CHROMIUM, served

    ensure_images()
    suffix = uuid.uuid4().hex[:6]
    names = [f"{name}-{suffix[:4]}" for name in NAMES]  # apart from real services of this engine
    proxy = f"darseshots_px{suffix}"
    work = Path(tempfile.mkdtemp(prefix="darse-screenshots-"))
    seed, origin, checkout, other = work / "seed", work / "origin.git", work / "services", work / "other"
    make_repo(seed, names, TEMPLATE, proxy)
    run("git", "clone", "-q", "--bare", str(seed), str(origin))
    run("git", "clone", "-q", str(origin), str(checkout))
    for name in names:  # the real secret files stay beside the examples, as on a host
        (checkout / name / "db.secrets").write_text("DB_PASSWORD=shot-secret-value\n")
    run("git", "clone", "-q", str(origin), str(other))
    (other / names[0] / "README.md").write_text(f"# {names[0]}\n\nA benchmark service, documented.\n")
    git(other, "commit", "-qam", f"{names[0]}: document the service")
    git(other, "push", "-q", "origin", "HEAD")
    os.environ["DARSE_STATE_DIR"] = str(work / "state")
    run("docker", "network", "create", proxy, check=False)
    users = work / "dashboard-users"
    add_user(users, "alice", "screenshot-passphrase", "operator", rounds=4)
    try:
        deployed = subprocess.run([darse_executable(), "up", "--all"], cwd=checkout, capture_output=True, text=True)
        assert deployed.returncode == 0, deployed.stderr[-2000:]
        app = create_app(ServeSettings(start=checkout, users_file=users, secret_key="shots-" + "k" * 32))
        with served(app) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_context(viewport=WIDE).new_page()
            page.goto(url + "/sign-in")
            page.screenshot(path=HERE / "sign-in.png")
            page.get_by_label("User name").fill("alice")
            page.get_by_label("Password").fill("screenshot-passphrase")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(url + "/")
            shots = {
                "fleet": "/",
                "service": f"/services/{names[0]}",
                "confirm-deploy": f"/services/{names[0]}/deploy",
                "logs": f"/services/{names[0]}/logs",
                "images": f"/services/{names[0]}/images",
                "checkout": "/checkout",
            }
            for shot, path in shots.items():
                page.goto(url + path)
                if shot == "checkout":  # the commit waiting upstream: fetched as an operator would
                    page.get_by_role("button", name=re.compile("^Fetch")).click()
                    page.get_by_role("link", name="Review and pull").wait_for()
                if shot == "logs":
                    page.locator("ol.log-lines li").first.wait_for(timeout=30_000)
                page.screenshot(path=HERE / f"{shot}.png", full_page=shot != "service")
            page.goto(url + f"/services/{names[0]}/images")
            page.get_by_role("link", name=re.compile("^Inspect ")).first.click()
            page.locator("table.layers").wait_for(timeout=120_000)
            page.screenshot(path=HERE / "image-report.png")
            phone = browser.new_context(viewport=PHONE, storage_state=page.context.storage_state()).new_page()
            for shot, path in {"fleet-phone": "/", "service-phone": f"/services/{names[0]}"}.items():
                phone.goto(url + path)
                phone.screenshot(path=HERE / f"{shot}.png")
            browser.close()
    finally:
        for name in names:
            run("docker", "compose", "--project-name", name, "down", "--volumes", check=False)
        run("docker", "network", "rm", proxy, check=False)
    print(f"screenshots in {HERE}")


if __name__ == "__main__":
    main()
