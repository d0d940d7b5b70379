"""`darse tunnel` side by side with plain `ssh -L`, docker-proxy and a direct connection, in one run.

One Compose project on the local engine runs two containers of the same busybox image, each serving
port 7000 with busybox's `nc -ll -e`: a connection whose first line is `SINK` is drained into
`dd of=/dev/null bs=64k iflag=fullblock`, which answers how many blocks it read (busybox's `wc -c`
reads 200 MiB/s here, too slow for a sink); any other line gets `+PONG`. `db` publishes
no port; `pub` publishes 7000 on a random port of 127.0.0.1. The tests' real sshd (tests/helpers/sshd.py:
Debian's OpenSSH on 127.0.0.2, its user in the docker group) makes this engine an ssh:// target, so
the same folder is deployed to two darse repositories: one whose target is `ssh://darse-test-fleet`
(the sshd's alias, through the test client's `ssh` first on PATH), one on the local engine.

Four measures, each repeated (--runs rounds, the tools' order rotating by one per round), medians:

1. time to a usable tunnel: from spawning `darse tunnel FOLDER --to db --port 7000 --local ... --json`
   (ssh:// target) until it printed its ready line AND a `PING` through the local port got `+PONG`,
   against spawning `ssh -N -L PORT:IP:7000 darse-test-fleet` until a `PING` through it got `+PONG`
   (polled every 10 ms). Budget: darse's median less than 0.3 s above ssh's. `darse --version` is
   timed in the same rounds: the interpreter's start and the CLI's imports, which any darse command pays.
2. throughput of --mib MiB pushed to the sink through darse's ssh tunnel and through plain `ssh -L`
   (both open for the whole measure; dd's byte count is checked). Budget: darse within 5 % of ssh.
3. the same push on the local engine: darse's own relay (`darse tunnel` of the local-engine
   repository), the `pub` container's published port (docker-proxy), and the `db` container's
   bridge address directly. No budget: reported.
4. reconnection: with darse's ssh tunnel open, every session of the sshd is killed (the fixture's
   `drop_connections()`, as a network failure would), then the time until a `PING` through the same
   local port gets `+PONG` again. No budget: darse checks its tunnels every 2 s, so 0-2 s of it is
   detection. (Plain `ssh -N -L` does not come back at all: it exits.)

Wall times are `time.perf_counter()`. The load average is printed at the start and the end. Needs root
(the sshd helper adds its test user), the engine with the Compose plugin, Debian's openssh-server and
busybox-static, darse installed and pytest importable (the sshd helper's failures are pytest's).
Everything made is removed at the end: processes, the Compose project, the temporary folders.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from deploy_support import BASE, darse_executable, ensure_images, run

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

READY_BUDGET = 0.3  # s darse may add to plain ssh's time to a usable tunnel
THROUGHPUT_BUDGET = 0.95  # darse's ssh throughput / plain ssh's, at least
MIB = 1 << 20
PORT = 7000
PATIENCE = 60.0  # s for anything to become ready; a bound, not a measure
HANDLER = 'read l; if [ "$l" = SINK ]; then exec dd of=/dev/null bs=65536 iflag=fullblock 2>&1; fi; echo +PONG; ' + (
    "while read l; do echo +PONG; done"
)
COMMAND = ["nc", "-ll", "-p", str(PORT), "-e", "sh", "-c", HANDLER]
COMPOSE = f"""\
services:
  db:
    image: {BASE}
    command: {json.dumps(COMMAND).replace("$", "$$")}
    expose: ["{PORT}"]
  pub:
    image: {BASE}
    command: {json.dumps(COMMAND).replace("$", "$$")}
    ports: ["127.0.0.1::{PORT}"]
