"""The launcher under bad conditions: each ends in one message that names the fix (no service needed)."""

import subprocess

import pytest

from cqlab.config import LabConfig, ensure_env_file
from cqlab.errors import LabError
from cqlab.infra import install


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
