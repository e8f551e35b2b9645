"""Redis and Memcached side by side: the same payloads, one client thread, one run.

    python -m cqlab.lessons.bench               # headless: the table, the ratios, redis-benchmark's floor
    python -m cqlab.lessons.bench --n 5000 --size 1000

From code (other notebooks use these as the raw-client reference figure):

    from cqlab.lessons import bench
    bench.redis_get_timing(lab.redis(), n=2000)          # -> cqlab.notebook.timing.Timing
    bench.memcached_get_timing(lab.memcached(), n=2000)  # -> cqlab.notebook.timing.Timing
    results = bench.side_by_side(lab.redis(), lab.memcached())

Like with like: pymemcache's `set` is fire-and-forget by default (`noreply=True`: it does not
wait for the server's answer), so every Memcached set here passes `noreply=False` and waits
for STORED, as redis-py waits for OK. The default is measured as a separate, labelled row.
"""

import argparse
import shutil
import subprocess
import sys
from collections.abc import Callable

import redis
from pymemcache.client.base import Client as MemcacheClient

from cqlab.notebook.timing import Timing, time_calls

PAYLOAD_BYTES = 100  # the value size of the reference figures
BATCH = 100  # keys per MGET / pipeline / get_many
KEY = "bench:key"
REDIS_BENCHMARK_PORT = 6409  # a throw-away redis-server of notebook 01's port range

# Labels of side_by_side(), in display order.
REDIS_GET = "Redis GET"
REDIS_SET = "Redis SET"
REDIS_MGET = "Redis MGET ×100"
REDIS_PIPELINE = "Redis pipeline of 100 GETs"
MEMCACHED_GET = "Memcached get"
MEMCACHED_SET = "Memcached set (noreply=False)"
MEMCACHED_SET_NOREPLY = "Memcached set (default noreply)"
MEMCACHED_GET_MANY = "Memcached get_many ×100"


def payload(size: int = PAYLOAD_BYTES) -> bytes:
    return b"x" * size


def batch_keys(batch: int = BATCH) -> list[str]:
    return [f"bench:{i}" for i in range(batch)]


# --- one operation each, on a client you pass ------------------------------------------------
def redis_get_timing(client: redis.Redis, n: int = 2000, size: int = PAYLOAD_BYTES) -> Timing:
    """GET of one `size`-byte value, one round trip per call."""
    client.set(KEY, payload(size))
    try:
        return time_calls(REDIS_GET, lambda: client.get(KEY), n)
    finally:
        client.delete(KEY)


def redis_set_timing(client: redis.Redis, n: int = 2000, size: int = PAYLOAD_BYTES) -> Timing:
    value = payload(size)
    try:
        return time_calls(REDIS_SET, lambda: client.set(KEY, value), n)
    finally:
        client.delete(KEY)


def redis_mget_timing(
    client: redis.Redis, n: int = 500, size: int = PAYLOAD_BYTES, batch: int = BATCH
) -> Timing:
    """MGET of `batch` keys: one command, one round trip."""
    keys = batch_keys(batch)
    client.mset(dict.fromkeys(keys, payload(size)))
    try:
        return time_calls(REDIS_MGET, lambda: client.mget(keys), n, items_per_call=batch)
    finally:
        client.delete(*keys)


def redis_pipeline_get_timing(
    client: redis.Redis, n: int = 500, size: int = PAYLOAD_BYTES, batch: int = BATCH
) -> Timing:
    """`batch` separate GET commands sent in one write (no MULTI), answers read together."""
    keys = batch_keys(batch)
    client.mset(dict.fromkeys(keys, payload(size)))

    def pipelined_gets() -> list:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        return pipe.execute()

    try:
        return time_calls(REDIS_PIPELINE, pipelined_gets, n, items_per_call=batch)
    finally:
        client.delete(*keys)


def memcached_get_timing(client: MemcacheClient, n: int = 2000, size: int = PAYLOAD_BYTES) -> Timing:
    client.set(KEY, payload(size), noreply=False)
    try:
        return time_calls(MEMCACHED_GET, lambda: client.get(KEY), n)
    finally:
        client.delete(KEY, noreply=False)