"""
TITLES = {
    "ready": "time to a usable tunnel",
    "throughput": "throughput, {mib} MiB pushed",
    "reconnect": "reconnection after a drop",
}
RECORDS = re.compile(rb"(\d+)\+(\d+) records in")
BLOCK = 65536  # dd's block: the sizes pushed are whole blocks, so its count of full blocks checks them


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ping(port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> bool:
    """Whether a `PING` through host:port reaches the server (a `+PONG` comes back)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(b"PING\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = conn.recv(100)
                if not chunk:
                    break
                reply += chunk
            return reply == b"+PONG\n"
    except OSError:
        return False


def wait_ping(port: int, host: str = "127.0.0.1", patience: float = PATIENCE, step: float = 0.01) -> None:
    deadline = time.monotonic() + patience
    while not ping(port, host):
        if time.monotonic() > deadline:
            raise SystemExit(f"nothing answers through {host}:{port} after {patience:.0f} s")
        time.sleep(step)


def push(port: int, size: int, host: str = "127.0.0.1") -> float:
    """Seconds to push `size` bytes to the sink through host:port and get its count back (checked)."""
    block = memoryview(os.urandom(MIB))
    start = time.perf_counter()
    with socket.create_connection((host, port), timeout=60) as conn:
        conn.sendall(b"SINK\n")
        left = size
        while left:
            part = block[: min(left, MIB)]
            conn.sendall(part)
            left -= len(part)
        conn.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := conn.recv(4096):
            reply += chunk
    elapsed = time.perf_counter() - start
    found = RECORDS.search(reply)
    if found is None or (int(found.group(1)), int(found.group(2))) != (size // BLOCK, 0):
        raise SystemExit(f"the sink through {host}:{port} read {reply[-200:]!r}, not {size} bytes")
    return elapsed


class Child:
    """A process of the benchmark (output into a file), ended by SIGTERM then SIGKILL."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str], cwd: Path | None = None) -> None:
        self.log = log
        self.sink = log.open("wb")
        self.process = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.sink
        )

    def first_line(self, patience: float = PATIENCE) -> bytes:
        """The first line of its standard output (darse prints it once the tunnel carries traffic)."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # bounded by the process: it exits on failure
        if not line:
            self.stop()
            raise SystemExit(f"{self.process.args} ended: {self.log.read_text(errors='replace')[-2000:]}")
        return line

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.sink.close()


class Bench:
    """The deployed folder, the sshd, and how to open each kind of tunnel to it."""

    def __init__(self, work: Path, state: Path, sshd, folder: str) -> None:
        self.work, self.state, self.sshd, self.folder = work, state, sshd, folder
        self.env = {**os.environ, "PATH": f"{sshd.bin_dir}{os.pathsep}{os.environ['PATH']}"}
        self.darse = darse_executable()
        self.ssh_root = work / "ssh-repo"
        self.local_root = work / "local-repo"
        self.ip = ""
        self.published = 0
        self.count = 0
        self.logins: list[int] = []  # SSH logins the sshd accepted during each `darse tunnel` start

    def log(self, name: str) -> Path:
        self.count += 1
        return self.work / f"{self.count:03d}-{name}.log"

    def darse_tunnel(self, root: Path, port: int) -> Child:
        """A tunnel's name is its folder's, once per state folder: one state folder per repository."""
        args = [self.darse, "tunnel", self.folder, "--to", "db", "--port", str(PORT)]
        env = {**self.env, "DARSE_STATE_DIR": str(self.state / root.name)}
        return Child([*args, "--local", f"127.0.0.1:{port}", "--json"], self.log("darse"), env, cwd=root)

    def ssh_tunnel(self, port: int) -> Child:
        args = ["ssh", "-N", "-o", "ExitOnForwardFailure=yes", "-L", f"127.0.0.1:{port}:{self.ip}:{PORT}"]
        return Child([*args, self.sshd.alias], self.log("ssh"), self.env)

    def ready_darse(self) -> float:
        port = free_port()
        before = self.sshd.log.count("Accepted publickey")
        start = time.perf_counter()
        child = self.darse_tunnel(self.ssh_root, port)
        try:
            child.first_line()
            wait_ping(port)
            return time.perf_counter() - start
        finally:
            child.stop()
            self.logins.append(self.sshd.log.count("Accepted publickey") - before)

    def startup(self) -> float:
        """`darse --version`: the interpreter and the CLI's imports, a floor under any darse command."""
        start = time.perf_counter()
        subprocess.run([self.darse, "--version"], env=self.env, capture_output=True, check=True)
        return time.perf_counter() - start

    def ready_ssh(self) -> float:
        port = free_port()
        start = time.perf_counter()
        child = self.ssh_tunnel(port)
        try:
            wait_ping(port)
            return time.perf_counter() - start
        finally:
            child.stop()


def compiled() -> None:
    """darse's modules compiled to bytecode, as pip leaves an installed darse: a checkout run with
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile them again in every timed start."""
    import darse

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(darse.__file__).parent)], check=True)


