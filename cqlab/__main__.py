"""`python -m cqlab COMMAND`: the lab's service launcher (what `make` calls).

up        start Redis and Memcached if they are not running (reuses ours)
stop      stop only what this launcher started
status    one line per service
env       create .env with generated secrets if missing
run -- CMD  services up, run CMD, then stop what was started for it
"""

import signal
import subprocess
import sys

from cqlab import processes, services
from cqlab.config import ensure_env_file
from cqlab.errors import LabError


def run_in_foreground(command: list[str]) -> int:
    """Run `command` to its end. Ctrl-C goes to it alone (JupyterLab asks before it quits);
    a SIGTERM to us is passed on; either way we stop the services only after it has exited."""
    child = subprocess.Popen(command)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: child.terminate())
    return child.wait()


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
    elif command == "leftovers":
        remaining = processes.leftovers()
        print("\n".join(remaining) if remaining else "no lab process left running")
        return 1 if remaining else 0
    elif command == "run" and "--" in argv:
        started = services.up()
        try:
            return run_in_foreground(argv[argv.index("--") + 1 :])
        finally:
            if started:
                services.stop(started)
                print(f"stopped what was started for this run: {', '.join(started)}")
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
