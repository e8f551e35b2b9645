"""Stages of notebook 02 around code the notebook passes in: new processes, timing, N concurrent clients.

The lesson (cache settings, cache-aside, the stampede locks, the key function) is in the
notebook's cells and in sandbox_project/catalog/caching.py; this module only sets the stage.

    from cqlab.lessons import django_caches
    django_caches.run_in_new_process("from django.core.cache import caches; print(caches['file'].get('k'))")
    results = django_caches.benchmark({alias: caches[alias] for alias in django_caches.ALIASES})
    django_caches.stampede(lambda: get_or_compute(cache, "key", slow_query), clients=8)
"""

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.test import override_settings
from django.utils.module_loading import import_string

from cqlab.infra.throwaway import HOST, ThrowawayRedis
from cqlab.notebook.plots import ALIAS_LABEL, colour, new_axes
from cqlab.notebook.timing import Timing, time_calls
from cqlab.paths import REPO_ROOT, SANDBOX_DIR
from cqlab.waiting import wait_until

# The sandbox's cache aliases (sandbox/settings.py), one per backend.
ALIASES = ["locmem", "file", "redis", "django_redis", "memcached"]
OPERATIONS = ["get hit", "get miss", "set", "get_many ×100"]
PAYLOAD = "x" * 100  # the value size of the course's reference figures


# --- another process with the same settings ------------------------------------------------------
def run_in_new_process(code: str, timeout: float = 60.0) -> str:
    """Run `code` with `manage.py shell -c` in a new process (same settings and namespace); its output.

    What a second web process, or the web process after a restart, would see.
    """
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=SANDBOX_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the new process failed:\n{result.stderr[-1500:]}")
    return result.stdout.strip()


def course_requirements() -> set[str]:
    """The packages requirements.txt names directly, extras included (`redis[hiredis]` → redis, hiredis)."""
    names = set()
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        if match := re.match(r"\s*([A-Za-z0-9_.-]+)(?:\[([^\]]+)\])?", line.split("#", 1)[0]):
            extras = (match[2] or "").split(",")
            names |= {match[1].lower(), *(extra.strip().lower() for extra in extras if extra.strip())}
    return names


_PACKAGES_SCRIPT = """
import importlib.metadata as metadata, json, os, sys
before = set(sys.modules)
from django.conf import settings
settings.configure(CACHES={"default": json.loads(os.environ["CQLAB_CACHE_CONFIG"])})
from django.core.cache import cache
cache.set("packages-probe", 1, 30)
assert cache.get("packages-probe") == 1
cache.delete("packages-probe")
names = {name.split(".")[0] for name in set(sys.modules) - before}
# A distribution's top-level names from its file list: packages_distributions() misses those without
# top_level.txt (redis) before Python 3.11, and the output must not depend on the Python version.
loaded = set()
for dist in metadata.distributions():
    if {str(file).split("/")[0].split(".")[0] for file in dist.files or []} & names:
        loaded.add(dist.metadata["Name"].lower())
print(json.dumps(sorted(loaded)))
"""


