"""Every port the lab uses: the shared servers' defaults, and free ports for everything else.

No throw-away server, test run or notebook hard-codes a port: they ask `free_port()`, which lets
the OS pick one that is free right now (so a lab and a test run, or two test runs, never collide).
"""

import socket

from sandbox.env import DEFAULT_HOST, DEFAULT_MEMCACHED_PORT, DEFAULT_REDIS_PORT

__all__ = ["DEFAULT_HOST", "DEFAULT_MEMCACHED_PORT", "DEFAULT_REDIS_PORT", "free_port"]


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port nothing listens on now: bound to 0, the OS picks it; closed before we return."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
