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


def _secret(password: str) -> str:
    return f":{password}@" if password else ""


def redis_url(password: str, host: str, port: int, db: int) -> str:
    """redis://:pw@host:port/N, with the password in it: never print one (redis-py, Django, Celery)."""
    return f"redis://{_secret(password)}{host}:{port}/{db}"


def redis_socket_url(password: str, socket: Path, db: int) -> str:
    """unix://:pw@/…/redis.sock?db=N: redis-py and Django's Redis caches on a unix socket."""
    return f"unix://{_secret(password)}{socket}?db={db}"


def celery_socket_url(password: str, socket: Path, db: int) -> str:
    """redis+socket://:pw@/…/redis.sock?virtual_host=N: Celery's broker and result backend on a socket."""
    return f"redis+socket://{_secret(password)}{socket}?virtual_host={db}"


def memcached_location(*, host: str = "", port: int = 0, socket: Path | None = None) -> str:
    """Django's PyMemcacheCache LOCATION: `host:port`, or `unix:/…/memcached.sock`."""
    return f"{host}:{port}" if host else f"unix:{socket}"


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
