"""`darse backup` side by side with plain restic, tar and pg_dump, on the local engine, in one run.

Three measures, each repeated (--runs rounds after a warm-up that is not counted: darse, restic and tar
each run once; --warmup adds whole rounds), median reported:

1. first backup of a named volume holding --size-mib of random data in files of mixed sizes
   (`darse backup FOLDER` of a deployed one-container service) against plain `restic backup` of the
   same directory (the volume's mountpoint) and `tar -cf` of it into a file. darse and restic each
   back up into a fresh repository every round: copies of one empty repository initialised once, so
   that both open a repository with the same key-derivation cost; each keeps its own restic cache.
2. incremental backups into the same repositories: a second run of each with the volume unchanged,
   then a third after 1 % of it was rewritten (1 % of the files and 1 % of each large file).
3. dump-and-store of a PostgreSQL database of --rows rows (Debian's PostgreSQL 15, the test image
   tests/helpers/databases.py builds): `darse backup FOLDER` (pg_dumpall inside the container,
   streamed into a fresh restic repository) against `pg_dump > /tmp/file` and `pg_dumpall > /tmp/file`
   run inside the same container through `docker exec`, and against the plain pipeline
   `docker exec ... pg_dumpall | restic backup --stdin` into a fresh repository (what darse does, by hand).

Within a round the tools take turns, the order changing from round to round (the first backup's three
tools in each of their 6 orders over 6 rounds), so that a busy moment of the machine falls on all of
them alike. Wall time is from spawning the process to reaping it
(`os.wait4`, which also gives the child's CPU time, its children's included). Written data is synced
to disk before anything is timed, so that no tool pays for another's writeback. Every darse run is
checked (its JSON report: every item ok, the files restic saw as new and changed), and so is restic's
summary. Budget (issue 16): darse's first backup under 1.10 times plain restic's, as the ratio of the
medians and as the median of the ratios of each round (the tools run back to back in a round).

Needs: a running engine with the Compose plugin, restic on PATH, darse installed, and docker-py (to
build the PostgreSQL image with the tests' helper). Everything made is removed at the end: the
Compose projects and their volumes, the restic repositories and caches, the temporary folder.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from deploy_support import BASE, darse_executable, ensure_images, run

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

BUDGET = 1.10  # darse's first backup / plain restic's
MIB = 1 << 20
FILES_COMPOSE = """\
# A service holding a volume of files: what darse backs up by letting restic read its directory.
services:
  app:
    image: {image}
    init: true
    command: ["sh", "-c", "exec sleep 86400"]
    volumes:
      - data:/data
volumes:
  data:
"""
PG_COMPOSE = """\
# A PostgreSQL database: darse dumps it inside its container (pg_dumpall) instead of copying its files.
services:
  db:
    image: {image}
    environment:
      POSTGRES_USER: bench
      POSTGRES_PASSWORD: "{password}"
      POSTGRES_DB: bench
    volumes:
      - db-data:/var/lib/postgresql/data
volumes:
  db-data:
"""
FILL_SQL = """\
CREATE TABLE events (id bigint PRIMARY KEY, account int NOT NULL, kind text NOT NULL,
                     amount numeric(12, 2) NOT NULL, note text, at timestamptz NOT NULL);
INSERT INTO events
  SELECT g, g % 5000, (ARRAY['open', 'pay', 'refund', 'close'])[1 + g % 4], round((random() * 1000)::numeric, 2),
         md5(g::text) || ' ' || repeat('x', g % 40), timestamptz '2026-01-01' + g * interval '7 seconds'
  FROM generate_series(1, {rows}) g;
