"""The sandbox's settings: cache aliases, environment-driven configuration, secrets."""

import os
import subprocess
import sys
import time

import pytest
from django.core.cache import caches

from sandbox.env import REPO_ROOT

ALIASES = ["locmem", "file", "redis", "django_redis", "memcached"]


def run_django(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run `code` after django.setup() in a fresh interpreter, with extra environment."""
    script = f"import django; django.setup(); {code}"
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "sandbox.settings", **env},
    )


@pytest.mark.parametrize("alias", ALIASES)
def test_each_cache_alias_round_trips_a_value(lab, alias):
    cache = caches[alias]
    cache.set("round-trip", {"alias": alias, "n": 1}, 30)
    assert cache.get("round-trip") == {"alias": alias, "n": 1}
    cache.delete("round-trip")
    assert cache.get("round-trip") is None


def test_aliases_sharing_a_server_do_not_share_keys(lab):
    caches["redis"].set("shared-name", "built-in")
    caches["django_redis"].set("shared-name", "django-redis")
    assert caches["redis"].get("shared-name") == "built-in"


def test_default_cache_is_chosen_by_sandbox_cache():
    result = run_django(
        "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])",
        SANDBOX_CACHE="memcached",
    )
    assert result.stdout.strip() == "django.core.cache.backends.memcached.PyMemcacheCache"


def test_unknown_sandbox_cache_fails_at_start_with_the_allowed_values():
    started = time.monotonic()
    result = run_django("pass", SANDBOX_CACHE="mongo")
    assert result.returncode != 0
    assert "SANDBOX_CACHE='mongo' is not a cache alias" in result.stderr
    assert "locmem, file, redis, django_redis, memcached" in result.stderr
    assert time.monotonic() - started < 10


def test_missing_secret_names_the_fix(tmp_path):
    env = {
        key: value for key, value in os.environ.items() if key not in ("REDIS_PASSWORD", "DJANGO_SECRET_KEY")
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        capture_output=True,
        text=True,
        timeout=30,
        # an empty .env elsewhere: nothing to fall back on
        env={**env, "DJANGO_SETTINGS_MODULE": "sandbox.settings", "DJANGO_SECRET_KEY": ""},
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "Run `make setup`" in result.stderr


def test_celery_is_json_only_and_on_redis(lab):
    from sandbox.celery import app

    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert app.conf.broker_url.startswith(("redis://", "redis+socket://"))
    assert app.conf.result_backend.startswith(("redis://", "redis+socket://"))


def test_secrets_live_only_in_the_git_ignored_env_file():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout.split()
    assert ".env" not in tracked
    ignored = subprocess.run(["git", "check-ignore", ".env"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert ignored.returncode == 0
    assert oct((REPO_ROOT / ".env").stat().st_mode & 0o777) == "0o600"
