#!/usr/bin/env python3
"""How fast can any Python reader of the engine's export be? The floor under `darse inspect`.

Reads `GET /images/{name}/get` over the local socket in HTTP/1.0 (the way darse does) and walks the
outer and the layer tars reading headers only: no hash, no index, one copy of each data byte into a
scratch buffer. Prints the time to the engine's first byte and the time after it, next to `dive --ci`
run alternately on the same image. If this floor already needs as long after the first byte as dive
needs in all, no Python reader that also indexes and hashes can be faster than dive on that image.

    python benchmarks/export_floor.py darse-bench/inspect-large:bench --runs 3
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import time

from darse.engine.local import LocalEngine
from darse.images.inspect.tarstream import BLOCK, _number


def floor(reference: str) -> tuple[float, float, int]:
    """(seconds to the first byte, seconds after it, members seen)."""
    started = time.perf_counter()
    pending = LocalEngine().start_export(reference)
    response = pending.response()
    first = time.perf_counter()
    stream = io.BufferedReader(response, 1 << 20)  # type: ignore[arg-type]
    scratch = memoryview(bytearray(1 << 20))
    members = 0

    def skip(size: int) -> None:
        while size > 0:
            count = stream.readinto(scratch[: min(size, len(scratch))])
            if not count:
                raise EOFError("export cut short")
            size -= count

    def walk(limit: int | None) -> None:
        nonlocal members
        used = 0
        while limit is None or used < limit:
            header = stream.read(BLOCK)
            used += BLOCK
            if len(header) < BLOCK or not header[0]:
                if limit is not None:
                    skip(limit - used)
                return
            size = _number(header[124:136])
            padded = size + (-size % BLOCK)
            members += 1
            if limit is None and header[:100].split(b"\0", 1)[0].endswith(b"layer.tar"):
                walk(padded)
            else:
                skip(padded)
            used += padded

    walk(None)
    pending.close()
    return first - started, time.perf_counter() - first, members


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    dive = shutil.which("dive")
    firsts, afters, dives = [], [], []
    for _ in range(args.runs):
        first, after, members = floor(args.image)
        firsts.append(first)
        afters.append(after)
        if dive:
            started = time.perf_counter()
            subprocess.run([dive, "--ci", "--source", "docker", args.image], capture_output=True, check=False)
            dives.append(time.perf_counter() - started)
    print(
        f"floor reader: first byte after {statistics.median(firsts):.2f} s, then {statistics.median(afters):.2f} s "
        f"({members} members); total {statistics.median(firsts) + statistics.median(afters):.2f} s"
    )
    if dives:
        print(f"dive --ci: {statistics.median(dives):.2f} s in all (median of {args.runs})")


if __name__ == "__main__":
    main()
