"""docker-compose.yml keeps the lab's secure defaults (no engine here: checked by parsing it)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from sandbox.env import REDIS_MEMORY_CONF, REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_published_port_is_on_loopback_only(name):
    for port in SERVICES[name].get("ports", []):
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_redis_requires_the_password_from_env():
    redis = SERVICES["redis"]
    assert "--requirepass" in " ".join(redis["command"])
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")


def test_redis_reads_the_sandbox_memory_limit_the_launcher_includes():
    redis = SERVICES["redis"]
    source = f"./{REDIS_MEMORY_CONF.relative_to(REPO_ROOT)}:"
    mount = next(volume for volume in redis["volumes"] if volume.startswith(source))
    assert f" {mount.split(':')[1]} " in " ".join(redis["command"])


def test_memcached_has_udp_off():
    command = SERVICES["memcached"]["command"]
    assert command[command.index("-U") + 1] == "0"


@pytest.mark.parametrize("name", ["redis", "memcached"])
def test_servers_have_healthchecks(name):
    assert SERVICES[name]["healthcheck"]["test"]


def test_celery_processes_are_opt_in_and_wait_for_healthy_servers():
    for name in ("worker", "beat", "web"):
        assert SERVICES[name]["profiles"] == ["celery"]
        assert SERVICES[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_the_file_follows_the_compose_specification():
    """Validated against the Compose Specification's JSON schema (Apache-2.0, vendored from
    docker-compose 1.29.2's compose/config/compose_spec.json), so no Docker is needed; where
    `docker compose` is installed, it must accept the file too."""
    schema = json.loads((Path(__file__).parent / "compose_spec.json").read_text())
    errors = [
        f"{list(error.path)}: {error.message}" for error in Draft7Validator(schema).iter_errors(COMPOSE)
    ]
    assert not errors, errors
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        result = subprocess.run(
            ["docker", "compose", "config", "--quiet"], cwd=REPO_ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
