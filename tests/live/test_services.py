"""The service launcher in its own var/ dir (own sockets; free ports for TCP): the lab is untouched."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from cqlab.errors import LabError
from cqlab.infra import services
from cqlab.infra.probes import listening
from cqlab.infra.throwaway import ThrowawayRedis
from cqlab.lessons.checks import memcached_settings
from cqlab.ports import free_port
from cqlab.waiting import wait_until


@pytest.fixture
def ports() -> tuple[int, int]:
    """(Redis, Memcached) ports free right now, for this test's launcher."""
    return free_port(), free_port()


@pytest.fixture
def var_dir():
    """A var/ of the launcher's own, on a short path (a unix socket's path has a length limit)."""
    path = Path(tempfile.mkdtemp(prefix="lab-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sockets(var_dir) -> tuple[str, str]:
    """Where the launcher's Redis and Memcached listen by default."""
    return str(var_dir / "run" / "redis.sock"), str(var_dir / "run" / "memcached.sock")


@pytest.fixture
def launcher(var_dir, ports):
    """Run `python -m cqlab ...` as `make` does, isolated; stop whatever it started at the end.

    On unix sockets in its own var/ (the default); TCP on free ports when called with `tcp=True`.
    """
    env = {
        **{name: value for name, value in os.environ.items() if name != "LAB_SOCKET_DIR"},
        "SANDBOX_VAR_DIR": str(var_dir),
        "LAB_SERVICES": "local",
    }
    tcp_env = {"REDIS_PORT": str(ports[0]), "MEMCACHED_PORT": str(ports[1])}

    def run(*args: str, tcp: bool = False, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "cqlab", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, **(tcp_env if tcp else {}), **extra_env},
        )

    run.env = env
    yield run
    run("stop")
    run("stop", tcp=True)


def on_loopback(port: int) -> bool:
    return listening(("127.0.0.1", port))


def test_up_is_idempotent_and_stop_leaves_nothing(launcher, sockets):
    first = launcher("up")
    assert first.returncode == 0, first.stderr
    assert "started: redis, memcached" in first.stdout
    second = launcher("up")
    assert "already running" in second.stdout
    assert launcher("status").returncode == 0
    assert "stopped: redis, memcached" in launcher("stop").stdout
    wait_until(lambda: not any(map(listening, sockets)), 5, "both servers to stop")
    assert launcher("status").returncode == 1


def test_shared_servers_stop_only_when_their_last_user_is_gone(launcher, sockets):
    """`make lab` then `make test` (or two labs): the first one to end must not pull the servers."""
    hold = "import sys; print('in', flush=True); sys.stdin.readline()"
    users = [
        subprocess.Popen(
            [sys.executable, "-m", "cqlab", "run", "--", sys.executable, "-c", hold],
            env={**launcher.env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for user in users:
        assert user.stdout.readline().strip() == "in"
    first, second = users
    first.communicate("\n", timeout=30)
    assert launcher("status").returncode == 0, "the second user's servers were stopped under it"
    output, _ = second.communicate("\n", timeout=30)
    assert "last user gone" in output
    wait_until(lambda: not any(map(listening, sockets)), 5, "both servers to stop")


def test_servers_started_by_make_services_outlive_a_run(launcher):
    assert launcher("up").returncode == 0
    assert launcher("run", "--", sys.executable, "-c", "pass").returncode == 0
    assert launcher("status").returncode == 0


def test_local_servers_on_tcp_are_secured(launcher, ports):
    """LAB_TCP=1 (or a port given): loopback only, a password, no UDP."""
    assert launcher("up", tcp=True).returncode == 0
    import redis

    redis_port, memcached_port = ports
    anonymous = redis.Redis(port=redis_port, socket_timeout=2)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    settings = memcached_settings(("127.0.0.1", memcached_port))
    assert settings["udpport"] == "0"
    for port in ports:
        assert listening_addresses(port) == {"127.0.0.1"}


def listening_addresses(port: int) -> set[str]:
    return {
        connection.laddr.ip
        for connection in psutil.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
    }


def test_a_foreign_server_on_the_port_is_refused_quickly(launcher):
    with ThrowawayRedis(password=False) as foreign:
        started = time.monotonic()
        result = launcher("up", tcp=True, REDIS_PORT=str(foreign.port))
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "REDIS_PORT" in result.stderr and "a Redis without a password" in result.stderr
    assert "Traceback" not in result.stderr
    # Refused without starting a server and waiting for it to answer. Not a fixed few seconds: the
    # time includes starting the launcher's interpreter, which a busy machine stretches to seconds.
    assert elapsed < services.READY_TIMEOUT


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("REDIS_HOST", "0.0.0.0", "would make the lab's server listen beyond this machine"),
        ("MEMCACHED_HOST", "192.168.1.10", "would make the lab's server listen beyond this machine"),
        ("REDIS_PORT", "sixty", "is not a port number"),
        ("MEMCACHED_PORT", "70000", "is not a port number"),
    ],
)
def test_bad_configuration_gets_a_one_line_fix(launcher, ports, variable, value, message):
    result = launcher("up", tcp=True, **{variable: value})
    assert result.returncode == 1
    assert message in result.stderr and variable in result.stderr
    assert "Traceback" not in result.stderr
    assert not on_loopback(ports[0])


def test_a_socket_not_ours_is_reported_with_the_fix(launcher, sockets):
    """A stale or foreign Redis socket: status says down or foreign, never hangs."""
    Path(sockets[0]).parent.mkdir(mode=0o700, parents=True)
    with ThrowawayRedis(password=False, extra_conf=(f"unixsocket {sockets[0]}", "unixsocketperm 600")):
        result = launcher("up")
    assert (
        result.returncode == 1
        and "The socket" in result.stderr
        and "a Redis without a password" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_an_unreachable_service_is_reported_in_under_3_seconds(monkeypatch):
    nothing_there = free_port()
    monkeypatch.setenv("REDIS_PORT", str(nothing_there))
    started = time.monotonic()
    with pytest.raises(LabError, match=f"redis is not answering on 127.0.0.1:{nothing_there}.*make services"):
        services.require_up()
    assert time.monotonic() - started < 3


def test_a_closed_terminal_stops_what_the_command_started(launcher, sockets):
    """SIGHUP (the terminal of `make lab` closed) ends the command and the servers started for it."""
    user = subprocess.Popen(
        [sys.executable, "-m", "cqlab", "run", "--", sys.executable, "-c", "import time; time.sleep(60)"],
        env={**launcher.env},
        stdout=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: all(map(listening, sockets)), 15, "the servers to start")
    user.send_signal(signal.SIGHUP)
    output, _ = user.communicate(timeout=30)
    assert "last user gone" in output
    wait_until(lambda: not any(map(listening, sockets)), 5, "both servers to stop")
