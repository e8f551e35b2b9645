"""The sandbox served as a website (`manage.py runserver`), for a learner's browser and the tests.

Bound to the Python process that starts it, like a worker; the footer with response time and
cache hit/miss is switched on (SANDBOX_WEBSITE=1, read by the sandbox's settings).
"""

import socket
import sys

from cqlab.infra.probes import port_open
from cqlab.infra.processes import BoundProcess
from cqlab.paths import process_log
from cqlab.ports import DEFAULT_HOST, free_port


def preferred_port(port: int) -> int:
    """`port` when nothing listens on it (a URL a learner can remember), else a free one."""
    with socket.socket() as probe:
        in_use = probe.connect_ex((DEFAULT_HOST, port)) == 0
    return free_port() if in_use else port


def start_runserver(name: str, port: int, timeout: float = 60.0) -> BoundProcess:
    """`manage.py runserver` on loopback; returns once the port accepts connections."""
    command = [sys.executable, "manage.py", "runserver", f"{DEFAULT_HOST}:{port}", "--noreload"]
    server = BoundProcess(name, command, process_log(name), env={"SANDBOX_WEBSITE": "1"})
    server.wait_for(lambda: port_open(DEFAULT_HOST, port), "no listening port", timeout)
    return server
