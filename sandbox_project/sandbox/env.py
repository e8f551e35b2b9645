"""Where the sandbox finds its services and files: the one home of these defaults.

Reads the git-ignored `.env` at the repository root (written by `make`), like django-environ.
The real environment always wins, so `LAB_TCP=1 make lab` overrides the file.

How the sandbox reaches Redis and Memcached (the one place that decides it, and builds every URL):
- by default, unix sockets in var/run/ (a directory only its owner may enter, sockets mode 600):
  on a machine shared by several learners, another local user cannot connect, which loopback
  TCP cannot promise (any local user can connect to 127.0.0.1);
- over loopback TCP when asked for: `LAB_TCP=1`, `LAB_SERVICES=docker` (containers publish ports),
  or any of REDIS_HOST, REDIS_PORT, MEMCACHED_HOST, MEMCACHED_PORT set.
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = REPO_ROOT / ".env"
# Everything the lab writes (SQLite, file cache, emails, logs, server data) is under var/.
VAR_DIR = Path(os.environ.get("SANDBOX_VAR_DIR", REPO_ROOT / "var"))
RUN_DIR = VAR_DIR / "run"  # state files, leases, beat schedules, server configs
# The Redis memory limit and policy, one file for the launcher and docker-compose.yml alike.
REDIS_MEMORY_CONF = REPO_ROOT / "sandbox_project" / "deploy" / "redis-memory.conf"
REDIS_SOCKET_NAME = "redis.sock"
MEMCACHED_SOCKET_NAME = "memcached.sock"

# Loopback, and not the standard ports, so a system Redis (6379) or Memcached (11211) never collides.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_REDIS_PORT = 6380
DEFAULT_MEMCACHED_PORT = 11212
TCP_VARIABLES = ("REDIS_HOST", "REDIS_PORT", "MEMCACHED_HOST", "MEMCACHED_PORT")


def uses_tcp(environ=os.environ) -> bool:
    """True when the lab's services are reached over loopback TCP rather than unix sockets."""
    return (
        environ.get("LAB_TCP") == "1"
        or environ.get("LAB_SERVICES") == "docker"
        or any(environ.get(name) for name in TCP_VARIABLES)
    )


def socket_dir(environ=os.environ) -> Path:
    """The sockets' directory (mode 700): var/run/, or LAB_SOCKET_DIR (a test run's private servers)."""
    return Path(environ.get("LAB_SOCKET_DIR") or RUN_DIR)


def redis_url(password: str, db: int, *, host: str = "", port: int = 0, socket: Path | None = None) -> str:
    """redis-py / Django cache URL with the password in it (never print one).

    unix://:pw@/path/redis.sock?db=N on the socket, redis://:pw@host:port/N when `host` is given.
    """
    secret = f":{password}@" if password else ""
    if host:
        return f"redis://{secret}{host}:{port}/{db}"
    return f"unix://{secret}{socket or socket_dir() / REDIS_SOCKET_NAME}?db={db}"


def celery_redis_url(
    password: str, db: int, *, host: str = "", port: int = 0, socket: Path | None = None
) -> str:
    """Celery broker and result backend URL: Celery names a Redis unix socket `redis+socket://`."""
    if host:
        return redis_url(password, db, host=host, port=port)
    secret = f":{password}@" if password else ""
    return f"redis+socket://{secret}{socket or socket_dir() / REDIS_SOCKET_NAME}?virtual_host={db}"


def memcached_location(*, host: str = "", port: int = 0, socket: Path | None = None) -> str:
    """Django's PyMemcacheCache LOCATION: `unix:/path/memcached.sock`, or `host:port`."""
    return f"{host}:{port}" if host else f"unix:{socket or socket_dir() / MEMCACHED_SOCKET_NAME}"


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """KEY=VALUE pairs of `path`; blank lines and `#` comments skipped; missing file = {}."""
    if not path.exists():
        return {}
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            pairs[key.strip()] = value.strip().strip("\"'")
    return pairs


def load_env_file(path: Path = ENV_FILE) -> None:
    """Put the file's values into os.environ, without overriding what is already set."""
    for key, value in read_env_file(path).items():
        os.environ.setdefault(key, value)