def rounds(tools: dict[str, Callable[[], float]], runs: int, warmup: int) -> dict[str, list[float]]:
    """Each tool once per round, the order rotating by one per round; warm-up rounds not kept."""
    names = list(tools)
    kept: dict[str, list[float]] = {name: [] for name in names}
    for number in range(warmup + runs):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            value = tools[name]()
            if number >= warmup:
                kept[name].append(value)
    return kept


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


@contextlib.contextmanager
def deployed(work: Path, sshd) -> Iterator[str]:
    """The folder, deployed once with Compose and named in two darse repositories (ssh:// and local)."""
    folder = f"tunbench{uuid.uuid4().hex[:8]}"
    for name, toml in (
        ("ssh-repo", f'[targets.fleet]\nhost = "{sshd.alias_url}"\n[services.{folder}]\ntarget = "fleet"\n'),
        ("local-repo", ""),
    ):
        (work / name / folder).mkdir(parents=True)
        (work / name / "darse.toml").write_text(toml)
        (work / name / folder / "compose.yaml").write_text(COMPOSE)
    compose = ["docker", "compose", "--project-name", folder, "-f", str(work / "local-repo" / folder / "compose.yaml")]
    try:
        run(*compose, "up", "-d")
        yield folder
    finally:
        run(*compose, "down", "-v", "-t", "1", check=False)


def measure(bench: Bench, args: argparse.Namespace) -> dict[str, dict[str, dict[str, float]]]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    print(f"1. time to a usable tunnel ({args.warmup} warm-up + {args.runs} rounds)", flush=True)
    tools = {"darse tunnel (ssh)": bench.ready_darse, "ssh -N -L": bench.ready_ssh, "darse --version": bench.startup}
    ready = rounds(tools, args.runs, args.warmup)
    results["ready"] = {name: summary(values) for name, values in ready.items()}
    results["ready"]["darse tunnel (ssh)"]["ssh_logins"] = bench.logins[args.warmup :]

    size = args.mib * MIB
    print(f"2-3. throughput, {args.mib} MiB pushed ({args.runs} rounds)", flush=True)
    ports = {"darse ssh": free_port(), "ssh": free_port(), "darse local": free_port()}
    children = [
        bench.darse_tunnel(bench.ssh_root, ports["darse ssh"]),
        bench.ssh_tunnel(ports["ssh"]),
        bench.darse_tunnel(bench.local_root, ports["darse local"]),
    ]
    try:
        for child in (children[0], children[2]):
            child.first_line()
        for port in ports.values():
            wait_ping(port)

        def through(port: int, host: str = "127.0.0.1") -> Callable[[], float]:
            return lambda: args.mib / push(port, size, host)

        speeds = rounds(
            {
                "darse tunnel (ssh)": through(ports["darse ssh"]),
                "ssh -N -L": through(ports["ssh"]),
                "darse tunnel (local engine)": through(ports["darse local"]),
                "published port (docker-proxy)": through(bench.published),
                "container address (direct)": through(PORT, bench.ip),
            },
            args.runs,
            1,
        )
    finally:
        for child in children[1:]:
            child.stop()
    results["throughput"] = {name: summary(values) for name, values in speeds.items()}

    print(f"4. reconnection after a drop ({args.reconnects} drops)", flush=True)
    holder = children[0]
    try:
        times = []
        for _ in range(args.reconnects):
            wait_ping(ports["darse ssh"])
            time.sleep(0.5)  # the tunnel settled: the master's keep-alive and darse's check running
            start = time.perf_counter()
            if bench.sshd.drop_connections() == 0:
                raise SystemExit("no SSH session to drop: darse's tunnel has no connection")
            wait_ping(ports["darse ssh"], step=0.02)
            times.append(time.perf_counter() - start)
    finally:
        holder.stop()
    log = holder.log.read_text(errors="replace")
    reopened = log.count("open again")
    if reopened < args.reconnects:
        raise SystemExit(f"darse logged {reopened} reconnections for {args.reconnects} drops:\n{log[-2000:]}")
    results["reconnect"] = {"darse tunnel (ssh)": summary(times)}
    return results