def packages_loaded(alias: str) -> list[str]:
    """Which of the course's own requirements (beyond Django) `alias` loads to set and get a key.

    Measured in a new process configured with that cache alone. Only direct requirements are
    reported: what they pull in themselves depends on the Python version and the platform.
    """
    config = {
        key: str(value) if isinstance(value, Path) else value for key, value in settings.CACHES[alias].items()
    }
    result = subprocess.run(
        [sys.executable, "-c", _PACKAGES_SCRIPT],
        cwd=SANDBOX_DIR,
        # Through the environment, not the command line: the location may hold the Redis password.
        env={**os.environ, "CQLAB_CACHE_CONFIG": json.dumps(config)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the new process failed:\n{result.stderr[-1500:]}")
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    return sorted(loaded & (course_requirements() - {"django"}))


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


# --- caches built from a CACHES entry the notebook writes ---------------------------------------
def cache_from_config(config: dict):
    """A cache object built from a CACHES entry, as Django builds one, without touching settings."""
    params = {key: value for key, value in config.items() if key not in ("BACKEND", "LOCATION")}
    return import_string(config["BACKEND"])(config.get("LOCATION", ""), params)


@contextmanager
def default_cache(config: dict):
    """Run the site with `config` as its default cache (what `from django.core.cache import cache` uses)."""
    with override_settings(CACHES={**settings.CACHES, "default": config}):
        yield


def start_replica(primary: ThrowawayRedis, timeout: float = 10.0) -> ThrowawayRedis:
    """A throw-away Redis replicating `primary`; returns once the two are in sync."""
    replica = ThrowawayRedis(
        extra_conf=(f"replicaof {HOST} {primary.port}", f"masterauth {primary.config.redis_password}")
    ).start()
    client = replica.client()
    wait_until(
        lambda: client.info("replication").get("master_link_status") == "up", timeout, "the replica's sync"
    )
    return replica


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
def benchmark(
    caches_by_label: dict,
    raw_gets: dict[str, Callable[[], object]],
    n: int = 150,
    rounds: int = 5,
    batch: int = 100,
) -> tuple[dict[tuple[str, str], Timing], dict[str, Timing]]:
    """Every cache through the same Django API calls, and the raw clients' gets as a reference.

    Returns ({(label, operation): Timing}, {raw name: Timing}), each the best of `rounds`.
    Round-robin (round 1 of everything, then round 2, ...), so a burst of load on a busy machine
    hits every cache alike; the best round (lowest median) is kept, as timeit does.
    """
    keys = [f"bench-{i}" for i in range(batch)]
    calls = {}
    for label, cache in caches_by_label.items():
        cache.set("bench-hit", PAYLOAD, 300)
        cache.set_many(dict.fromkeys(keys, PAYLOAD), 300)
        calls[label, "get hit"] = lambda cache=cache: cache.get("bench-hit")
        calls[label, "get miss"] = lambda cache=cache: cache.get("bench-miss")
        calls[label, "set"] = lambda cache=cache: cache.set("bench-set", PAYLOAD, 300)
        calls[label, "get_many ×100"] = lambda cache=cache: cache.get_many(keys)
    for name, call in raw_gets.items():
        calls[name, "raw get"] = call
    best: dict[tuple[str, str], Timing] = {}
    for _ in range(rounds):
        for (label, operation), call in calls.items():
            items = batch if operation.startswith("get_many") else 1
            timing = time_calls(f"{label} {operation}", call, n, n // 10, items)
            if (label, operation) not in best or timing.p50_us < best[label, operation].p50_us:
                best[label, operation] = timing
    for cache in caches_by_label.values():
        cache.delete_many([*keys, "bench-hit", "bench-set"])
    reference = {name: best.pop((name, "raw get")) for name in raw_gets}
    return best, reference


def benchmark_table(results: dict[tuple[str, str], Timing]) -> str:
    """ops/s and p50/p99 per cache and operation, as aligned text."""
    lines = [f"{'cache':<14}{'operation':<16}{'ops/s':>10}{'p50 µs':>10}{'p99 µs':>10}"]
    for (label, operation), timing in results.items():
        lines.append(
            f"{label:<14}{operation:<16}{timing.ops_per_s:>10,.0f}{timing.p50_us:>10.1f}{timing.p99_us:>10.1f}"
        )
    return "\n".join(lines)


def plot_benchmark(results: dict[tuple[str, str], Timing], reference: dict[str, Timing]):
    """Median latency per operation and cache alias (bars, log scale), p99 as a tick; raw clients as lines.

    Medians, not ops/s: a stray pause of a busy machine can halve an ops/s figure of a fast cache.
    """
    aliases = list(dict.fromkeys(alias for alias, _ in results))
    fig, ax = new_axes(9, 4)
    width = 0.8 / len(aliases)
    for i, alias in enumerate(aliases):
        xs = [x + i * width for x in range(len(OPERATIONS))]
        timings = [results[alias, operation] for operation in OPERATIONS]
        ax.bar(xs, [t.p50_us for t in timings], width, label=ALIAS_LABEL[alias], color=colour(alias))
        ax.scatter(xs, [t.p99_us for t in timings], marker="_", color=colour(alias))
    for (name, timing), style in zip(reference.items(), ["--", ":"], strict=False):
        technology = "redis" if "Redis" in name else "memcached"
        label = f"{name} (raw client)"
        ax.axhline(timing.p50_us, color=colour(technology), linestyle=style, linewidth=1, label=label)
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


def stampede(read: Callable[[], object], clients: int = 8) -> list:
    """`clients` threads call `read` at the same instant (a cold key under load); their results."""
    barrier = threading.Barrier(clients)
    results = [None] * clients

    def client(i: int) -> None:
        barrier.wait(timeout=30)
        results[i] = read()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
