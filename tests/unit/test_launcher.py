"""The launcher under bad conditions: each ends in one message that names the fix (no service needed)."""

import subprocess

import pytest

from cqlab.config import LabConfig, ensure_env_file
from cqlab.errors import LabError
from cqlab.infra import install
from cqlab.infra.servers import memcached_command, redis_conf
from sandbox.env import REDIS_MEMORY_CONF, TCP_VARIABLES


@pytest.fixture
def apt_machine(monkeypatch):
    """A Debian-like machine with apt-get, where we are not root."""
    monkeypatch.setattr(install.platform, "system", lambda: "Linux")
    monkeypatch.setattr(install.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(install.shutil, "which", lambda name: f"/usr/bin/{name}")


def test_no_sudo_binary_gives_the_command_to_run(apt_machine, monkeypatch):
    monkeypatch.setattr(
        install.shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None
    )
    with pytest.raises(
        LabError, match=r"redis-server not found\. To fix: sudo apt-get install -y redis-server"
    ):
        install.install_missing(["redis-server"])


def test_a_held_apt_lock_names_the_fix(apt_machine, monkeypatch):
    def fake_run(command, **kwargs):
        if command[:2] == ["sudo", "-n"] and command[2:] == ["true"]:
            return subprocess.CompletedProcess(command, 0, "", "")
        return subprocess.CompletedProcess(
            command, 100, "", "E: Could not get lock /var/lib/dpkg/lock-frontend."
        )

    monkeypatch.setattr(install.subprocess, "run", fake_run)
    with pytest.raises(LabError, match="Could not get lock.*To fix: run `sudo apt-get install -y memcached`"):
        install.install_missing(["memcached"])


def test_an_apt_timeout_names_the_fix(apt_machine, monkeypatch):
    def fake_run(command, **kwargs):
        if command[-1] == "true":
            return subprocess.CompletedProcess(command, 0, "", "")
        raise subprocess.TimeoutExpired(command, 600)

    monkeypatch.setattr(install.subprocess, "run", fake_run)
    with pytest.raises(LabError, match="took over 10 minutes.*sudo apt-get install -y memcached"):
        install.install_missing(["memcached"])


@pytest.mark.parametrize("host", ["::1", "fe80::1"])
def test_an_ipv6_host_is_refused_clearly(monkeypatch, host):
    monkeypatch.setenv("REDIS_HOST", host)
    with pytest.raises(LabError, match="REDIS_HOST=.*IPv4 loopback.*127.0.0.1"):
        LabConfig.from_env()


def test_env_file_is_private_from_its_first_byte(tmp_path, monkeypatch):
    created = []
    real_open = install.os.open

    def spy(path, flags, mode=0o777):
        created.append(mode)
        return real_open(path, flags, mode)

    monkeypatch.setattr("cqlab.paths.os.open", spy)
    path = tmp_path / ".env"
    ensure_env_file(path)
    assert created == [0o600]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def _config(monkeypatch, **environment) -> LabConfig:
    for name in ("LAB_TCP", "LAB_SERVICES", "LAB_SOCKET_DIR", *TCP_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return LabConfig.from_env()


def test_local_servers_get_sockets_only_their_owner_may_open_and_no_tcp(monkeypatch, tmp_path):
    config = _config(monkeypatch)
    assert not config.tcp and config.socket_dir.name == "run"
    conf = redis_conf(config, tmp_path, lab=True).splitlines()
    assert "port 0" in conf and f"unixsocket {config.redis_socket}" in conf and "unixsocketperm 600" in conf
    assert f"include {REDIS_MEMORY_CONF}" in conf
    command = memcached_command(socket=config.memcached_socket)
    assert command[command.index("-s") + 1] == str(config.memcached_socket)
    assert command[command.index("-a") + 1] == "0600" and "-l" not in command and "-p" not in command


@pytest.mark.parametrize("variable", ["LAB_TCP", "REDIS_PORT", "MEMCACHED_HOST"])
def test_tcp_only_when_asked_for(monkeypatch, variable):
    value = {"LAB_TCP": "1", "REDIS_PORT": "6390", "MEMCACHED_HOST": "127.0.0.1"}[variable]
    assert _config(monkeypatch, **{variable: value}).tcp


def test_every_url_has_the_socket_form(monkeypatch):
    config = _config(monkeypatch)
    socket = config.redis_socket
    assert config.redis_url(4) == f"unix://:{config.redis_password}@{socket}?db=4"
    assert config.celery_url(4) == f"redis+socket://:{config.redis_password}@{socket}?virtual_host=4"
    assert config.memcached_location == f"unix:{config.memcached_socket}"
    assert config.memcached_address == str(config.memcached_socket)


def test_a_throwaway_server_stays_on_tcp(monkeypatch, tmp_path):
    config = _config(monkeypatch)
    conf = redis_conf(config, tmp_path, port=7000).splitlines()
    assert "port 7000" in conf and not any(line.startswith(("unixsocket", "include")) for line in conf)
    assert config.redis_url(0, port=7000).endswith("@127.0.0.1:7000/0")


def test_the_sandbox_memory_policy_never_evicts_a_queue():
    lines = [line.split(None, 1) for line in REDIS_MEMORY_CONF.read_text().splitlines()]
    settings = dict(line for line in lines if line and not line[0].startswith("#"))
    assert settings["maxmemory-policy"] == "noeviction" and settings["maxmemory"] not in ("0", "0mb")
