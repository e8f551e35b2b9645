"""Helpers of notebook 02: Django's cache backends side by side, across processes, under load.

from cqlab.lessons import django_caches
django_caches.in_fresh_process("read_everywhere", "greeting")   # what a new process sees
results = django_caches.benchmark({alias: caches[alias] for alias in django_caches.ALIASES})
django_caches.stampede(lambda: naive_read(...), clients=8)
"""

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.test import override_settings
from django.utils.module_loading import import_string

from cqlab.infra.throwaway import HOST, ThrowawayMemcached, ThrowawayRedis
from cqlab.notebook.timing import Timing, time_calls
from cqlab.paths import SANDBOX_DIR

# The sandbox's cache aliases (sandbox/settings.py), one per backend.
ALIASES = ["locmem", "file", "redis", "django_redis", "memcached"]
OPERATIONS = ["get hit", "get miss", "set", "get_many ×100"]
PAYLOAD = "x" * 100  # the value size of the course's reference figures


# --- the same code in another process ----------------------------------------------------------
def in_fresh_process(function_name: str, *args, timeout: float = 60.0):
    """Run `function_name(*args)` of this module in a new Python process set up like this one.

    The new process gets the same environment (namespace, Redis DB, settings module), so it
    uses the same cache configuration: exactly what a second web process or a restart sees.
    """
    script = (
        "import django, json, sys; django.setup(); from cqlab import django_caches; "
        f"print(json.dumps(getattr(django_caches, {function_name!r})(*json.loads(sys.argv[1]))))"
    )
    return _run_python(script, [json.dumps(args)], timeout=timeout)


def write_everywhere(key: str, value: str, aliases: list[str] = ALIASES) -> dict:
    """Set `key` in every alias; return what this process reads back."""
    for alias in aliases:
        caches[alias].set(key, value, 300)
    return read_everywhere(key, aliases)


def read_everywhere(key: str, aliases: list[str] = ALIASES) -> dict:
    """What this process reads under `key` in every alias (None: a miss)."""
    return {alias: caches[alias].get(key) for alias in aliases}


_PACKAGES_SCRIPT = """
import importlib.metadata as metadata, json, os, sys
before = set(sys.modules)
from django.conf import settings
settings.configure(CACHES={"default": json.loads(os.environ["CQLAB_CACHE_CONFIG"])})
from django.core.cache import cache
cache.set("packages-probe", 1, 30)
assert cache.get("packages-probe") == 1
cache.delete("packages-probe")
django_own = {"django", *(r.split(";")[0].split(">")[0].split("=")[0].strip().lower()
              for r in metadata.requires("django") if "extra ==" not in r)}
names = {name.split(".")[0] for name in set(sys.modules) - before} - set(sys.stdlib_module_names)
distributions = metadata.packages_distributions()
found = {dist.lower() for name in names for dist in distributions.get(name, [])}
print(json.dumps(sorted(found - django_own)))
"""


def packages_needed(alias: str) -> list[str]:
    """PyPI packages, beyond Django and its own dependencies, that `alias` loads to set and get."""
    config = {
        key: str(value) if isinstance(value, Path) else value for key, value in settings.CACHES[alias].items()
    }
    # Through the environment, not the command line: the location may hold the Redis password.
    return _run_python(_PACKAGES_SCRIPT, [], env={"CQLAB_CACHE_CONFIG": json.dumps(config)})


def _run_python(script: str, args: list[str], env: dict | None = None, timeout: float = 60.0):
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=SANDBOX_DIR,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the child process failed:\n{result.stderr[-1500:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- FileBasedCache on disk --------------------------------------------------------------------
def cache_files(cache) -> list[Path]:
    """The files of a FileBasedCache, one per key, sorted by name."""
    return sorted(Path(cache._dir).glob(f"*{cache.cache_suffix}"))


def file_counts_while_filling(cache, n: int) -> list[int]:
    """Set n new keys one by one; the number of files on disk after each set."""
    counts = []
    for i in range(n):
        cache.set(f"item-{i}", PAYLOAD, 300)
        counts.append(len(cache_files(cache)))
    return counts


# --- the cache API ----------------------------------------------------------------------------
def hashed_key(key: str, key_prefix: str, version: int) -> str:
    """A KEY_FUNCTION safe for Memcached: any key (spaces, unicode, 1 kB) becomes 64 hex digits."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key_prefix}:{version}:{digest}"


# --- throw-away servers behind a Django cache --------------------------------------------------
def django_redis_config(server: ThrowawayRedis, **options) -> dict:
    """A CACHES entry for django-redis on a throw-away server; `options` go into OPTIONS."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": server.url(),
        "KEY_PREFIX": "nb02",
        # Fail within a second when the server is down, instead of hanging a request.
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1, **options},
    }