ANALYZE events;
"""
PG_DUMP = "pg_dump -U bench bench > /tmp/bench-dump.sql && stat -c %s /tmp/bench-dump.sql"
PG_DUMPALL = "pg_dumpall -U bench > /tmp/bench-dump.sql && stat -c %s /tmp/bench-dump.sql"
PG_PIPE = "docker exec {container} sh -c 'pg_dumpall -U bench' | restic backup --stdin --stdin-filename bench.sql"
_RESTIC_FILES = re.compile(r"Files:\s+(\d+) new,\s+(\d+) changed,\s+(\d+) unmodified")


@dataclass
class Timing:
    wall: float
    cpu: float
    output: str


def timed(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> Timing:
    """Run `args` to completion (output into `log`, not a pipe) and fail loudly when it fails. Dirty pages
    are written out first, so that no run pays for the previous one's writeback (a restic repository of
    1 GiB is written to disk in the background for tens of seconds after restic exits)."""
    os.sync()
    with open(log, "wb") as sink:
        start = time.perf_counter()
        child = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    output = log.read_text(errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited with {child.returncode}:\n{output[-3000:]}")
    return Timing(wall, usage.ru_utime + usage.ru_stime, output)


# --- the data ----------------------------------------------------------------------------------------


def layout(size_mib: int, seed: int) -> list[tuple[str, int]]:
    """Relative paths and sizes adding up to `size_mib`: 3/8 in three large files, 3/8 in 4 MiB files,
    1/8 in 64 KiB files and 1/8 in small files of 1-16 KiB, a few hundred to a folder."""
    rng = random.Random(seed)
    total = size_mib * MIB
    files = [(f"large/blob-{i}.bin", total // 8) for i in range(3)]
    files += [(f"media/{i // 50:03d}/m-{i:04d}.bin", 4 * MIB) for i in range(max(1, total * 3 // 8 // (4 * MIB)))]
    files += [(f"docs/{i // 400:03d}/d-{i:05d}.bin", 64 << 10) for i in range(total // 8 // (64 << 10))]
    budget, index = total - sum(size for _, size in files), 0
    while budget > 0:
        size = min(budget, rng.randint(1 << 10, 16 << 10))
        files.append((f"small/{index // 500:03d}/s-{index:06d}.txt", size))
        budget -= size
        index += 1
    return files


def write_random(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        left = size
        while left:
            piece = min(left, 8 * MIB)
            handle.write(os.urandom(piece))
            left -= piece


def change_one_percent(root: Path, files: list[tuple[str, int]], round_index: int) -> tuple[int, int]:
    """Rewrite every 100th file (an offset per round) and 1 % of each large file in place; returns the
    number of files touched and the bytes rewritten."""
    touched = written = 0
    for index, (name, size) in enumerate(files):
        path = root / name
        if name.startswith("large/"):
            part = size // 100
            offset = random.Random(round_index * 1000 + index).randrange(0, size - part)
            with open(path, "r+b") as handle:
                handle.seek(offset)
                handle.write(os.urandom(part))
        elif (index + round_index) % 100 == 0:
            path.write_bytes(os.urandom(size))
            part = size
        else:
            continue
        touched += 1
        written += part
    return touched, written


# --- the engine --------------------------------------------------------------------------------------


def compose(root: Path, folder: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run("docker", "compose", "-p", folder, "--project-directory", str(root / folder), *args, check=False)


def wait_healthy(container: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = run("docker", "inspect", "-f", "{{.State.Health.Status}}", container, check=False).stdout.strip()
        if state == "healthy":
            return
        time.sleep(0.5)
    raise SystemExit(f"{container} is not healthy after {timeout:.0f} s")


def exec_sh(container: str, script: str, stdin: str = "") -> str:
    done = subprocess.run(
        ["docker", "exec", "-i", container, "sh", "-c", script], input=stdin, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"in {container}: {script} failed:\n{done.stderr[-2000:]}")
    return done.stdout


# --- the measures ------------------------------------------------------------------------------------


class Bench:
    """The temporary repository, restic repositories, caches and the commands each tool runs."""

    def __init__(self, work: Path, files_folder: str, pg_folder: str) -> None:
        self.work = work
        self.root = work / "services"
        self.store = work / "store"
        self.password = self.store / "password"
        self.template = self.store / "template"
        self.darse_repo = self.store / "darse"
        self.restic_repo = self.store / "restic"
        self.logs = work / "logs"
        self.files_folder, self.pg_folder = files_folder, pg_folder
        self.darse = darse_executable()
        base = {**os.environ, "DARSE_STATE_DIR": str(work / "state")}
        for key in ("RESTIC_PASSWORD", "RESTIC_PASSWORD_COMMAND", "RESTIC_REPOSITORY_FILE"):
            base.pop(key, None)
        self.darse_env = {**base, "RESTIC_CACHE_DIR": str(work / "cache-darse")}
        self.restic_env = {
            **base,
            "RESTIC_CACHE_DIR": str(work / "cache-restic"),
            "RESTIC_REPOSITORY": str(self.restic_repo),
            "RESTIC_PASSWORD_FILE": str(self.password),
        }
        self.mountpoint = Path()
        self.db_container = ""

    def fresh_repositories(self) -> None:
        """Both tools start from the same empty repository (same keys and key-derivation cost), cold caches."""
        for path in (self.darse_repo, self.restic_repo, self.work / "cache-darse", self.work / "cache-restic"):
            shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(self.template, self.darse_repo)
        shutil.copytree(self.template, self.restic_repo)

    def darse_backup(self, folder: str, tag: str) -> tuple[Timing, dict]:
        timing = timed([self.darse, "backup", folder, "--json"], self.darse_env, self.root, self.logs / f"{tag}.log")
        report = json.loads(timing.output[timing.output.index("{") :])
        bad = [item for item in report["items"] if not item["ok"]]
        if bad or not report["items"]:
            raise SystemExit(f"darse backup {folder}: {bad or 'no item'}")
        return timing, report

    def restic_backup(self, tag: str, args: list[str] | None = None) -> tuple[Timing, tuple[int, int, int]]:
        args = args or ["restic", "backup", "--", str(self.mountpoint)]
        timing = timed(args, self.restic_env, self.work, self.logs / f"{tag}.log")
        found = _RESTIC_FILES.search(timing.output)
        if not found:
            raise SystemExit(f"restic printed no summary:\n{timing.output[-2000:]}")
        new, changed, unmodified = (int(x) for x in found.groups())
        return timing, (new, changed, unmodified)

    def tar(self, tag: str) -> Timing:
        target = self.work / "volume.tar"
        timing = timed(
            ["tar", "-cf", str(target), "-C", str(self.mountpoint), "."],
            self.restic_env,
            self.work,
            self.logs / f"{tag}.log",
        )
        target.unlink()
        return timing

    def pg(self, script: str, tag: str) -> tuple[Timing, int]:
        timing = timed(
            ["docker", "exec", self.db_container, "sh", "-c", script],
            self.restic_env,
            self.work,
            self.logs / f"{tag}.log",
        )
        return timing, int(timing.output.split()[-1])


def make_services(bench: Bench, image: str, pg_image: str) -> None:
    root = bench.root
    (root / bench.files_folder).mkdir(parents=True)
    (root / bench.pg_folder).mkdir()
    (root / "darse.toml").write_text(
        f'[backup]\nrepository = "{bench.darse_repo}"\npassword_file = "{bench.password}"\n'
    )
    (root / bench.files_folder / "compose.yaml").write_text(FILES_COMPOSE.format(image=image))
    password = secrets.token_hex(16)
    (root / bench.pg_folder / "compose.yaml").write_text(PG_COMPOSE.format(image=pg_image, password=password))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@darse.invalid"]
    run(*git, "init", "-q", cwd=root)
    run(*git, "add", "-A", cwd=root)
    run(*git, "commit", "-q", "-m", "backup benchmark services", cwd=root)


def deploy(bench: Bench, size_mib: int, rows: int, seed: int) -> list[tuple[str, int]]:
    for folder in (bench.files_folder, bench.pg_folder):
        up = compose(bench.root, folder, "up", "-d")
        if up.returncode != 0:
            raise SystemExit(f"docker compose up {folder}: {up.stderr[-2000:]}")
    volume = f"{bench.files_folder}_data"
    bench.mountpoint = Path(run("docker", "volume", "inspect", "-f", "{{.Mountpoint}}", volume).stdout.strip())
    files = layout(size_mib, seed)
    print(f"writing {size_mib} MiB of random data in {len(files)} files into volume {volume} ...", flush=True)
    for name, size in files:
        write_random(bench.mountpoint / name, size)
    os.sync()
    bench.db_container = f"{bench.pg_folder}-db-1"
    wait_healthy(bench.db_container)
    print(f"filling PostgreSQL with {rows} rows ...", flush=True)
    exec_sh(bench.db_container, "psql -X -q -v ON_ERROR_STOP=1 -U bench bench", FILL_SQL.format(rows=rows))
    count = exec_sh(bench.db_container, "psql -X -q -At -U bench bench -c 'SELECT count(*) FROM events'")
    if int(count) != rows:
        raise SystemExit(f"the table holds {count.strip()} rows, not {rows}")
    return files


def warm_up(bench: Bench) -> None:
    """Not counted: every program and the volume's files read once (page cache, darse's imports, restic)."""
    bench.fresh_repositories()
    bench.darse_backup(bench.pg_folder, "warmup-darse")
    timed(["restic", "snapshots"], bench.restic_env, bench.work, bench.logs / "warmup-restic.log")
    bench.tar("warmup-tar")


def one_round(bench: Bench, files: list[tuple[str, int]], index: int, record: dict[str, list]) -> None:
    """One of each measure; `record` gets (wall, cpu) per measure and tool, plus the checks' figures."""
    bench.fresh_repositories()
    tag = f"r{index}"
    first = {
        "darse": lambda: bench.darse_backup(bench.files_folder, f"{tag}-darse-first"),
        "restic": lambda: bench.restic_backup(f"{tag}-restic-first"),
        "tar": lambda: (bench.tar(f"{tag}-tar"), None),
    }
    orders = list(itertools.permutations(first))  # over 6 rounds, each tool as often before and after each other
    for tool in orders[index % len(orders)]:
        timing, detail = first[tool]()
        record[f"first.{tool}"].append((timing.wall, timing.cpu))
        if tool == "darse":
            (item,) = detail["items"]
            if item["files_new"] != len(files):
                raise SystemExit(f"darse's first backup saw {item['files_new']} new files, not {len(files)}")
            record["first.darse.bytes_added"].append(item["bytes_added"])
        if tool == "restic" and detail[0] != len(files):
            raise SystemExit(f"restic's first backup saw {detail[0]} new files, not {len(files)}")
    for step in ("second", "third"):
        expected = (0, 0)
        if step == "third":
            touched, written = change_one_percent(bench.mountpoint, files, index)
            os.sync()
            expected = (0, touched)
            record["third.changed_files"].append(touched)
            record["third.changed_bytes"].append(written)
        pair = ["darse", "restic"] if index % 2 == 0 else ["restic", "darse"]
        for tool in pair:
            if tool == "darse":
                timing, report = bench.darse_backup(bench.files_folder, f"{tag}-darse-{step}")
                (item,) = report["items"]
                seen = (item["files_new"], item["files_changed"])
            else:
                timing, (new, changed, _unmodified) = bench.restic_backup(f"{tag}-restic-{step}")
                seen = (new, changed)
            if seen != expected:
                raise SystemExit(f"{tool}'s {step} backup saw (new, changed) = {seen}, expected {expected}")
            record[f"{step}.{tool}"].append((timing.wall, timing.cpu))
    bench.fresh_repositories()  # the dumps go into empty repositories, not beside the volume's data
    pipe = ["bash", "-o", "pipefail", "-c", PG_PIPE.format(container=bench.db_container)]
    dumps = {
        "darse": lambda: bench.darse_backup(bench.pg_folder, f"{tag}-darse-pg"),
        "pg_dump": lambda: bench.pg(PG_DUMP, f"{tag}-pg_dump"),
        "pg_dumpall": lambda: bench.pg(PG_DUMPALL, f"{tag}-pg_dumpall"),
        "pg_dumpall piped to restic": lambda: bench.restic_backup(f"{tag}-pipe", pipe),
    }
    order = list(dumps)
    shift = index % len(order)
    for tool in order[shift:] + order[:shift]:
        timing, detail = dumps[tool]()
        record[f"pg.{tool}"].append((timing.wall, timing.cpu))
        if tool == "darse":
            (item,) = detail["items"]
            record["pg.darse.bytes_added"].append(item["bytes_added"])
        elif tool == "pg_dumpall piped to restic":
            if detail[0] != 1:
                raise SystemExit(f"the pipeline into restic saved {detail[0]} files, not 1")
        else:
            record[f"pg.{tool}.bytes"].append(detail)
    exec_sh(bench.db_container, "rm -f /tmp/bench-dump.sql")


