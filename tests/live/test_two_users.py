"""Two learners on one machine, each with a checkout and a lab of their own, beside ours.

Run as root: the test creates two unprivileged users (removed at the end), gives each a copy of
this checkout's code in a temporary home, and starts their lab's services with `python -m cqlab up`
(what `make services` runs) while this test run's servers are up. Root could open any socket, so
the refusals are checked between the two unprivileged users, each way.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from sandbox.env import MEMCACHED_SOCKET_NAME, REDIS_SOCKET_NAME, REPO_ROOT

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("useradd"),
    reason="needs root and useradd, to create two unprivileged users",
)

# Connects to each path given; prints what happened (the other learner must see PermissionError).
TRY_SOCKETS = """
import socket, sys
for path in sys.argv[1:]:
    connection = socket.socket(socket.AF_UNIX)
    try:
        connection.connect(path)
        print("connected")
    except OSError as error:
        print(type(error).__name__)
"""
WRITE_KEY = """
import sys
from cqlab.config import LabConfig
from cqlab.infra.probes import redis_client
client = redis_client(LabConfig.from_env())
if sys.argv[1] == "set":
    client.set("whose", sys.argv[2])
print(client.get("whose"))
"""


@dataclass
class Learner:
    name: str
    home: Path
    python: str
    site_packages: str

    @property
    def checkout(self) -> Path:
        return self.home / "lab"

    @property
    def sockets(self) -> list[str]:
        run = self.checkout / "var" / "run"
        return [str(run / REDIS_SOCKET_NAME), str(run / MEMCACHED_SOCKET_NAME)]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """`args` run as this user, with only their own environment (no secret of ours)."""
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.home),
            "PYTHONPATH": ":".join(
                [
                    str(self.checkout),
                    str(self.checkout / "sandbox_project"),
                    str(self.home),
                    self.site_packages,
                ]
            ),
            "PYTHONDONTWRITEBYTECODE": "1",
            "LAB_SERVICES": "local",
        }
        return subprocess.run(
            [self.python, *args],
            cwd=self.checkout,
            env=env,
            user=self.name,
            group=pwd.getpwnam(self.name).pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=60,
        )


def usable_python(user: str) -> str | None:
    """An interpreter of our version that `user` may run (ours may sit under root's home)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2])"],
                user=user,
                capture_output=True,
                text=True,
            )
        except OSError:  # missing, or under a directory the user may not enter
            continue
        if probe.returncode == 0 and probe.stdout.strip() == str(sys.version_info[:2]):
            return candidate
    return None


@contextlib.contextmanager
def learner(name: str):
    """A new unprivileged user with a copy of this checkout's code; stopped and removed at the end."""
    home = Path(tempfile.mkdtemp(prefix=f"{name}-", dir="/tmp"))  # short: socket paths must fit
    subprocess.run(["useradd", "--home-dir", str(home), "--shell", "/usr/sbin/nologin", name], check=True)
    user = None
    try:
        for part in ("cqlab", "sandbox_project"):
            shutil.copytree(
                REPO_ROOT / part, home / "lab" / part, ignore=shutil.ignore_patterns("__pycache__")
            )
        subprocess.run(["chown", "-R", f"{name}:", str(home)], check=True)
        python = usable_python(name)
        if python is None:
            pytest.skip(f"no Python {sys.version_info[:2]} that user {name} may run")
        if python != sys.executable:
            # redis-py imports async-timeout below Python 3.11.3, which our venv's lock skips for
            # our interpreter: the standard library's asyncio.timeout stands in for it.
            (home / "async_timeout.py").write_text("from asyncio import timeout  # noqa: F401\n")
        user = Learner(name, home, python, sysconfig.get_paths()["purelib"])
        yield user
    finally:
        if user:
            user.run("-m", "cqlab", "stop")
        uid = pwd.getpwnam(name).pw_uid
        for process in psutil.process_iter(["uids"]):  # what the test started as this user, by pid
            if process.info["uids"] and process.info["uids"].real == uid:
                with contextlib.suppress(psutil.Error):
                    process.kill()
        subprocess.run(["userdel", name], check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_two_learners_run_their_labs_at_once_and_cannot_open_each_others_sockets(lab):
    suffix = os.getpid() % 100000
    with learner(f"labann{suffix}") as ann, learner(f"labbob{suffix}") as bob:
        for user in (ann, bob):
            started = user.run("-m", "cqlab", "up")
            assert started.returncode == 0, started.stderr
            assert "started: redis, memcached" in started.stdout
        for user in (ann, bob):  # both at the same time, ours too
            assert user.run("-m", "cqlab", "status").returncode == 0
        assert lab.redis().ping()

        assert ann.run("-c", WRITE_KEY, "set", "ann").stdout.strip() == "b'ann'"
        assert bob.run("-c", WRITE_KEY, "get").stdout.strip() == "None"  # a server of her own

        assert ann.run("-c", TRY_SOCKETS, *ann.sockets).stdout.split() == ["connected", "connected"]
        assert ann.run("-c", TRY_SOCKETS, *bob.sockets).stdout.split() == ["PermissionError"] * 2
        assert bob.run("-c", TRY_SOCKETS, *ann.sockets).stdout.split() == ["PermissionError"] * 2
        assert str(lab.config.redis_socket) not in ann.sockets + bob.sockets
