"""Celery worker and beat as real subprocesses that start, wait for readiness, and stop.

Like pytest-redis's process fixtures: start → wait until ready → use → stop. Each process
runs under `cqlab.reaper`, so it dies with the notebook kernel or pytest process that
started it, even when that one is killed.
"""

import atexit
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from cqlab.config import LOG_DIR, RUN_DIR
from cqlab.errors import LabError
from sandbox.env import REPO_ROOT

SANDBOX_DIR = REPO_ROOT / "sandbox_project"
_running: list["BoundProcess"] = []


class BoundProcess:
    """A subprocess bound to this Python process's life, with its output in a log file."""

    def __init__(
        self, name: str, command: list[str], log_path: Path, env: dict | None = None, grace: float = 10.0
    ):
        self.name = name
        self.command = command
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_bytes(b"")
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "cqlab.reaper", str(os.getpid()), str(grace), "--", *command],
                cwd=SANDBOX_DIR,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.grace = grace
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

    def wait_for_log(self, pattern: str, timeout: float = 20.0) -> str:
        """Block until a log line matches `pattern`; return it. Fails fast if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if lines := self.log_lines(pattern):
                return lines[-1]
            if not self.alive():
                break
            time.sleep(0.05)
        tail = "\n  ".join(self.log().strip().splitlines()[-8:])
        state = "exited" if not self.alive() else f"gave no {pattern!r} within {timeout:.0f} s"
        self.stop()
        raise LabError(f"{self.name} {state}. Last lines of {self.log_path}:\n  {tail}")

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
) -> BoundProcess:
    """Start `celery -A sandbox worker` and return once it logs `ready.`."""
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
    worker = BoundProcess(name, command, _log_path(name), env)
    worker.wait_for_log(r"ready\.", timeout)
    return worker


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
    namespace = os.environ.get("SANDBOX_NAMESPACE", "lab")
    schedule_file = RUN_DIR / f"celerybeat-schedule-{namespace}-{name}"
    command = command or celery_command(
        "beat",
        f"--loglevel={loglevel}",
        "-s",
        str(schedule_file),
        *(["--scheduler", scheduler] if scheduler else []),
        *extra_args,
    )
    beat = BoundProcess(name, command, _log_path(name), env, grace=5.0)
    beat.wait_for_log(r"beat: Starting\.\.\.", timeout)
    return beat


def _log_path(name: str) -> Path:
    return LOG_DIR / f"{os.environ.get('SANDBOX_NAMESPACE', 'lab')}-{name}.log"


def stop_all() -> None:
    """Stop every process this Python process started (also run at interpreter exit)."""
    for process in list(_running):
        process.stop()


atexit.register(stop_all)


def leftovers() -> list[str]:
    """`pid command` of every process still running that this checkout's lab started."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        # Every bound process runs under this checkout's `python -m cqlab.reaper`.
        if str(REPO_ROOT) in command and ("cqlab.reaper" in command or " celery " in command):
            found.append(f"{process.info['pid']} {command}")
    return found
