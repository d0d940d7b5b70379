"""The detached darse process behind `darse tunnel --background` (`python -m darse.tunnel.background`).

It reads the plans on standard input (JSON from `darse.tunnel.run.start_background`), opens the tunnels,
writes one line on standard output (`{"ready": true}` or the one-line error), then holds them until
SIGTERM, or until `darse tunnel stop` has removed every one of its entries. Its log (drops, reconnections,
failed connections: one line each) goes to `<state>/tunnels/background.log` through standard error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
import threading
from pathlib import Path

from darse.errors import DarseError
from darse.tunnel.plan import TunnelPlan
from darse.tunnel.run import Carriers, hold_tunnels, plan_from_dict

MAX_REQUEST = 1024 * 1024


def main() -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    reported = False

    def say(outcome: dict[str, object]) -> None:
        nonlocal reported
        if reported:
            return
        reported = True
        sys.stdout.write(json.dumps(outcome) + "\n")
        sys.stdout.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # the parent stops reading: nothing more goes to that pipe
        os.close(devnull)

    def log(line: str) -> None:
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        sys.stderr.write(f"{stamp} [{os.getpid()}] {line}\n")
        sys.stderr.flush()

    def ready(plans: list[TunnelPlan]) -> None:
        log(f"ready: {', '.join(f'{p.name} on {p.local_address}' for p in plans)}")
        say({"ready": True})

    try:
        request = json.loads(sys.stdin.buffer.read(MAX_REQUEST))
        plans = [plan_from_dict(item) for item in request["plans"]]
        start = Path(request["start"]) if request.get("start") else None
        state = Path(request["state"])
        carriers = Carriers(state, background=True)
        carriers.adopt(list(request.get("masters") or []))  # the command's SSH logins, now this process's
        hold_tunnels(state, plans, stop, log=log, ready=ready, background=True, carriers=carriers, start=start)
    except DarseError as exc:
        log(exc.one_line())
        say({"ready": False, "error": exc.message, "hint": exc.hint})
        return 2
    except (ValueError, KeyError, TypeError) as exc:
        log(f"bad request: {type(exc).__name__}")
        say({"ready": False, "error": "the background darse process could not read its tunnels"})
        return 2
    log("ended")
    return 0


if __name__ == "__main__":
    sys.exit(main())
