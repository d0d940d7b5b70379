"""`darse certs watch`: `darse certs sync` again whenever Traefik rewrites acme.json, for as long as it runs.

acme.json is watched through its folder (inotify, else polling), so Traefik replacing it by a rename
is seen like a rewrite in place. A burst of rewrites is let settle (`debounce`: no change for that
long) before one sync, and the sync itself compares what each consumer has with what it would get:
however many times the file is rewritten, a consumer is reloaded once per distinct certificate that
stays. A file cut mid-write is read again, and if it stays cut the sync is skipped until the next
change (nothing is installed from it). A sync also runs every `interval` seconds without a change, to
serve a consumer recreated by `darse up` in the meantime (its volume kept its files, but a new
volume would not have them).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path

from darse.certs.acme import configured_acme
from darse.certs.filewatch import FileWatch
from darse.certs.sync import UNCHANGED, sync_certificates
from darse.errors import DarseError
from darse.model.repository import find_root, open_repository

DEBOUNCE = 0.3  # seconds without a change before acme.json is read: Traefik writes it in one go
LONGEST_SETTLE = 10.0  # a file rewritten without pause is still read after this long
INTERVAL = 300.0  # seconds between syncs when nothing changes
Log = Callable[[str], None]


def watch_certificates(
    start: Path,
    *,
    log: Log,
    stop: threading.Event,
    acme: Path | None = None,
    resolver: str | None = None,
    debounce: float = DEBOUNCE,
    interval: float = INTERVAL,
    poll: bool = False,
) -> None:
    """Sync now, then after every settled change of acme.json and every `interval` seconds, until
    `stop` is set. Every action and every failure is one line to `log`; a failed sync (acme.json
    missing or cut, an engine down) is logged and retried at the next change or interval."""
    root = find_root(start)
    path = acme if acme is not None else configured_acme(open_repository(root).config.certs, root)
    with FileWatch(path, force_polling=poll) as changes:
        log(f"watching {path} ({changes.kind}); debounce {debounce:g} s, a sync every {interval:g} s anyway")
        _sync(root, path, resolver, log, everything=True)
        next_sync = time.monotonic() + interval
        while not stop.is_set():
            changed = changes.wait(min(1.0, max(0.0, next_sync - time.monotonic())))
            if stop.is_set():
                break
            if changed:
                changes.settle(debounce, LONGEST_SETTLE)
                log(f"{path.name} changed")
            elif time.monotonic() < next_sync:
                continue
            _sync(root, path, resolver, log, everything=False)
            next_sync = time.monotonic() + interval
    log("stopped")


def _sync(root: Path, acme: Path, resolver: str | None, log: Log, *, everything: bool) -> None:
    """One sync of every consumer (the repository read again: a pulled commit may add one)."""
    try:
        report = sync_certificates(root, acme=acme, resolver=resolver)
    except DarseError as exc:
        log(f"sync failed: {exc.one_line()}")
        return
    for consumer in report.consumers:
        if everything or consumer.outcome != UNCHANGED:
            log(consumer.line())


def stamped(write: Callable[[str], None]) -> Log:
    """A log that puts the UTC time before each line, as a service's log reads best."""

    def log(line: str) -> None:
        write(f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ} {line}")

    return log
