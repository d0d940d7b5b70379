"""Log latency: from a container writing a line to the line arriving over the dashboard's logs stream,
side by side with `docker logs -f` of the same container.

One service (a busybox container writing a numbered line every `--interval` seconds) is started with
`docker compose up`; the dashboard is served by uvicorn on loopback in this process, a viewer signed in
through the real form, and its event stream (`/services/NAME/logs/events?tail=0`) read by an HTTP
client while `docker logs -f --timestamps --tail 0` follows the same container. The latency of a line
is its arrival time minus the engine's timestamp of it (the moment the engine read it from the
container's output; one clock, this host's), for the same lines on both sides.
Budget: the dashboard's median under 1 s. Needs darse with its dependencies; removes what it created.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from deploy_support import BASE, ensure_images, run

COMPOSE = """\
services:
  app:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do i=$$((i+1)); echo line $$i; sleep {interval}; done"]
"""
STAMPED = re.compile(r'<time datetime="([^"]+)">[^<]*</time> <span class="log-text">(line \d+)')


def stamp_seconds(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp()


def follow_docker_logs(container: str, arrivals: dict[str, float], stop: threading.Event) -> subprocess.Popen:
    """`docker logs -f` of the container; each line's latency into `arrivals` (text -> seconds)."""
    process = subprocess.Popen(
        ["docker", "logs", "-f", "--timestamps", "--tail", "0", container],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            now = time.time()
            stamp, _sep, text = line.rstrip("\n").partition(" ")
            arrivals[text] = now - stamp_seconds(stamp)
            if stop.is_set():
                return

    threading.Thread(target=read, daemon=True).start()
    return process


def follow_dashboard(url: str, name: str, password: str, arrivals: dict[str, float], stop: threading.Event) -> None:
    """The dashboard's event stream, read as a browser's EventSource would; latencies into `arrivals`."""
    import httpx

    with httpx.Client(base_url=url, timeout=30) as client:
        form = client.get("/sign-in").text
        token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        client.post("/sign-in", data={"csrf": token, "name": "bench", "password": password})
        with client.stream("GET", f"/services/{name}/logs/events", params={"tail": "0"}) as answer:
            assert answer.status_code == 200, answer.status_code
            for line in answer.iter_lines():
                now = time.time()
                for stamp, text in STAMPED.findall(line):
                    arrivals[text] = now - stamp_seconds(stamp)
                if stop.is_set():
                    return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=40, help="lines measured")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between two lines")
    args = parser.parse_args()
    ensure_images()
    import uvicorn

    from darse.dashboard.users import add_user
    from darse.web.app import ServeSettings, create_app

    name = f"loglat{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="darse-log-bench-"))
    root = work / "services"
    (root / name).mkdir(parents=True)
    (root / "darse.toml").write_text("")
    (root / name / "compose.yaml").write_text(COMPOSE.format(image=BASE, interval=args.interval))
    run("git", "init", "-q", cwd=root)
    users = work / "dashboard-users"
    password = "bench-passphrase-long"
    add_user(users, "bench", password, "viewer", rounds=4)
    app = create_app(ServeSettings(start=root, users_file=users, secret_key="bench-" + "k" * 32))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    dashboard: dict[str, float] = {}
    docker_logs: dict[str, float] = {}
    stop = threading.Event()
    process = None
    try:
        run("docker", "compose", "--project-name", name, "up", "-d", cwd=root / name)
        container = f"{name}-app-1"
        process = follow_docker_logs(container, docker_logs, stop)
        reader = threading.Thread(
            target=follow_dashboard, args=(f"http://127.0.0.1:{port}", name, password, dashboard, stop), daemon=True
        )
        reader.start()
        deadline = time.monotonic() + args.lines * args.interval * 4 + 60
        while len(set(dashboard) & set(docker_logs)) < args.lines + 2:  # the first two: warming up, not counted
            if time.monotonic() > deadline:
                raise SystemExit(f"lines did not arrive: dashboard {len(dashboard)}, docker logs {len(docker_logs)}")
            time.sleep(0.1)
        stop.set()
    finally:
        if process is not None:
            process.kill()
        server.should_exit = True
        run("docker", "compose", "--project-name", name, "down", "--timeout", "2", cwd=root / name, check=False)
    common = sorted(set(dashboard) & set(docker_logs), key=lambda text: int(text.split()[1]))[2:]
    results = {
        "dashboard SSE stream": [dashboard[t] for t in common],
        "docker logs -f": [docker_logs[t] for t in common],
    }
    for label, values in results.items():
        print(f"{label}: median {statistics.median(values) * 1000:.1f} ms (min {min(values) * 1000:.1f}, "
              f"max {max(values) * 1000:.1f}, {len(values)} lines)")  # fmt: skip
    median = statistics.median(results["dashboard SSE stream"])
    print(f"budget: a line on the dashboard within 1 s: {'met' if median < 1 else 'MISSED'} ({median * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
