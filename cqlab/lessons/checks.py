"""What notebook 00 checks: versions against the pins, services, their security settings."""

import importlib.metadata
import re
import sys

import redis

from cqlab.config import LabConfig
from cqlab.infra.probes import anonymous_redis, memcached_text
from sandbox.env import REPO_ROOT

CORE_PACKAGES = [
    "django",
    "celery",
    "redis",
    "pymemcache",
    "django-redis",
    "django-celery-beat",
    "jupyterlab",
    "nbval",
]


def pinned_versions() -> dict[str, str]:
    """name → version for every `name==version` line of requirements.txt (extras dropped)."""
    pins = {}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line):
            pins[match.group(1).lower()] = match.group(3)
    return pins


def package_versions() -> dict[str, str]:
    """Installed version of each core package, and of Python."""
    versions = {"python": sys.version.split()[0]}
    versions.update({name: importlib.metadata.version(name) for name in CORE_PACKAGES})
    return versions


def unpinned_mismatches() -> list[str]:
    """Core packages whose installed version differs from requirements.txt (should be none)."""
    pins, installed = pinned_versions(), package_versions()
    return [
        f"{name} {installed[name]} ≠ {pins[name]}"
        for name in CORE_PACKAGES
        if pins.get(name) != installed[name]
    ]


def redis_requires_password(config: LabConfig | None = None) -> bool:
    """True when an anonymous client is refused (NOAUTH): the password is enforced."""
    config = config or LabConfig.from_env()
    try:
        anonymous_redis(config).ping()
    except redis.AuthenticationError:
        return True
    return False


def memcached_settings(address: tuple[str, int] | str | None = None) -> dict[str, str]:
    """Memcached's `stats settings` (udpport, maxbytes, item_size_max, ...), read raw."""
    if address is None:
        address = LabConfig.from_env().memcached_address
    reply = memcached_text(address, b"stats settings")
    return dict(line.split()[1:3] for line in reply.splitlines() if line.startswith("STAT "))