# --- the report --------------------------------------------------------------------------------------

ROWS = [
    ("first", "first backup of the volume", ("darse", "restic", "tar"), "restic", BUDGET),
    ("second", "second backup, unchanged", ("darse", "restic"), "restic", None),
    ("third", "third backup, 1 % changed", ("darse", "restic"), "restic", None),
    (
        "pg",
        "PostgreSQL dump, stored",
        ("darse", "pg_dump", "pg_dumpall", "pg_dumpall piped to restic"),
        "pg_dump",
        None,
    ),
]


def summarise(record: dict[str, list]) -> dict:
    summary: dict = {}
    for key, _title, tools, base, _budget in ROWS:
        summary[key] = {}
        bases = [wall for wall, _cpu in record[f"{key}.{base}"]]
        for tool in tools:
            walls = [wall for wall, _cpu in record[f"{key}.{tool}"]]
            cpus = [cpu for _wall, cpu in record[f"{key}.{tool}"]]
            summary[key][tool] = {
                "median_s": round(statistics.median(walls), 3),
                "min_s": round(min(walls), 3),
                "max_s": round(max(walls), 3),
                "cpu_median_s": round(statistics.median(cpus), 3),
                "runs_s": [round(x, 3) for x in walls],
                "ratio_of_medians": round(statistics.median(walls) / statistics.median(bases), 3),
                "median_of_ratios": round(statistics.median(a / b for a, b in zip(walls, bases, strict=True)), 3),
            }
    return summary


