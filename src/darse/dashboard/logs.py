"""A service's logs, live: every container of its Compose project (or every task of its Swarm stack),
followed, stamped, masked and filtered, for the dashboard's logs page.

`follow_logs(ctx, name)` starts a `LogFollower`. One thread (the "watch" thread) makes every call to the
engine: it subscribes to the project's container events first, then lists the containers and follows
each running one; whenever a container starts (a redeploy recreates them, a restart starts them again)
it lists them again and follows those it does not follow yet, so the stream survives a redeploy. On a
Swarm it follows each service of the stack (`GET /services/{id}/logs` covers every task on every node,
tasks started later included) and lists the stack again on each service event. Each followed log has
a reader thread that only reads.

Every line is masked with the service's known secret values before anything else looks at it (the
filter included: a filter must not be a way to guess a secret), then cut to MAX_SHOWN characters.
Lines wait in a bounded buffer; when the reader of the buffer is too slow, the newest lines are dropped
and counted (a note says how many). `close()` shuts every engine connection down at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from darse.errors import DarseError
from darse.masking import Masker, masker_for_compose

if TYPE_CHECKING:
    from darse.deploy.context import DeployContext
    from darse.engine.docker import Engine
    from darse.engine.logs import FollowedLog, LogRecord, SwarmService

DEFAULT_TAIL = 100  # lines of each container's past shown when the page opens
MAX_TAIL = 1000
NEW_CONTAINER_TAIL = 1000  # lines of a container started while following (all it wrote since, in practice)
MAX_SHOWN = 2000  # characters of a line shown; the rest is cut
MAX_FILTER = 200  # characters of a filter
MAX_BUFFERED = 2000  # lines waiting for the reader; more are dropped and counted
RETRY_SECONDS = 2.0  # after the engine's event stream broke, before subscribing again


@dataclass(frozen=True)
class LogLine:
    """One line as the dashboard shows it (masked, cut), or a note of the follower (`note`: no source)."""

    source: str  # the container's name, or a Swarm task as SERVICE.SLOT
    time: str  # the engine's stamp, RFC 3339 with nanoseconds ("" for a note)
    text: str
    cut: bool = False
    note: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_tail(tail: int | str | None) -> int:
    """The number of past lines per container to show: 0 to MAX_TAIL (DarseError with a hint otherwise)."""
    if tail is None or tail == "":
        return DEFAULT_TAIL
    try:
        value = int(str(tail).strip())
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_TAIL:
        raise DarseError(f"the tail must be a number of lines from 0 to {MAX_TAIL}", f"for example {DEFAULT_TAIL}")
    return value


def check_filter(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) > MAX_FILTER or any(ord(c) < 32 for c in text):
        raise DarseError(f"the filter must be one line of at most {MAX_FILTER} characters", "shorten it")
    return text


# CSI (colours, cursor), OSC (titles, links) up to BEL or ST, other two-character escapes, and the C0
# controls but the tab
_TERMINAL_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|[\x00-\x08\x0b-\x1f\x7f]"
)


class LineShaper:
    """Masks, cuts and filters the engine's lines (pure: the unit tests' subject)."""

    def __init__(self, masker: Masker, text_filter: str = "") -> None:
        self.masker = masker
        self.filter = text_filter.casefold()
        # a line the engine cut may end with the start of a secret: that many characters are dropped
        self._unsafe_end = max((len(value) for value in masker.anywhere), default=1) - 1

    def shape(self, source: str, time: str, text: str, cut: bool) -> LogLine | None:
        """The line to show, or None when the filter hides it. Terminal escapes (colours, titles, cursor
        moves) go first: a page shows them as garbage, and a secret split by one is masked whole."""
        shown = self.masker.text(_TERMINAL_ESCAPES.sub("", text))
        if cut and self._unsafe_end:
            shown = shown[: max(0, len(shown) - self._unsafe_end)]
        if len(shown) > MAX_SHOWN:
            shown, cut = shown[:MAX_SHOWN], True
        if self.filter and self.filter not in shown.casefold() and self.filter not in source.casefold():
            return None
        return LogLine(source, time, shown, cut)


def follow_logs(
    ctx: DeployContext,
    name: str,
    tail: int | str | None = DEFAULT_TAIL,
    text_filter: str | None = "",
    notify: Callable[[], None] | None = None,
) -> LogFollower:
    """Start following service `name`'s logs (see the module); the caller must `close()` the follower.

    `notify` is called (from a follower's thread; it must return at once) when lines arrive while none
    were waiting. Errors: DarseError for an unknown service, a bad tail or filter, an unreachable engine."""
    lines = check_tail(tail)
    wanted = check_filter(text_filter)
    service = ctx.service(name)
    project = ctx.project(service)
    swarm = ctx.target_of(service).is_swarm
    masker = masker_for_compose(*service.compose_paths)
    # a client of its own (the follower closes it), connected now: the one-line "cannot reach" error comes
    # from here, before any thread starts
    engine = ctx.connect_engine(ctx.endpoint_of(service))
    follower = LogFollower(engine, project, LineShaper(masker, wanted), lines, swarm=swarm, notify=notify)
    follower.start()
    return follower


class LogFollower:
    """Follows the logs of one Compose project or Swarm stack in threads (see the module).

    Read with `take()` (what is waiting, at once) or `wait()` (blocks until something comes). The follower
    owns `engine`: it closes it when it stops."""

    def __init__(
        self,
        engine: Engine,
        project: str,
        shaper: LineShaper,
        tail: int = DEFAULT_TAIL,
        swarm: bool = False,
        notify: Callable[[], None] | None = None,
        buffered: int = MAX_BUFFERED,
    ) -> None:
        self.engine = engine
        self.project = project
        self.shaper = shaper
        self.tail = tail
        self.swarm = swarm
        self._notify = notify
        self._buffered = buffered
        self._lines: deque[LogLine] = deque()
        self._dropped = 0
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._streams: set[Any] = set()  # every open engine stream: the events, each followed log
        self._followed: set[str] = set()  # container or Swarm service IDs followed now
        self._last_time: dict[str, str] = {}  # by container ID: the newest stamp shown
        self._known: set[str] = set()  # container IDs seen (their past is not shown again)
        self._slots: dict[str, dict[str, str]] = {}  # Swarm service ID -> task ID -> slot
        self._thread: threading.Thread | None = None
        self.followed_count = 0  # how many logs were followed in all (the tests' probe)

    # -- reading --------------------------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def take(self, limit: int = 500) -> list[LogLine]:
        """The lines waiting (at most `limit`), oldest first, without blocking; a note first when some
        were dropped since the last take."""
        with self._lock:
            out: list[LogLine] = []
            if self._dropped:
                out.append(_note(f"{self._dropped} lines skipped: they came faster than they could be shown"))
                self._dropped = 0
            while self._lines and len(out) < limit:
                out.append(self._lines.popleft())
            return out

    def wait(self, timeout: float, limit: int = 500) -> list[LogLine]:
        """The lines waiting, waiting up to `timeout` seconds for the first one."""
        with self._lock:
            self._lock.wait_for(lambda: self._lines or self._dropped or self._stop.is_set(), timeout)
        return self.take(limit)

    # -- life -----------------------------------------------------------------------------------------

    def start(self) -> None:
        target = self._watch_stack if self.swarm else self._watch_project
        self._thread = threading.Thread(target=target, name=f"darse-logs-{self.project}", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 0) -> None:
        """Stop: every engine connection is shut down now (the threads end on their own, or within
        `timeout` seconds when one is given)."""
        self._stop.set()
        with self._lock:
            streams = list(self._streams)
            self._lock.notify_all()
        for stream in streams:
            with contextlib.suppress(Exception):
                stream.close()
        if timeout and self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> LogFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the buffer -----------------------------------------------------------------------------------

    def _put(self, line: LogLine) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            was_empty = not self._lines and not self._dropped
            if len(self._lines) >= self._buffered:
                self._dropped += 1
            else:
                self._lines.append(line)
            self._lock.notify_all()
        if was_empty and self._notify is not None:
            with contextlib.suppress(Exception):
                self._notify()

    def _track(self, stream: Any) -> bool:
        """Register an open stream; False (and the stream closed) when the follower stopped meanwhile."""
        with self._lock:
            if not self._stop.is_set():
                self._streams.add(stream)
                return True
        with contextlib.suppress(Exception):
            stream.close()
        return False

    def _untrack(self, stream: Any) -> None:
        with self._lock:
            self._streams.discard(stream)

    # -- a Compose project ----------------------------------------------------------------------------

    def _watch_project(self) -> None:
        """Subscribe to the project's events, follow its running containers, and again at each start."""
        self._watch(
            lambda: self.engine.events(project=self.project),
            lambda event: event.action == "start",
            self._scan_containers,
            f"no container of {self.project} runs; waiting for one to start",
        )

    def _watch(
        self,
        subscribe: Callable[[], Any],
        relevant: Callable[[Any], bool],
        scan: Callable[[bool], None],
        nothing_yet: str,
    ) -> None:
        """The follower's thread: subscribe to the engine's events, follow what `scan` finds, and scan
        again on each `relevant` event; subscribe again when the stream breaks, until stopped."""
        first = True
        try:
            while not self._stop.is_set():
                try:
                    events = subscribe()
                except Exception:  # the engine went away: try again
                    self._stop.wait(RETRY_SECONDS)
                    continue
                if not self._track(events):
                    return
                try:
                    scan(first)
                    if first and not self._followed:
                        self._put(_note(nothing_yet))
                    first = False
                    for event in events:
                        if relevant(event):
                            scan(False)
                except Exception:
                    pass  # the stream broke (or a listing failed): subscribe again
                finally:
                    self._untrack(events)
                    with contextlib.suppress(Exception):
                        events.close()
                if not self._stop.is_set():
                    self._put(_note("the engine's event stream ended; following again"))
                    self._stop.wait(RETRY_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                self.engine.close()

    def _scan_containers(self, initial: bool) -> None:
        from darse.engine.logs import follow_container

        for container in sorted(self.engine.containers(project=self.project), key=lambda c: c.name):
            seen_before = container.id in self._known
            self._known.add(container.id)
            if not container.running or self._is_followed(container.id):
                continue
            if initial or not seen_before:  # its recent past; a container new since we started: all of it
                tail, since = (self.tail if initial else NEW_CONTAINER_TAIL), None
            else:  # started again: from where its last stream ended
                tail, since = "all", _epoch(self._last_time.get(container.id, ""))
            try:
                log = follow_container(self.engine, container.id, tail=tail, since=since)
            except Exception:  # gone meanwhile: its successor's start comes as an event
                continue
            if not self._track(log):
                return
            with self._lock:
                self._followed.add(container.id)
                self.followed_count += 1
            if not initial:
                self._put(_note(f"following {container.name}"))
            threading.Thread(target=self._read_container, args=(log, container.id, container.name), daemon=True).start()

    def _is_followed(self, key: str) -> bool:
        with self._lock:
            return key in self._followed

    def _read_container(self, log: FollowedLog, container_id: str, name: str) -> None:
        last = self._last_time.get(container_id, "")
        try:
            for record in log:
                if last and record.time and record.time <= last:  # shown by the stream before this one
                    continue
                self._last_time[container_id] = record.time
                self._show(name, record)
        except Exception:
            pass
        finally:
            self._untrack(log)
            with self._lock:
                self._followed.discard(container_id)
            if not self._stop.is_set():
                self._put(_note(f"{name} stopped"))

    def _show(self, source: str, record: LogRecord) -> None:
        line = self.shaper.shape(source, record.time, record.text, record.cut)
        if line is not None:
            self._put(line)

    # -- a Swarm stack --------------------------------------------------------------------------------

    def _watch_stack(self) -> None:
        """Subscribe to the Swarm's service events, follow each service of the stack, and list them again
        when a service of the stack is created, updated or removed."""
        from darse.engine.logs import ServiceEvents

        self._watch(
            lambda: ServiceEvents(self.engine),
            lambda name: name.startswith(self.project + "_"),
            self._scan_services,
            f"no service of stack {self.project}; waiting for one",
        )

    def _scan_services(self, initial: bool) -> None:
        from darse.engine.logs import follow_service, stack_services, task_slots

        for service in stack_services(self.engine, self.project):
            if self._is_followed(service.id):  # an update: its new tasks get their names
                with contextlib.suppress(Exception):
                    self._slots[service.id] = task_slots(self.engine, service.id)
                continue
            try:
                self._slots[service.id] = task_slots(self.engine, service.id)
                log = follow_service(self.engine, service, tail=self.tail if initial else NEW_CONTAINER_TAIL)
            except Exception:
                continue
            if not self._track(log):
                return
            with self._lock:
                self._followed.add(service.id)
                self.followed_count += 1
            if not initial:
                self._put(_note(f"following {service.name}"))
            threading.Thread(target=self._read_service, args=(log, service), daemon=True).start()

    def _read_service(self, log: FollowedLog, service: SwarmService) -> None:
        try:
            for record in log:
                slot = self._slots.get(service.id, {}).get(record.task) or record.task[:12]
                self._show(f"{service.name}.{slot}", record)
        except Exception:
            pass
        finally:
            self._untrack(log)
            with self._lock:
                self._followed.discard(service.id)


def _note(text: str) -> LogLine:
    return LogLine("", "", text, note=True)


def _epoch(stamp: str) -> float | None:
    """Seconds since the epoch of an engine stamp (microseconds kept); None when there is none."""
    if not stamp:
        return None
    try:
        return dt.datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return None
