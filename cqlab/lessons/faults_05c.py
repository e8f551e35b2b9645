"""Stages around notebook 05c's scenarios: a slow server, a worker nobody pings, a caller's results.

Nothing here is the lesson. The settings being taught and the faults (a rotated password, a
killed server, a delay) are written in the notebook's cells and in `sandbox_project/faults/`
(task options) and `catalog/caching.py` (the key function); these helpers only
put a server behind a delay, start a worker without waiting for a ping, and point this kernel's
Celery app at another result backend for a block.
"""

import contextlib
import json
import socket
import threading
import time

from celery.app.backends import by_url

from cqlab.infra.processes import BoundProcess, celery_command
from cqlab.infra.throwaway import HOST
from cqlab.paths import process_log

CHUNK = 65536


class DelayProxy:
    """A TCP proxy on loopback that holds every reply of the server at `target_port` for `delay`
    seconds: a slow server, not a dead one. Requests pass at once; `delay` may change at any time
    (0 passes replies straight through). Clients connect to `.port` instead of the server's.

        with DelayProxy(server.port) as proxy:
            proxy.delay = 2.0
    """

    def __init__(self, target_port: int, delay: float = 0.0):
        self.target_port, self.delay = target_port, delay
        self.listener = socket.create_server((HOST, 0))  # the kernel picks a free port: no race
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _address = self.listener.accept()
                upstream = socket.create_connection((HOST, self.target_port), timeout=5)
            except OSError:  # the listener was closed, or the server is gone
                return
            upstream.settimeout(None)
            self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, delayed: bool) -> None:
        try:
            while data := source.recv(CHUNK):
                if delayed and self.delay:
                    time.sleep(self.delay)
                target.sendall(data)
        except OSError:  # either side closed (a client that timed out, or `close`)
            pass
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.closed = True
        for open_socket in (self.listener, *self.sockets):
            with contextlib.suppress(OSError):
                open_socket.shutdown(socket.SHUT_RDWR)
            open_socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def start_worker_unchecked(name: str, broker_url: str, extra_args: tuple[str, ...] = ()) -> BoundProcess:
    """`celery -A sandbox worker` on `broker_url`, returned at once: `lab.start_worker` waits for
    a ping through the broker, which a worker with a refused password never answers."""
    command = celery_command(
        "worker",
        "-n",
        f"{name}@lab",
        "--loglevel=info",
        "-P",
        "solo",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        *extra_args,
    )
    return BoundProcess(name, command, process_log(name), env={"CELERY_BROKER_URL": broker_url})


def log_messages(process: BoundProcess, pattern: str) -> list[str]:
    """The log lines matching `pattern`, without their `[timestamp: LEVEL/process]` prefix."""
    return [line.split("] ", 1)[-1] for line in process.log_lines(pattern)]


def command_line_settings(settings: dict) -> tuple[str, ...]:
    """`settings` as a worker's command-line overrides (after `--`, JSON-typed: `None`, dicts)."""
    return ("--", *(f"{name}=(json){json.dumps(value)}" for name, value in settings.items()))


@contextlib.contextmanager
def results_at(app, url: str, settings: dict | None = None):
    """This kernel's `app` reads and writes task results at `url` for the block.

    The stage of a scenario whose result backend is another server than the lab's: a worker gets
    it through its environment (`CELERY_RESULT_BACKEND`), but the kernel's app built its backend
    once, at first use. A new backend object is made on entering, so it starts unconnected.
    `settings` (the notebook's) are in force while it is built: a Redis backend reads its
    connection parameters then, once.
    """
    backend_class, backend_url = by_url(url, app.loader)
    settings = settings or {}
    kept = {name: app.conf[name] for name in settings}
    app.conf.update(settings)
    try:
        backend = backend_class(app=app, url=backend_url)
    finally:
        app.conf.update(kept)
    previous = app.backend
    app._backend = backend
    try:
        yield backend
    finally:
        app._backend = previous
        # A result made in the block unsubscribes from its channel when it is garbage-collected,
        # which may be cells later, when the stage's server is dead: it would retry for ~19 s and
        # print a traceback into whichever cell runs then. The stage is over: detach them.
        backend.result_consumer.cancel_for = lambda task_id: None
