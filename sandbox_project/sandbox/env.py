"""Read the git-ignored `.env` at the repository root (written by `make`), like django-environ.

The real environment always wins, so `REDIS_PORT=6390 make lab` overrides the file.
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = REPO_ROOT / ".env"


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
