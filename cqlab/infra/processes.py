"""Celery worker and beat as real subprocesses that start, wait for readiness, and stop.

Like pytest-redis's process fixtures: start → wait until ready → use → stop. Each process
runs under `cqlab.infra.reaper`, so it dies with the notebook kernel or pytest process that
started it, even when that one is killed.
"""

import atexit
import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from cqlab.errors import LabError
from cqlab.paths import SANDBOX_DIR, beat_schedule, process_log
from cqlab.waiting import wait_until

# Set by `python -m cqlab check` for everything its command starts: `leftovers` looks for it.
RUN_ID_VARIABLE = "LAB_RUN_ID"
_running: list["BoundProcess"] = []


class BoundProcess:
    """A subprocess bound to this Python process's life, with its output in a log file."""

    def __init__(
        self,
        name: str,
        command: list[str],
        log_path: Path,
        env: dict | None = None,
        grace: float = 10.0,
        tracked: bool = True,
    ):
        """`tracked`: stopped by `stop_all` (a notebook's reset or cleanup). A test run's private
        servers are not: they outlive each namespace reset, and still die with this process."""
        self.name = name
        self.command = command
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_bytes(b"")
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "cqlab.infra.reaper", str(os.getpid()), str(grace), "--", *command],
                cwd=SANDBOX_DIR,
                # Unbuffered: a banner printed to stdout is in the log when the process is ready.
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.grace = grace
        if tracked:
            _running.append(self)

    @property
    def pid(self) -> int:
        """The reaper's pid, which is also the process group of everything it runs."""
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_lines(self, pattern: str = "") -> list[str]:
        """Log lines matching the regex `pattern` (all lines when empty)."""
        return [line for line in self.log().splitlines() if re.search(pattern, line)]

    def wait_for_log(self, pattern: str, timeout: float = 60.0) -> str:
        """Block until a log line matches `pattern`; return it. Fails fast if the process exits."""
        return self.wait_for(lambda: (self.log_lines(pattern) or [None])[-1], f"no {pattern!r}", timeout)

    def wait_for(self, condition, what: str, timeout: float = 60.0):
        """Wait until `condition()` is truthy and return it; fail fast, with the log, if we exit."""
        try:
            return wait_until(condition, timeout, what, give_up=lambda: not self.alive())
        except TimeoutError as error:
            tail = "\n  ".join(self.log().strip().splitlines()[-8:])
            state = "exited" if not self.alive() else f"gave {what} within {timeout:.0f} s"
            self.stop()
            raise LabError(f"{self.name} {state}. Last lines of {self.log_path}:\n  {tail}") from error

    def stop(self) -> None:
        """Ask politely (SIGTERM: a warm shutdown for Celery), then the reaper kills the rest."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(self.grace + 5)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        if self in _running:
            _running.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def group_alive(group_id: int) -> bool:
    """True while any process of the process group `group_id` (a bound process's pid) is alive."""
    try:
        os.killpg(group_id, 0)
    except ProcessLookupError:
        return False
    return True


def celery_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "sandbox", *args]


def start_worker(
    name: str = "worker",
    *,
    concurrency: int = 1,
    pool: str = "prefork",
    queues: list[str] | None = None,
    loglevel: str = "info",
    extra_args: tuple[str, ...] = (),
    env: dict | None = None,
    timeout: float = 30.0,
    broker_transport_options: dict | None = None,
) -> BoundProcess:
    """Start `celery -A sandbox worker` and return once it answers a ping (as celery.contrib.testing).

    `broker_transport_options`: what the ping needs besides the worker's broker URL, as the
    worker's own settings have it (a `sentinel://` URL alone does not say which primary to ask for).
    """
    command = celery_command(
        "worker",
        "-n",
        f"{name}@lab",
        f"--loglevel={loglevel}",
        "-P",
        pool,
        "-c",
        str(concurrency),
        # Skip the cluster handshakes a one-machine lab does not need: ready in ~1 s, not ~2 s.
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        *(["-Q", ",".join(queues)] if queues else []),
        *extra_args,
    )
    worker = BoundProcess(name, command, process_log(name), env)
    broker = (env or {}).get("CELERY_BROKER_URL") or os.environ["CELERY_BROKER_URL"]
    options = json.dumps(broker_transport_options or {}, sort_keys=True)  # hashable, for the cache
    worker.wait_for(lambda: answers_ping(f"{name}@lab", broker, options), "no answer to ping", timeout)
    return worker


def answers_ping(node: str, broker_url: str, transport_options_json: str = "{}") -> bool:
    """True once the worker `node` answers a control ping through `broker_url`."""
    app = _control_app(broker_url, transport_options_json)
    return bool(app.control.ping(destination=[node], timeout=0.3))


@functools.cache
def _control_app(broker_url: str, transport_options_json: str = "{}"):
    """A bare Celery app for control commands through `broker_url`.

    Celery lets a CELERY_BROKER_URL in the environment win over `broker=`, and the sandbox's app
    would publish through its own producer pool whatever connection it is handed: the read and
    write URLs are the settings that nothing overrides.
    """
    from celery import Celery

    app = Celery("cqlab-control", set_as_current=False)
    app.conf.update(
        broker_read_url=broker_url,
        broker_write_url=broker_url,
        broker_transport_options={
            "socket_connect_timeout": 2,
            "socket_timeout": 2,
            **json.loads(transport_options_json),
        },
    )
    return app


def start_beat(
    name: str = "beat",
    *,
    scheduler: str | None = None,
    loglevel: str = "info",
    extra_args: tuple[str, ...] = (),
    env: dict | None = None,
    timeout: float = 30.0,
    command: list[str] | None = None,
) -> BoundProcess:
    """Start `celery -A sandbox beat` (or `command`) and return once it logs `Starting...`."""
    schedule_file = beat_schedule(name)
    command = command or celery_command(
        "beat",
        f"--loglevel={loglevel}",
        "-s",
        str(schedule_file),
        *(["--scheduler", scheduler] if scheduler else []),
        *extra_args,
    )
    beat = BoundProcess(name, command, process_log(name), env, grace=5.0)
    beat.wait_for_log(r"beat: Starting\.\.\.", timeout)
    return beat


def stop_all() -> None:
    """Stop every process this Python process started (also run at interpreter exit)."""
    for process in list(_running):
        process.stop()


atexit.register(stop_all)


def leftovers(run_id: str, wait: float = 15.0) -> list[str]:
    """`pid command` of the processes started under run `run_id` still running after `wait` s.

    Only that run's own processes count (they inherit its LAB_RUN_ID), never a learner's
    workers in an open JupyterLab. A reaper gets `wait` seconds to finish its stop.
    """

    def ours() -> list[str]:
        found = []
        for process in psutil.process_iter(["pid", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                if process.environ().get(RUN_ID_VARIABLE) == run_id and process.pid != os.getpid():
                    found.append(f"{process.pid} {' '.join(process.info['cmdline'] or [])}")
        return found

    with contextlib.suppress(TimeoutError):
        wait_until(lambda: not ours(), wait, "the run's processes to end")
    return ours()
