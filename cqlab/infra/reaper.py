"""Run a command bound to the life of a parent process.

    python -m cqlab.infra.reaper PARENT_PID GRACE_SECONDS -- command ...

The command runs in this process's group. When the parent dies (even by SIGKILL: we are
re-parented) or this process gets SIGTERM/SIGINT, the command gets SIGTERM, then after
GRACE_SECONDS the whole group gets SIGKILL. So a Celery worker or beat started by a notebook
or a test never outlives the kernel or pytest process that started it, on Linux and macOS.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time

POLL_SECONDS = 0.2


def _die_with_reaper() -> None:
    """Linux: the command gets SIGTERM even if this reaper itself is SIGKILLed."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def main(argv: list[str]) -> int:
    parent_pid, grace = int(argv[0]), float(argv[1])
    command = argv[argv.index("--") + 1 :]
    child = subprocess.Popen(command, preexec_fn=_die_with_reaper)
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while child.poll() is None and not stopping and os.getppid() == parent_pid:
        time.sleep(POLL_SECONDS)
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(grace)
    # Whatever the command left behind in our group (pool children) goes too.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(os.getpgid(0), signal.SIGKILL)
    return child.returncode or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