def print_table(summary: dict, sizes: dict) -> None:
    print("\n| measure | tool | median s | min s | max s | CPU s | / baseline | per round | - baseline s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key, title, tools, base, _budget in ROWS:
        base_median = summary[key][base]["median_s"]
        for tool in tools:
            row = summary[key][tool]
            print(
                f"| {title} | {tool} | {row['median_s']:.3f} | {row['min_s']:.3f} | {row['max_s']:.3f} "
                f"| {row['cpu_median_s']:.2f} | {row['ratio_of_medians']:.3f} | {row['median_of_ratios']:.3f} "
                f"| {row['median_s'] - base_median:+.3f} |"
            )
    print(f"\nsizes: {json.dumps(sizes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=6, help="timed rounds (default 6: each order as often)")
    parser.add_argument("--warmup", type=int, default=0, help="whole rounds not counted (default 0)")
    parser.add_argument("--size-mib", type=int, default=1024, help="the volume's data (default 1024 MiB)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the database (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "backup_bench.json")
    parser.add_argument("--check", action="store_true", help="exit 1 when darse misses its budget")
    args = parser.parse_args()
    if shutil.which("restic") is None:
        raise SystemExit("restic is not on PATH (Debian: apt-get install restic)")
    from helpers.databases import postgres_image  # the tests' image: Debian's PostgreSQL 15

    ensure_images()
    pg_image = postgres_image()
    suffix = uuid.uuid4().hex[:6]
    work = Path(tempfile.mkdtemp(prefix="darse-backup-bench-"))
    bench = Bench(work, f"bbfiles{suffix}", f"bbpg{suffix}")
    bench.logs.mkdir()
    bench.store.mkdir(mode=0o700)
    bench.password.write_text(secrets.token_urlsafe(32) + "\n")
    bench.password.chmod(0o600)
    load_before = os.getloadavg()
    started = time.monotonic()
    record: dict[str, list] = {key: [] for key in _record_keys()}
    loads: list[float] = []  # the 1-minute load average after each counted round
    try:
        init = {**bench.restic_env, "RESTIC_REPOSITORY": str(bench.template)}
        timed(["restic", "init"], init, work, bench.logs / "init.log")
        make_services(bench, BASE, pg_image)
        files = deploy(bench, args.size_mib, args.rows, args.seed)
        warm_up(bench)
        for index in range(args.warmup + args.runs):
            counted = index >= args.warmup
            round_started = time.monotonic()
            scratch: dict[str, list] = {key: [] for key in _record_keys()}
            one_round(bench, files, index, scratch if counted else {key: [] for key in _record_keys()})
            if counted:
                for key, values in scratch.items():
                    record[key] += values
            label = f"round {index - args.warmup + 1}/{args.runs}" if counted else f"warm-up {index + 1}"
            first = {tool: round(scratch[f"first.{tool}"][0][0], 1) for tool in ("darse", "restic")} if counted else {}
            took = time.monotonic() - round_started
            if counted:
                loads.append(round(os.getloadavg()[0], 2))
            print(f"{label}: {took:.0f} s, first backups {first}, load {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        for folder in (bench.files_folder, bench.pg_folder):
            compose(bench.root, folder, "down", "--volumes", "-t", "0")
        shutil.rmtree(work, ignore_errors=True)
    summary = summarise(record)
    pipe_runs = [wall for wall, _cpu in record["pg.pg_dumpall piped to restic"]]
    darse_runs = [wall for wall, _cpu in record["pg.darse"]]
    summary["pg"]["darse"]["vs_pipe_ratio_of_medians"] = round(
        statistics.median(darse_runs) / statistics.median(pipe_runs), 3
    )
    summary["pg"]["darse"]["vs_pipe_median_of_ratios"] = round(
        statistics.median(a / b for a, b in zip(darse_runs, pipe_runs, strict=True)), 3
    )
    sizes = {
        "volume_files": len(files),
        "volume_bytes": sum(size for _, size in files),
        "darse_first_bytes_added": statistics.median(record["first.darse.bytes_added"]),
        "changed_files": statistics.median(record["third.changed_files"]),
        "changed_bytes": statistics.median(record["third.changed_bytes"]),
        "pg_rows": args.rows,
        "pg_dump_bytes": statistics.median(record["pg.pg_dump.bytes"]),
        "pg_dumpall_bytes": statistics.median(record["pg.pg_dumpall.bytes"]),
        "pg_darse_bytes_added": statistics.median(record["pg.darse.bytes_added"]),
    }
    ratio = summary["first"]["darse"]["ratio_of_medians"]
    paired = summary["first"]["darse"]["median_of_ratios"]
    met = ratio < BUDGET and paired < BUDGET
    result = {
        "schema": 1,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": args.runs,
        "warmup": args.warmup,
        "seconds": round(time.monotonic() - started),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "load_after_each_round": loads,
        "restic": run("restic", "version").stdout.strip(),
        "sizes": sizes,
        "summary": summary,
        "first_ratio_darse_restic": ratio,
        "first_median_of_ratios_darse_restic": paired,
        "budget": BUDGET,
        "met": met,
    }
    print_table(summary, sizes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        "PostgreSQL, darse / pg_dumpall piped to restic:",
        summary["pg"]["darse"]["vs_pipe_ratio_of_medians"],
        "(medians),",
        summary["pg"]["darse"]["vs_pipe_median_of_ratios"],
        "(median of the rounds' ratios)",
    )
    print(f"load average before {result['load_before']}, after {result['load_after']}; {result['seconds']} s")
    print(
        f"first backup, darse / restic: {ratio:.3f} (medians), {paired:.3f} (median of the rounds' ratios): "
        f"budget < {BUDGET}:",
        "met" if met else "MISSED",
    )
    print(f"written: {args.out}")
    if args.check and not met:
        sys.exit(1)


def _record_keys() -> list[str]:
    keys = [f"{key}.{tool}" for key, _title, tools, _base, _budget in ROWS for tool in tools]
    checks = ["first.darse.bytes_added", "third.changed_files", "third.changed_bytes"]
    return [*keys, *checks, "pg.darse.bytes_added", "pg.pg_dump.bytes", "pg.pg_dumpall.bytes"]


if __name__ == "__main__":
    main()
