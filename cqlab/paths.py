"""Every file and directory the lab writes: one home for each path (all under the git-ignored var/)."""

import os
from pathlib import Path

from sandbox.env import ENV_FILE, REPO_ROOT, RUN_DIR, VAR_DIR

__all__ = ["ENV_FILE", "REPO_ROOT", "RUN_DIR", "VAR_DIR"]

SANDBOX_DIR = REPO_ROOT / "sandbox_project"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
LOG_DIR = VAR_DIR / "log"  # one log per server, worker and beat
THROWAWAY_DIR = VAR_DIR / "throwaway"  # data of disposable servers
MARKER_DIR = VAR_DIR / "markers"  # files tasks write to show they ran
DB_DIR = VAR_DIR / "db"  # the sandbox's SQLite files, one per namespace
PER_NAMESPACE_DIRS = (VAR_DIR / "emails", VAR_DIR / "django_cache")  # as the sandbox's settings name them


def write_private(path: Path, text: str) -> None:
    """Write a file that holds a secret: created with mode 600, never readable by others."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file keeps its mode through O_CREAT: fix it first
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def make_private_dir(path: Path) -> Path:
    """Create `path` (and parents) as a directory only its owner may enter (700), even if it existed."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # mkdir's mode is masked by the umask, and an existing directory keeps its own
    return path


def namespace() -> str:
    """The namespace this process works in (set by `setup`, inherited by workers and beat)."""
    return os.environ.get("SANDBOX_NAMESPACE", "lab")


def process_log(name: str) -> Path:
    """Log file of a worker or beat called `name` in the current namespace."""
    return LOG_DIR / f"{namespace()}-{name}.log"


def beat_schedule(name: str) -> Path:
    """Beat's schedule file (last run of each entry) for the beat called `name`."""
    return RUN_DIR / f"celerybeat-schedule-{namespace()}-{name}"


def sqlite_file(name: str) -> Path:
    return DB_DIR / f"{name}.sqlite3"
