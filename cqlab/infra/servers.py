"""The lab's Redis and Memcached processes: command lines and config files (lab and throw-away), stopping."""

import contextlib
import os
import signal
import time
from pathlib import Path

import psutil

from cqlab.config import LabConfig
from sandbox.env import REDIS_MEMORY_CONF


def redis_conf(
    config: LabConfig,
    data_dir: Path,
    port: int | None = None,
    persistent: bool = False,
    lab: bool = False,
) -> str:
    """A redis.conf: password, protected mode, no persistence by default.

    On `port` (a throw-away server) or the lab's TCP port: loopback. The lab's server on sockets:
    `port 0` (no TCP at all) and a socket only its owner may open. `lab`: also the sandbox's own
    memory settings (sandbox_project/deploy/redis-memory.conf, which docker-compose.yml mounts too).
    """
    if port or config.tcp:
        listen = [f"bind {config.redis_host}", f"port {port or config.redis_port}"]
    else:
        listen = ["port 0", f"unixsocket {config.redis_socket}", "unixsocketperm 600"]
    lines = [
        *listen,
        "protected-mode yes",
        "databases 32",  # one per namespace (cqlab.notebook.lab.NAMESPACE_DB)
        f"requirepass {config.redis_password}",
        "daemonize no",
        f"dir {data_dir}",
        'save ""',
        f"appendonly {'yes' if persistent else 'no'}",
        "appendfsync everysec",
        *([f"include {REDIS_MEMORY_CONF}"] if lab else []),
    ]
    return "\n".join(lines) + "\n"


def memcached_command(
    host: str = "", port: int = 0, memory_mb: int = 64, *, socket: Path | None = None
) -> list[str]:
    """memcached on loopback with UDP off (-U 0: no amplification attacks), or on a unix socket.

    `-s` turns TCP and UDP off; `-a 0600`: only the owner may connect.
    """
    if socket:
        command = ["memcached", "-s", str(socket), "-a", "0600", "-m", str(memory_mb)]
    else:
        command = ["memcached", "-l", host, "-p", str(port), "-U", "0", "-m", str(memory_mb)]
    if os.geteuid() == 0:
        # memcached refuses to run as root unless told a user. On a socket it must stay root: it
        # creates the socket after switching, inside a directory only root may enter.
        command += ["-u", "root" if socket else "nobody"]
    return command


def terminate(pid: int, timeout: float = 5.0) -> None:
    if not _runs_a_server(pid):
        return  # gone, or the pid now belongs to an unrelated process: never kill that
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        _reap(pid)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)


def _runs_a_server(pid: int) -> bool:
    try:
        name = psutil.Process(pid).name()
    except psutil.Error:  # gone, or not ours to look at
        return False
    return name.startswith(("redis-server", "memcached"))


def _reap(pid: int) -> None:
    """Collect an exited child of ours (so it is not left as a zombie that looks alive)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
