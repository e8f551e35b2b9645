"""Install the server binaries a fresh machine lacks (apt as root or password-less sudo, Homebrew)."""

import os
import platform
import shutil
import subprocess
import sys

from cqlab.errors import LabError

PACKAGES = {
    "apt": {"redis-server": "redis-server", "memcached": "memcached"},
    "brew": {"redis-server": "redis", "memcached": "memcached"},
}


def install_missing(binaries: list[str]) -> None:
    """Install missing server binaries where that needs no question; else say how."""
    if not binaries:
        return
    system = platform.system()
    if system == "Linux" and shutil.which("apt-get"):
        packages = [PACKAGES["apt"][binary] for binary in binaries]
        hint = f"sudo apt-get install -y {' '.join(packages)}"
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        may_install = not sudo or (
            shutil.which("sudo") is not None
            and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
        )
        if may_install:
            print(f"Installing {' '.join(packages)} with apt-get ...", file=sys.stderr)
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for command in (
                ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            ):
                run_installer([*sudo, *command], env, hint)
            return
    elif system == "Darwin" and shutil.which("brew"):
        packages = [PACKAGES["brew"][binary] for binary in binaries]
        print(f"Installing {' '.join(packages)} with Homebrew ...", file=sys.stderr)
        run_installer(["brew", "install", *packages], dict(os.environ), f"brew install {' '.join(packages)}")
        return
    elif system == "Darwin":
        hint = "install Homebrew (https://brew.sh), then: brew install redis memcached"
    else:
        hint = "install Redis and Memcached with your package manager"
    raise LabError(
        f"{' and '.join(binaries)} not found. To fix: {hint}; then run the make command again. "
        "Or start them with Docker: docker compose up -d --wait"
    )


def run_installer(command: list[str], env: dict, hint: str) -> None:
    """Run one install step; a failure (a held apt lock, no network, a timeout) names the fix."""
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise LabError(
            f"`{' '.join(command)}` took over 10 minutes. To fix: run `{hint}` yourself."
        ) from None
    if result.returncode:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise LabError(
            f"`{' '.join(command)}` failed: {last[0]} To fix: run `{hint}` yourself "
            "(another package manager holding the lock? wait for it), then the make command again."
        )
