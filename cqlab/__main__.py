"""`python -m cqlab COMMAND`: the lab's service launcher (what `make` calls).

up        start Redis and Memcached if they are not running (reuses ours)
stop      stop only what this launcher started
status    one line per service
env       create .env with generated secrets if missing
run -- CMD  services up for CMD (shared: stopped when their last user ends)
check [--private] -- CMD
          run CMD, then fail if a worker, beat or server it started is left running;
          --private: CMD gets its own Redis and Memcached on free ports (beside an open lab)
leftovers RUN_ID   what run RUN_ID left running
"""

import contextlib
import os
import signal
import subprocess
import sys
import uuid

from cqlab.config import ensure_env_file
from cqlab.errors import LabError
from cqlab.infra import processes, services


class Foreground:
    """Runs one command to its end, for `run` and `check`.

    Ctrl-C goes to the command alone (JupyterLab asks before it quits). A SIGTERM or a SIGHUP
    (the terminal closed) to us stops the command, and then what was started for it; one that
    arrives while the servers are still starting is kept and acted on as soon as the command runs.
    """

    def __init__(self):
        self.child: subprocess.Popen | None = None
        self.stop_requested = False
        for stop_signal in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(stop_signal, self._request_stop)

    def _request_stop(self, signum, frame) -> None:
        self.stop_requested = True
        if self.child:
            self.child.terminate()

    def run(self, command: list[str]) -> int:
        self.child = subprocess.Popen(command)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if self.stop_requested:
            self.child.terminate()
        return self.child.wait()


def report_leftovers(run_id: str) -> int:
    remaining = processes.leftovers(run_id)
    print("\n".join(["left running:", *remaining]) if remaining else "no lab process left running")
    return 1 if remaining else 0


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    if command == "env":
        added = ensure_env_file()
        print(f".env: generated {', '.join(added)}" if added else ".env: present")
    elif command == "up":
        started = services.up()
        print(f"started: {', '.join(started)}" if started else "already running")
        for service in services.status():
            print(service.line())
    elif command == "stop":
        stopped = services.stop()
        print(
            f"stopped: {', '.join(stopped)}" if stopped else "nothing to stop (the launcher started nothing)"
        )
    elif command == "status":
        statuses = services.status()
        for service in statuses:
            print(service.line() + (f"  ({service.detail})" if service.detail else ""))
        return 0 if all(service.state == "up" for service in statuses) else 1
    elif command == "leftovers" and len(argv) == 2:
        return report_leftovers(argv[1])
    elif command == "run" and "--" in argv:
        foreground = Foreground()
        with services.shared():
            return foreground.run(argv[argv.index("--") + 1 :])
    elif command == "check" and "--" in argv:
        foreground = Foreground()
        run_id = os.environ[processes.RUN_ID_VARIABLE] = uuid.uuid4().hex
        with services.private() if "--private" in argv[: argv.index("--")] else contextlib.nullcontext():
            code = foreground.run(argv[argv.index("--") + 1 :])
        return report_leftovers(run_id) or code
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