def memcached_config(server: ThrowawayMemcached) -> dict:
    return {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": f"{HOST}:{server.port}",
        "KEY_PREFIX": "nb02",
    }


def builtin_redis_config(server: ThrowawayRedis) -> dict:
    """The same server behind Django's built-in backend (options go to redis-py's pool)."""
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": server.url(),
        "KEY_PREFIX": "nb02",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }


def start_primary_and_replica(primary_port: int, replica_port: int, timeout: float = 10.0):
    """Two throw-away Redis servers, the second a replica of the first; returns once in sync."""
    # No 5 s pause before the first full sync (the default of diskless replication).
    primary = ThrowawayRedis(primary_port, extra_conf=("repl-diskless-sync-delay 0",)).start()
    replica = ThrowawayRedis(
        replica_port,
        extra_conf=(f"replicaof {HOST} {primary_port}", f"masterauth {primary.config.redis_password}"),
    ).start()
    deadline = time.monotonic() + timeout
    while replica.client().info("replication").get("master_link_status") != "up":
        if time.monotonic() > deadline:
            raise RuntimeError(f"the replica on port {replica_port} did not sync within {timeout} s")
        time.sleep(0.05)
    return primary, replica


def builtin_redis_replicated_config(primary: ThrowawayRedis, replica: ThrowawayRedis) -> dict:
    """Django's built-in backend with a replica: writes go to the first LOCATION, reads to the others."""
    return {**builtin_redis_config(primary), "LOCATION": [primary.url(), replica.url()]}


def cache_for(server: ThrowawayRedis | ThrowawayMemcached):
    """A Django cache object on a throw-away server (django-redis for Redis)."""
    if isinstance(server, ThrowawayRedis):
        return cache_from_config(django_redis_config(server))
    return cache_from_config(memcached_config(server))


def cache_from_config(config: dict):
    """A cache object built from a CACHES entry, as Django builds one, without touching settings."""
    params = {key: value for key, value in config.items() if key not in ("BACKEND", "LOCATION")}
    return import_string(config["BACKEND"])(config.get("LOCATION", ""), params)


@contextmanager
def default_cache(config: dict):
    """Run the site with `config` as its default cache (what `from django.core.cache import cache` uses)."""
    with override_settings(CACHES={**settings.CACHES, "default": config}):
        yield


def page_heading(response) -> str:
    """The <h1> of a catalogue page, e.g. `Products (3)`: enough to tell a stale page."""
    return response.content.decode().split("<h1>", 1)[1].split("</h1>", 1)[0]


def result_or_error(call: Callable[[], object]) -> str:
    """repr of what `call()` returns, or the name of the exception it raised."""
    try:
        return repr(call())
    except Exception as error:  # the demo reports whatever the cache backend raised
        return type(error).__name__


def response_or_error(client, url: str) -> str:
    """`200` (the status code), or the name of the exception the request raised."""
    # Django logs a failed request with its whole traceback: the exception's name says enough here.
    request_log = logging.getLogger("django.request")
    request_log.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Django's debug page notes the chained exceptions
            return str(client.get(url).status_code)
    except Exception as error:  # the demo reports whatever the cache backend raised
        return type(error).__name__
    finally:
        request_log.disabled = False


# --- benchmark ----------------------------------------------------------------------------------
def best_of(rounds: int, measure: Callable[[], Timing]) -> Timing:
    """The round with the lowest median: like timeit, the one the busy machine disturbed least."""
    return min((measure() for _ in range(rounds)), key=lambda timing: timing.p50_us)


