"""The lab's servers on unix sockets: TCP off, owner-only permissions, socket URLs, a memory limit."""

import os
import stat

import psutil
import pytest
from django.conf import settings

from cqlab.config import SOCKET_PATH_MAX, LabConfig
from cqlab.errors import LabError
from cqlab.infra import services


def test_the_lab_urls_are_socket_urls(lab):
    assert not lab.config.tcp
    socket = str(lab.config.redis_socket)
    assert settings.CELERY_BROKER_URL.startswith("redis+socket://:") and socket in settings.CELERY_BROKER_URL
    assert settings.CELERY_RESULT_BACKEND.startswith("redis+socket://:")
    assert settings.REDIS_CACHE_URL.startswith("unix://:") and socket in settings.REDIS_CACHE_URL
    for alias in ("redis", "django_redis"):
        assert settings.CACHES[alias]["LOCATION"] == settings.REDIS_CACHE_URL
    assert settings.CACHES["memcached"]["LOCATION"] == f"unix:{lab.config.memcached_socket}"


def test_tcp_is_off_and_only_the_owner_may_connect(lab):
    redis_config = lab.redis().config_get("port", "unixsocketperm")
    assert redis_config == {"port": "0", "unixsocketperm": "600"}
    assert stat.S_IMODE(lab.config.socket_dir.stat().st_mode) == 0o700
    for path in (lab.config.redis_socket, lab.config.memcached_socket):
        status = path.stat()
        assert stat.S_ISSOCK(status.st_mode) and stat.S_IMODE(status.st_mode) == 0o600
        assert status.st_uid == os.geteuid()
    state = services._state(lab.config)
    for name in ("redis", "memcached"):
        server = psutil.Process(state[name])
        assert server.net_connections(kind="inet") == [], f"{name} has a TCP or UDP socket"


def test_the_lab_redis_has_a_memory_limit_that_never_drops_a_queue(lab):
    """Fault 9: without maxmemory the shared Redis grows until the machine kills it; any eviction
    policy may drop a queue's list. Remove the setting and this fails."""
    memory = lab.redis().config_get("maxmemory", "maxmemory-policy")
    assert int(memory["maxmemory"]) > 0
    assert memory["maxmemory-policy"] == "noeviction"


def test_a_socket_path_too_long_for_the_kernel_gets_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_SOCKET_DIR", str(tmp_path / ("d" * SOCKET_PATH_MAX)))
    with pytest.raises(LabError, match="socket path is .* bytes long.*shorter path.*LAB_TCP=1"):
        LabConfig.from_env()


def test_tcp_when_asked_for(monkeypatch):
    monkeypatch.setenv("LAB_TCP", "1")
    config = LabConfig.from_env()
    assert config.tcp and config.redis_url(3).startswith("redis://:")
    assert config.redis_url(3).endswith("@127.0.0.1:6380/3")
    assert config.memcached_location == "127.0.0.1:11212"