def memcached_set_timing(
    client: MemcacheClient, n: int = 2000, size: int = PAYLOAD_BYTES, noreply: bool = False
) -> Timing:
    """set that waits for STORED (noreply=False), or pymemcache's default fire-and-forget."""
    value = payload(size)
    label = MEMCACHED_SET_NOREPLY if noreply else MEMCACHED_SET
    try:
        return time_calls(label, lambda: client.set(KEY, value, noreply=noreply), n)
    finally:
        client.delete(KEY, noreply=False)


def memcached_get_many_timing(
    client: MemcacheClient, n: int = 500, size: int = PAYLOAD_BYTES, batch: int = BATCH
) -> Timing:
    """get_many of `batch` keys: one `get k1 k2 ...` command, one round trip."""
    keys = batch_keys(batch)
    client.set_many(dict.fromkeys(keys, payload(size)), noreply=False)
    try:
        return time_calls(MEMCACHED_GET_MANY, lambda: client.get_many(keys), n, items_per_call=batch)
    finally:
        client.delete_many(keys, noreply=False)


# --- both servers, one run -------------------------------------------------------------------
def side_by_side(
    redis_client: redis.Redis,
    memcached_client: MemcacheClient,
    n: int = 3000,
    size: int = PAYLOAD_BYTES,
    batch: int = BATCH,
    rounds: int = 3,
) -> dict[str, Timing]:
    """Every operation `rounds` times, interleaved; keep each one's median round (by ops/s).

    Interleaving spreads a burst of noise from other processes over both servers instead of
    handing it all to whichever happened to run then. Batched operations run n // 10 calls.
    """
    batched_n = max(n // 10, 50)
    probes: list[Callable[[], Timing]] = [
        lambda: redis_get_timing(redis_client, n, size),
        lambda: memcached_get_timing(memcached_client, n, size),
        lambda: redis_set_timing(redis_client, n, size),
        lambda: memcached_set_timing(memcached_client, n, size),
        lambda: memcached_set_timing(memcached_client, n, size, noreply=True),
        lambda: redis_mget_timing(redis_client, batched_n, size, batch),
        lambda: redis_pipeline_get_timing(redis_client, batched_n, size, batch),
        lambda: memcached_get_many_timing(memcached_client, batched_n, size, batch),
    ]
    runs: dict[str, list[Timing]] = {}
    for _ in range(rounds):
        for probe in probes:
            timing = probe()
            runs.setdefault(timing.label, []).append(timing)
    return {label: _median_run(timings) for label, timings in runs.items()}


def _median_run(timings: list[Timing]) -> Timing:
    ranked = sorted(timings, key=lambda timing: timing.ops_per_s)
    return ranked[(len(ranked) - 1) // 2]


def ratios(results: dict[str, Timing]) -> dict[str, float]:
    """The stable part of a benchmark: speeds relative to each other, taken in one run."""
    redis_get, memcached_get = results[REDIS_GET], results[MEMCACHED_GET]
    return {
        "memcached get / redis GET": memcached_get.ops_per_s / redis_get.ops_per_s,
        "memcached set / redis SET": results[MEMCACHED_SET].ops_per_s / results[REDIS_SET].ops_per_s,
        "redis MGET / GET (keys/s)": results[REDIS_MGET].items_per_s / redis_get.ops_per_s,
        "redis pipeline / GET (keys/s)": results[REDIS_PIPELINE].items_per_s / redis_get.ops_per_s,
        "memcached get_many / get (keys/s)": results[MEMCACHED_GET_MANY].items_per_s
        / memcached_get.ops_per_s,
        "memcached set: default noreply / noreply=False": (
            results[MEMCACHED_SET_NOREPLY].ops_per_s / results[MEMCACHED_SET].ops_per_s
        ),
    }


# --- the physical reference: Redis's own C client ---------------------------------------------
def redis_benchmark_reference(
    n: int = 10000,
    size: int = PAYLOAD_BYTES,
    pipelines: tuple[int, ...] = (1, 16),
    port: int = REDIS_BENCHMARK_PORT,
    rounds: int = 3,
) -> dict[str, Timing]:
    """`redis-benchmark -c 1 -t set,get` (no Python in the loop) at each pipeline depth.

    Each depth runs `rounds` times and the fastest run is kept: this is the floor, what the
    machine's loopback round trip allows, not a typical figure. It runs against a throw-away,
    password-less redis-server on loopback (`port`), because redis-benchmark takes a password
    only on its command line, where `ps` would show it. {} when redis-benchmark is missing.
    """
    if not shutil.which("redis-benchmark"):
        return {}
    from cqlab.infra.throwaway import ThrowawayRedis  # starts processes: imported only when needed

    results: dict[str, Timing] = {}
    with ThrowawayRedis(port, password=False):
        for _ in range(rounds):
            for depth in pipelines:
                command = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "1", "-n", str(n)]
                command += ["-d", str(size), "-t", "set,get", "-P", str(depth), "--csv"]
                output = subprocess.run(
                    command, capture_output=True, text=True, timeout=60, check=True
                ).stdout
                for timing in parse_redis_benchmark_csv(output, n, depth):
                    best = results.get(timing.label)
                    if best is None or timing.ops_per_s > best.ops_per_s:
                        results[timing.label] = timing
    return results


def parse_redis_benchmark_csv(output: str, n: int, pipeline: int = 1) -> list[Timing]:
    """Timings from `redis-benchmark --csv` (Redis 7: test, rps, avg, min, p50, p95, p99, max ms).

    rps counts commands, pipelined or not, so it compares with keys/s directly.
    """
    timings = []
    for line in output.strip().splitlines()[1:]:
        test, rps, _avg, _min, p50_ms, _p95, p99_ms, _max = (field.strip('"') for field in line.split(","))
        label = f"redis-benchmark {test} -c 1" + (f" -P {pipeline}" if pipeline > 1 else "")
        timings.append(Timing(label, n, float(p50_ms) * 1000, float(p99_ms) * 1000, float(rps)))
    return timings


# --- showing it --------------------------------------------------------------------------------
def table(results: dict[str, Timing]) -> str:
    """A fixed-width table; keys/s differs from calls/s only for batched operations."""
    lines = [f"{'operation':<36} {'calls/s':>10} {'keys/s':>11} {'p50 µs':>8} {'p99 µs':>8}"]
    for timing in results.values():
        lines.append(
            f"{timing.label:<36} {timing.ops_per_s:>10,.0f} {timing.items_per_s:>11,.0f}"
            f" {timing.p50_us:>8.1f} {timing.p99_us:>8.1f}"
        )
    return "\n".join(lines)


def plot(results: dict[str, Timing], ax=None):
    """Horizontal bars of keys per second (log scale): Redis red, Memcached green, C client grey."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * len(results) + 1))
    labels = list(results)[::-1]
    colours = [
        "tab:grey" if label.startswith("redis-benchmark") else "tab:red" if "Redis" in label else "tab:green"
        for label in labels
    ]
    ax.barh(labels, [results[label].items_per_s for label in labels], color=colours)
    ax.set_xscale("log")
    ax.set_xlabel("keys per second, one client thread (log scale)")
    ax.set_title(f"Same {PAYLOAD_BYTES}-byte values, one run")
    return ax


def main(argv: list[str] | None = None) -> int:
    from cqlab.config import LabConfig
    from cqlab.infra import services
    from cqlab.notebook.lab import NAMESPACE_DB, Lab

    parser = argparse.ArgumentParser(prog="python -m cqlab.lessons.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="calls per single-key operation")
    parser.add_argument("--size", type=int, default=PAYLOAD_BYTES, help="value size in bytes")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is kept")
    parser.add_argument("--namespace", default="01", choices=list(NAMESPACE_DB), help="whose Redis DB to use")
    parser.add_argument(
        "--benchmark-port", type=int, default=REDIS_BENCHMARK_PORT, help="throw-away Redis port"
    )
    args = parser.parse_args(argv)

    config = LabConfig.from_env()
    services.up(config)
    name = f"nb{args.namespace}" if args.namespace.isdigit() else args.namespace
    lab = Lab(name, NAMESPACE_DB[args.namespace], config)  # no setup(): the namespace is not flushed
    results = side_by_side(lab.redis(), lab.memcached(), n=args.n, size=args.size, rounds=args.rounds)
    results.update(redis_benchmark_reference(size=args.size, port=args.benchmark_port))
    print(table(results))
    print()
    for name, value in ratios(results).items():
        print(f"{name:<48} {value:6.2f}×")
    if "redis-benchmark GET -c 1" in results:
        c_client = results["redis-benchmark GET -c 1"].ops_per_s / results[REDIS_GET].ops_per_s
        print(f"{'redis-benchmark GET / redis-py GET':<48} {c_client:6.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