def benchmark(
    caches_by_label: dict, n: int = 150, rounds: int = 3, batch: int = 100
) -> dict[tuple[str, str], Timing]:
    """Every cache through the same Django API calls, best of `rounds`: {(label, operation): Timing}."""
    keys = [f"bench-{i}" for i in range(batch)]
    results = {}
    for label, cache in caches_by_label.items():
        cache.set("bench-hit", PAYLOAD, 300)
        cache.set_many(dict.fromkeys(keys, PAYLOAD), 300)
        calls = {
            "get hit": lambda cache=cache: cache.get("bench-hit"),
            "get miss": lambda cache=cache: cache.get("bench-miss"),
            "set": lambda cache=cache: cache.set("bench-set", PAYLOAD, 300),
            "get_many ×100": lambda cache=cache: cache.get_many(keys),
        }
        for operation, call in calls.items():
            items = batch if operation.startswith("get_many") else 1
            measure = partial(time_calls, f"{label} {operation}", call, n, n // 10, items)
            results[label, operation] = best_of(rounds, measure)
        cache.delete_many([*keys, "bench-hit", "bench-set"])
    return results


def benchmark_table(results: dict[tuple[str, str], Timing]) -> str:
    """ops/s and p50/p99 per cache and operation, as aligned text."""
    lines = [f"{'cache':<14}{'operation':<16}{'ops/s':>10}{'p50 µs':>10}{'p99 µs':>10}"]
    for (label, operation), timing in results.items():
        lines.append(
            f"{label:<14}{operation:<16}{timing.ops_per_s:>10,.0f}{timing.p50_us:>10.1f}{timing.p99_us:>10.1f}"
        )
    return "\n".join(lines)


def plot_benchmark(results: dict[tuple[str, str], Timing], reference: dict[str, Timing]):
    """Median latency per operation and cache (bars, log scale), p99 as a tick; raw clients as lines.

    Medians, not ops/s: a stray pause of a busy machine can halve an ops/s figure of a fast cache.
    """
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(label for label, _ in results))
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        xs = [x + i * width for x in range(len(OPERATIONS))]
        timings = [results[label, operation] for operation in OPERATIONS]
        bars = ax.bar(xs, [t.p50_us for t in timings], width, label=label)
        ax.scatter(xs, [t.p99_us for t in timings], marker="_", color=bars.patches[0].get_facecolor())
    for (name, timing), style in zip(reference.items(), ["--", ":"], strict=False):
        ax.axhline(timing.p50_us, color="black", linestyle=style, linewidth=1, label=f"{name} (raw client)")
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(OPERATIONS))], OPERATIONS)
    ax.set_yscale("log")
    ax.set_ylabel("µs per call: p50 bar, p99 tick (log)")
    ax.set_title("The same Django cache API call on every backend, one thread (lower is faster)")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


# --- cache stampede -----------------------------------------------------------------------------
class CountingComputation:
    """A slow computation (like product_summary) that counts how often it really ran."""

    def __init__(self, seconds: float):
        self.seconds, self.calls = seconds, 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
        time.sleep(self.seconds)
        return "summary"


def naive_get_or_compute(cache, key: str, compute: Callable[[], object]):
    """Plain cache-aside: on a miss, every caller computes."""
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, 300)
    return value


def get_or_compute_with_add(cache, key: str, compute: Callable[[], object], wait_s: float = 10.0):
    """Cache-aside where only the caller that wins `cache.add(lock)` computes; the others wait.

    `add` is atomic on every shared backend (SET NX on Redis, add on Memcached).
    """
    value = cache.get(key)
    if value is not None:
        return value
    lock_key = f"{key}:computing"
    if cache.add(lock_key, 1, timeout=int(wait_s)):  # expires if the winner dies
        try:
            value = compute()
            cache.set(key, value, 300)
            return value
        finally:
            cache.delete(lock_key)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        time.sleep(0.01)
        if (value := cache.get(key)) is not None:
            return value
    raise TimeoutError(f"{key!r} was not computed within {wait_s} s")


def get_or_compute_with_redis_lock(cache, key: str, compute: Callable[[], object], wait_s: float = 10.0):
    """The same with django-redis's `cache.lock` (a Redis lock): check again once you hold it."""
    value = cache.get(key)
    if value is not None:
        return value
    with cache.lock(f"{key}:lock", timeout=wait_s, blocking_timeout=wait_s):
        value = cache.get(key)
        if value is None:
            value = compute()
            cache.set(key, value, 300)
    return value


def stampede(read: Callable[[], object], clients: int = 8) -> list:
    """`clients` threads call `read` at the same instant (a cold key under load); their results."""
    barrier = threading.Barrier(clients)
    results = [None] * clients

    def client(i: int) -> None:
        barrier.wait(timeout=10)
        results[i] = read()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results
