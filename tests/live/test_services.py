"""The service launcher, on its own ports and var/ dir so the lab's running servers are untouched."""

import os
import socket
import subprocess
import sys
import time

import psutil
import pytest

from cqlab.errors import LabError
from cqlab.infra import services
from cqlab.infra.throwaway import ThrowawayRedis
from cqlab.lessons.checks import memcached_settings

REDIS_PORT, MEMCACHED_PORT, FOREIGN_PORT = 6490, 11490, 6491


@pytest.fixture
def launcher(tmp_path):
    """Run `python -m cqlab ...` as `make` does, isolated; stop whatever it started at the end."""
    env = {
        **os.environ,
        "SANDBOX_VAR_DIR": str(tmp_path),
        "LAB_SERVICES": "local",
        "REDIS_PORT": str(REDIS_PORT),
        "MEMCACHED_PORT": str(MEMCACHED_PORT),
    }

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "cqlab", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, **extra_env},
        )

    yield run
    run("stop")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_up_is_idempotent_and_stop_leaves_nothing(launcher):
    first = launcher("up")
    assert first.returncode == 0, first.stderr
    assert "started: redis, memcached" in first.stdout
    second = launcher("up")
    assert "already running" in second.stdout
    assert launcher("status").returncode == 0
    assert "stopped: redis, memcached" in launcher("stop").stdout
    time.sleep(0.2)
    assert not listening(REDIS_PORT) and not listening(MEMCACHED_PORT)
    assert launcher("status").returncode == 1


def test_local_servers_are_secured(launcher):
    assert launcher("up").returncode == 0
    import redis

    anonymous = redis.Redis(port=REDIS_PORT, socket_timeout=2)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    settings = memcached_settings(("127.0.0.1", MEMCACHED_PORT))
    assert settings["udpport"] == "0"
    for port in (REDIS_PORT, MEMCACHED_PORT):
        assert listening_addresses(port) == {"127.0.0.1"}


def listening_addresses(port: int) -> set[str]:
    return {
        connection.laddr.ip
        for connection in psutil.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
    }


def test_a_foreign_server_on_the_port_is_refused_quickly(launcher):
    with ThrowawayRedis(FOREIGN_PORT, password=False):
        started = time.monotonic()
        result = launcher("up", REDIS_PORT=str(FOREIGN_PORT))
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "REDIS_PORT" in result.stderr and "a Redis without a password" in result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 3


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("REDIS_HOST", "0.0.0.0", "would make the lab's server listen beyond this machine"),
        ("MEMCACHED_HOST", "192.168.1.10", "would make the lab's server listen beyond this machine"),
        ("REDIS_PORT", "sixty", "is not a port number"),
        ("MEMCACHED_PORT", "70000", "is not a port number"),
    ],
)
def test_bad_configuration_gets_a_one_line_fix(launcher, variable, value, message):
    result = launcher("up", **{variable: value})
    assert result.returncode == 1
    assert message in result.stderr and variable in result.stderr
    assert "Traceback" not in result.stderr
    assert not listening(REDIS_PORT)


def test_an_unreachable_service_is_reported_in_under_3_seconds(monkeypatch):
    monkeypatch.setenv("REDIS_PORT", "6493")  # nothing listens there
    started = time.monotonic()
    with pytest.raises(LabError, match="redis is not answering on 127.0.0.1:6493.*make services"):
        services.require_up()
    assert time.monotonic() - started < 3
