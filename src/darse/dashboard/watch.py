"""The fleet watcher: one subscription to the engines' event streams for the whole dashboard process,
whatever the number of visitors, turned into "these projects changed" notices.

Why one per process: every open fleet page would otherwise hold its own `GET /events` (and every page
asking the engine per service would be the polling the dashboard must not do). The engine announces a
container's changes in bursts (`docker compose up` of one service: create, start, health_status for
each container), so notices are debounced: the first change opens a short window (`debounce`, made
longer while changes keep coming, never past `max_wait`), and every project changed in it goes out in
one notice. A subscriber re-renders only those rows.

The watcher runs while someone subscribes: the first subscriber starts it, the last one leaving stops
it (its stream closed, its threads ended). When a stream breaks (the engine restarted, went away), it
subscribes again after `retry` seconds and sends `ALL`: changes may have been missed meanwhile.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from darse.deploy.context import DeployContext
    from darse.engine.docker import ContainerEvents, Engine

ALL = "*"  # in a notice: every row may have changed (the subscription was made again)
Notice = frozenset[str]  # the Compose projects that changed, or {ALL}
Subscriber = Callable[[Notice], None]


def fleet_engines(ctx: DeployContext) -> list[Engine]:
    """The engines the fleet's Compose services run on, each once (Swarm services are not watched yet).
    An engine that does not answer is left out while another one does (one unreachable target must not
    stop the live rows of the others); when none answers, its DarseError (the watcher tries again)."""
    from darse.errors import DarseError

    services = [s for s in ctx.repository.services if not ctx.target_of(s).is_swarm]
    engines, problem = [], None
    for endpoint in dict.fromkeys(ctx.endpoint_of(s) for s in services):
        try:
            engines.append(ctx.engine_at(endpoint))
        except DarseError as exc:
            problem = exc
    if problem is not None and not engines:
        raise problem
    return engines


class FleetWatcher:
    """Fans the engines' container events out to subscribers as debounced notices (see the module).

    `engines()` gives the engines to watch (`fleet_engines` of a fresh context, for the dashboard); it is
    called again at every (re)subscription. Subscribers are called from the watcher's thread: they must
    return at once (the web layer hands the notice over to its event loop)."""

    def __init__(
        self,
        engines: Callable[[], list[Engine]],
        debounce: float = 0.3,
        max_wait: float = 2.0,
        retry: float = 2.0,
    ) -> None:
        self._engines = engines
        self.debounce, self.max_wait, self.retry = debounce, max_wait, retry
        self._lock = threading.Lock()
        self._subscribers: dict[int, Subscriber] = {}
        self._next_id = 0
        self._stop: threading.Event | None = None
        self._threads: list[threading.Thread] = []
        self._open: dict[threading.Event, list[ContainerEvents]] = {}  # each run's streams, by its stop event
        self.subscriptions = 0  # how many times the engines were subscribed to (the tests' probe)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._stop is not None

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Receive notices from now on; returns the function that unsubscribes (the last one stops the watcher)."""
        with self._lock:
            key = self._next_id
            self._next_id += 1
            self._subscribers[key] = subscriber
            if self._stop is None:
                self._start()

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(key, None)
                last = not self._subscribers
            if last:
                self.stop(timeout=0)  # the threads end on their own once the streams are closed

        return unsubscribe

    def stop(self, timeout: float = 10.0) -> None:
        """Close the streams and end the threads (the subscribers stay; none is called any more)."""
        with self._lock:
            stop, self._stop = self._stop, None
            threads, self._threads = self._threads, []
            streams = self._open.pop(stop, []) if stop is not None else []
            if stop is not None:
                stop.set()
        if stop is None:
            return
        _close(streams)
        for thread in threads:
            if timeout and thread is not threading.current_thread():
                thread.join(timeout)

    # -- the threads -------------------------------------------------------------------------------

    def _start(self) -> None:
        """Under the lock: one thread reads the streams, one debounces and fans out."""
        stop = threading.Event()
        changes: queue.Queue[str | None] = queue.Queue()
        self._stop = stop
        self._threads = [
            threading.Thread(target=self._read, args=(stop, changes), name="darse-fleet-events", daemon=True),
            threading.Thread(target=self._dispatch, args=(stop, changes), name="darse-fleet-notices", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, stop: threading.Event, changes: queue.Queue[str | None]) -> None:
        """Subscribe, put each changed project on `changes`, and subscribe again when a stream ends."""
        first = True
        while not stop.is_set():
            streams: list[ContainerEvents] = []
            engines: list[Engine] = []
            try:
                engines = self._engines()
                for engine in engines:
                    streams.append(engine.events())
            except Exception:  # DarseError (unreachable), the client's errors: try again later
                _close(streams, engines)
                stop.wait(self.retry)
                continue
            with self._lock:  # `stop()` sets the event under this lock: it either sees these streams or we see it
                self._open[stop] = streams
                stopped = stop.is_set()
                if not stopped:
                    self.subscriptions += 1
            if stopped:
                _close(streams, engines)
                with self._lock:
                    self._open.pop(stop, None)
                break
            if not first:
                changes.put(ALL)
            first = False
            readers = [threading.Thread(target=_pump, args=(s, streams, changes), daemon=True) for s in streams]
            for reader in readers:
                reader.start()
            for reader in readers:  # the first stream to end closes the others
                reader.join()
            if not streams:
                stop.wait()
            with self._lock:
                self._open.pop(stop, None)
            _close(streams, engines)  # the clients too: each subscription opens its own
            stop.wait(self.retry)
        changes.put(None)

    def _dispatch(self, stop: threading.Event, changes: queue.Queue[str | None]) -> None:
        """Collect the changes of one window into a notice and hand it to every subscriber."""
        while True:
            project = changes.get()
            if project is None or stop.is_set():
                return
            batch = {project}
            waited = 0.0
            while waited < self.max_wait:
                step = min(self.debounce, self.max_wait - waited)
                try:
                    more = changes.get(timeout=step)
                except queue.Empty:
                    break
                if more is None:
                    return
                batch.add(more)
                waited += step  # counts each wait in full: the window never runs past max_wait
            self._notify(stop, frozenset({ALL}) if ALL in batch else frozenset(batch))

    def _notify(self, stop: threading.Event, notice: Notice) -> None:
        with self._lock:
            if stop.is_set():  # this run was stopped (a later one has its own dispatcher)
                return
            subscribers = list(self._subscribers.values())
        for subscriber in subscribers:
            with contextlib.suppress(Exception):  # one broken subscriber never silences the others
                subscriber(notice)


def _pump(stream: ContainerEvents, group: list[ContainerEvents], changes: queue.Queue[str | None]) -> None:
    try:
        for event in stream:
            if event.project:
                changes.put(event.project)
    except Exception:  # the stream broke: the reader subscribes again
        pass
    finally:
        _close(group)


def _close(streams: list[ContainerEvents], engines: list[Engine] | None = None) -> None:
    for closable in [*streams, *(engines or [])]:
        with contextlib.suppress(Exception):
            closable.close()