def report(results: dict, args: argparse.Namespace) -> list[str]:
    """Print the tables; the budgets missed, as lines."""
    ready = results["ready"]
    print("\n| measure | tool | median | min | max |\n| --- | --- | ---: | ---: | ---: |")
    for measure_name, unit, form in (
        ("ready", "s", "{:.3f}"),
        ("throughput", "MiB/s", "{:.0f}"),
        ("reconnect", "s", "{:.3f}"),
    ):
        for name, row in results[measure_name].items():
            cells = " | ".join(f"{form.format(row[key])} {unit}" for key in ("median", "min", "max"))
            print(f"| {TITLES[measure_name].format(mib=args.mib)} | {name} | {cells} |")
    missed = []
    added = ready["darse tunnel (ssh)"]["median"] - ready["ssh -N -L"]["median"]
    speeds = results["throughput"]
    ratio = speeds["darse tunnel (ssh)"]["median"] / speeds["ssh -N -L"]["median"]
    paired = statistics.median(
        d / s for d, s in zip(speeds["darse tunnel (ssh)"]["runs"], speeds["ssh -N -L"]["runs"], strict=True)
    )
    local = speeds["darse tunnel (local engine)"]["median"]
    print(f"\ndarse adds {added:+.3f} s to plain ssh's time to a usable tunnel (budget < {READY_BUDGET} s): "
          f"{'met' if added < READY_BUDGET else 'MISSED'}")  # fmt: skip
    print(f"SSH logins per darse tunnel start: {ready['darse tunnel (ssh)']['ssh_logins']} (plain ssh: 1)")
    print(f"darse's ssh throughput / plain ssh's: {ratio:.3f}, median of the rounds' ratios {paired:.3f} "
          f"(budget >= {THROUGHPUT_BUDGET}, the ratio of the medians): "
          f"{'met' if ratio >= THROUGHPUT_BUDGET else 'MISSED'}")  # fmt: skip
    print(f"darse's local relay / published port: {local / speeds['published port (docker-proxy)']['median']:.3f}, "
          f"/ direct: {local / speeds['container address (direct)']['median']:.3f} (no budget)")  # fmt: skip
    if added >= READY_BUDGET:
        missed.append(f"time to a usable tunnel: darse adds {added:.3f} s")
    if ratio < THROUGHPUT_BUDGET:
        missed.append(f"throughput: darse / ssh = {ratio:.3f}")
    results["budgets"] = {"ready_added_s": added, "throughput_ratio": ratio, "throughput_paired": paired}
    results["budgets"]["missed"] = missed
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="timed rounds of measures 1-3")
    parser.add_argument("--warmup", type=int, default=1, help="rounds of measure 1 not counted")
    parser.add_argument("--mib", type=int, default=256, help="MiB pushed per throughput run")
    parser.add_argument("--reconnects", type=int, default=7, help="drops of measure 4")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "tunnel_bench.json")
    parser.add_argument("--check", action="store_true", help="exit 1 when darse misses a budget")
    args = parser.parse_args()
    from helpers.sshd import start_sshd

    load_before = os.getloadavg()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in load_before)}", flush=True)
    ensure_images()
    compiled()
    work = Path(tempfile.mkdtemp(prefix="darse-tunnel-bench-"))
    state = Path(tempfile.mkdtemp(prefix="dtb-", dir="/tmp"))  # short: a control socket's path is limited
    try:
        with start_sshd() as sshd, deployed(work, sshd) as folder:
            bench = Bench(work, state, sshd, folder)
            bench.ip = run("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                           f"{folder}-db-1").stdout.strip()  # fmt: skip
            published = run("docker", "port", f"{folder}-pub-1", str(PORT)).stdout.split()[0]
            bench.published = int(published.rpartition(":")[2])
            wait_ping(PORT, bench.ip)
            wait_ping(bench.published)
            results = measure(bench, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)
    load_after = os.getloadavg()
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in load_after)}")
    missed = report(results, args)
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {"runs": args.runs, "warmup": args.warmup, "mib": args.mib, "reconnects": args.reconnects},
        "load_average": {"start": load_before, "end": load_after},
        "ssh": subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip(),
        **results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {args.out}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
