"""Where the sandbox finds its services and files: the one home of these defaults.

Reads the git-ignored `.env` at the repository root (written by `make`), like django-environ.
The real environment always wins, so `REDIS_PORT=6390 make lab` overrides the file.
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = REPO_ROOT / ".env"
# Everything the lab writes (SQLite, file cache, emails, logs, server data) is under var/.
VAR_DIR = Path(os.environ.get("SANDBOX_VAR_DIR", REPO_ROOT / "var"))

# Loopback, and not the standard ports, so a system Redis (6379) or Memcached (11211) never collides.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_REDIS_PORT = 6380
DEFAULT_MEMCACHED_PORT = 11212


def redis_url(password: str, host: str, port: int, db: int) -> str:
    """redis:// URL with the password in it: never print one."""
    secret = f":{password}@" if password else ""
    return f"redis://{secret}{host}:{port}/{db}"


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
