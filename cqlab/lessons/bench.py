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

Why the operations are interleaved in small blocks: on a shared virtual machine a round trip
(over a unix socket or loopback TCP alike) is bimodal (fast while both processes stay on a CPU,
several times slower after a CPU wake-up), and the state lasts for seconds. Timing 3000 GETs,
then 300 MGETs, hands each operation a different state; alternating blocks of a few calls
gives every operation the same mix.
A run that still comes out physically impossible (a typical MGET of 100 keys faster than a
typical GET of one) is refused and redone.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from pymemcache.client.base import Client as MemcacheClient

from cqlab.errors import LabError
from cqlab.notebook.timing import Timing, time_calls
from cqlab.paths import THROWAWAY_DIR

PAYLOAD_BYTES = 100  # the value size of the reference figures
BATCH = 100  # keys per MGET / pipeline / get_many
KEY = "bench:key"

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


# --- one operation each, on a client you pass (the reference figures other notebooks use) ------
def redis_get_timing(client: redis.Redis, n: int = 2000, size: int = PAYLOAD_BYTES) -> Timing:
    """GET of one `size`-byte value, one round trip per call."""
    client.set(KEY, payload(size))
    try:
        return time_calls(REDIS_GET, lambda: client.get(KEY), n)
    finally:
        client.delete(KEY)


def memcached_get_timing(client: MemcacheClient, n: int = 2000, size: int = PAYLOAD_BYTES) -> Timing:
    client.set(KEY, payload(size), noreply=False)
    try:
        return time_calls(MEMCACHED_GET, lambda: client.get(KEY), n)
    finally:
        client.delete(KEY, noreply=False)


# --- both servers, one run -------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    label: str
    call: Callable[[], object]
    items_per_call: int = 1


def operations(
    redis_client: redis.Redis,
    memcached_client: MemcacheClient,
    fire_and_forget: MemcacheClient,
    size: int,
    batch: int,
) -> list[Operation]:
    """The compared operations, in display order (side_by_side stores their keys first).

    The fire-and-forget set has a connection of its own: pymemcache leaves Nagle's algorithm
    on (`no_delay=False`), so a request sent after unanswered writes on the same connection
    waits for the server's delayed ACK (about 40 ms) and would slow the next operation down.
    """
    keys, value = batch_keys(batch), payload(size)

    def redis_pipelined_gets() -> list:
        pipe = redis_client.pipeline(transaction=False)  # separate GETs in one write, no MULTI
        for key in keys:
            pipe.get(key)
        return pipe.execute()

    return [
        Operation(REDIS_GET, lambda: redis_client.get(KEY)),
        Operation(MEMCACHED_GET, lambda: memcached_client.get(KEY)),
        Operation(REDIS_SET, lambda: redis_client.set(KEY, value)),
        Operation(MEMCACHED_SET, lambda: memcached_client.set(KEY, value, noreply=False)),
        Operation(MEMCACHED_SET_NOREPLY, lambda: fire_and_forget.set(KEY, value)),
        Operation(REDIS_MGET, lambda: redis_client.mget(keys), batch),
        Operation(REDIS_PIPELINE, redis_pipelined_gets, batch),
        Operation(MEMCACHED_GET_MANY, lambda: memcached_client.get_many(keys), batch),
    ]


def side_by_side(
    redis_client: redis.Redis,
    memcached_client: MemcacheClient,
    n: int = 3000,
    size: int = PAYLOAD_BYTES,
    batch: int = BATCH,
    blocks: int = 30,
    attempts: int = 5,
) -> dict[str, Timing]:
    """Every operation timed in `blocks` interleaved blocks; redone while physically inconsistent.

    Single-key operations make `n` calls, batched ones n // 10 (at least `blocks`). A run
    that `inconsistencies` rejects is thrown away, up to `attempts` runs; then LabError.
    """
    keys, value = batch_keys(batch), payload(size)
    fire_and_forget = MemcacheClient(
        memcached_client.server, key_prefix=memcached_client.key_prefix, connect_timeout=2, timeout=5
    )
    redis_client.set(KEY, value)
    redis_client.mset(dict.fromkeys(keys, value))
    memcached_client.set(KEY, value, noreply=False)
    memcached_client.set_many(dict.fromkeys(keys, value), noreply=False)
    try:
        refused = []
        for _ in range(attempts):
            ops = operations(redis_client, memcached_client, fire_and_forget, size, batch)
            results = _interleaved(ops, n, blocks)
            if not (problems := inconsistencies(results)):
                return results
            refused.append(problems)
        raise LabError(f"{attempts} benchmark runs in a row were physically inconsistent: {refused}")
    finally:
        redis_client.delete(KEY, *keys)
        fire_and_forget.version()  # a round trip: the noreply sets still in flight land first
        memcached_client.delete_many([KEY, *keys], noreply=False)
        fire_and_forget.close()


def _interleaved(ops: list[Operation], n: int, blocks: int) -> dict[str, Timing]:
    """Time each operation in `blocks` blocks, one block of each in turn (order rotated)."""
    single_per_block = max(n // blocks, 1)
    batched_per_block = max(n // 10 // blocks, 1)
    latencies: dict[str, list[int]] = {op.label: [] for op in ops}
    for block in range(-1, blocks):  # block -1 warms up connections and caches, untimed
        shift = max(block, 0) % len(ops)
        for op in ops[shift:] + ops[:shift]:
            calls = batched_per_block if op.items_per_call > 1 else single_per_block
            for _ in range(calls):
                before = time.perf_counter_ns()
                op.call()
                if block >= 0:
                    latencies[op.label].append(time.perf_counter_ns() - before)
    return {op.label: _timing(op, latencies[op.label]) for op in ops}


def _timing(op: Operation, latencies_ns: list[int]) -> Timing:
    quantiles = statistics.quantiles(latencies_ns, n=100)
    calls_per_s = len(latencies_ns) / (sum(latencies_ns) / 1e9)
    return Timing(
        op.label,
        len(latencies_ns),
        quantiles[49] / 1000,
        quantiles[98] / 1000,
        calls_per_s,
        op.items_per_call,
    )


def inconsistencies(results: dict[str, Timing]) -> list[str]:
    """What no undisturbed run can show: a call that moves 100 values beating a call that moves one.

    Judged on medians (a typical call), which a few stalls of a busy machine do not move,
    and on keys per second, where batching wins by far more than any noise.
    """
    problems = []
    for batched, single in [
        (REDIS_MGET, REDIS_GET),
        (REDIS_PIPELINE, REDIS_GET),
        (MEMCACHED_GET_MANY, MEMCACHED_GET),
    ]:
        if results[batched].p50_us <= results[single].p50_us:
            problems.append(f"a typical {batched} took no longer than a typical {single}")
        if results[batched].items_per_s <= results[single].items_per_s:
            problems.append(f"{batched} moved fewer keys/s than {single}")
    return problems


def ratios(results: dict[str, Timing]) -> dict[str, float]:
    """The stable part of a benchmark: speeds relative to each other, taken in one run."""
    redis_get, memcached_get = results[REDIS_GET], results[MEMCACHED_GET]
    return {
        "memcached get / redis GET": memcached_get.ops_per_s / redis_get.ops_per_s,
        "memcached set / redis SET": results[MEMCACHED_SET].ops_per_s / results[REDIS_SET].ops_per_s,
        "redis MGET / GET (calls/s)": results[REDIS_MGET].ops_per_s / redis_get.ops_per_s,
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
    n: int = 3000, size: int = PAYLOAD_BYTES, pipelines: tuple[int, ...] = (1, 16), rounds: int = 3
) -> dict[str, Timing]:
    """`redis-benchmark -c 1 -t set,get` (no Python in the loop) at each pipeline depth.

    Each depth runs `rounds` times and the fastest run is kept: this is the floor, what the
    machine's round trip allows, not a typical figure. It runs against a throw-away,
    password-less redis-server on a unix socket in its own data directory, as the lab's servers
    are reached (redis-benchmark takes a password only on its command line, where `ps` would
    show it). {} when redis-benchmark is missing.
    """
    if not shutil.which("redis-benchmark"):
        return {}
    from cqlab.infra.throwaway import ThrowawayRedis  # starts processes: imported only when needed

    results: dict[str, Timing] = {}
    socket = THROWAWAY_DIR / f"bench-{os.getpid()}.sock"
    with ThrowawayRedis(password=False, extra_conf=(f"unixsocket {socket}", "unixsocketperm 600")):
        for _ in range(rounds):
            for depth in pipelines:
                command = ["redis-benchmark", "-s", str(socket), "-c", "1"]
                command += ["-n", str(n), "-d", str(size), "-t", "set,get", "-P", str(depth), "--csv"]
                output = subprocess.run(
                    command, capture_output=True, text=True, timeout=120, check=True
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
    """Horizontal bars of keys per second (log scale), in the course palette (C client grey)."""
    from matplotlib.patches import Patch

    from cqlab.notebook.plots import PALETTE, new_axes

    clients = {  # legend label → colour; a row belongs to the first whose prefix it has
        "redis-benchmark (Redis's C client)": ("redis-benchmark", PALETTE["file"]),
        "redis-py → Redis": ("Redis", PALETTE["redis"]),
        "pymemcache → Memcached": ("Memcached", PALETTE["memcached"]),
    }
    if ax is None:
        _, ax = new_axes(8, 0.45 * len(results) + 1)
    labels = list(results)[::-1]
    colours = [
        next(colour for prefix, colour in clients.values() if label.startswith(prefix)) for label in labels
    ]
    ax.barh(labels, [results[label].items_per_s for label in labels], color=colours)
    ax.set_xscale("log")
    ax.set_xlabel("keys per second, one client thread (log scale)")
    ax.set_title(f"Same {PAYLOAD_BYTES}-byte values, one run")
    ax.legend(
        handles=[Patch(color=colour, label=name) for name, (_, colour) in clients.items()],
        loc="upper right",
        fontsize="small",
    )
    return ax


def main(argv: list[str] | None = None) -> int:
    from cqlab.config import LabConfig
    from cqlab.infra import services
    from cqlab.notebook.lab import NAMESPACE_DB, Lab

    parser = argparse.ArgumentParser(prog="python -m cqlab.lessons.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="calls per single-key operation")
    parser.add_argument("--size", type=int, default=PAYLOAD_BYTES, help="value size in bytes")
    parser.add_argument("--blocks", type=int, default=30, help="interleaved blocks per operation")
    parser.add_argument(
        "--namespace", default="01b", choices=list(NAMESPACE_DB), help="whose Redis DB to use"
    )
    args = parser.parse_args(argv)

    config = LabConfig.from_env()
    services.up(config)
    name = f"nb{args.namespace}" if args.namespace.isdigit() else args.namespace
    lab = Lab(name, NAMESPACE_DB[args.namespace], config)  # no setup(): the namespace is not flushed
    results = side_by_side(lab.redis(), lab.memcached(), n=args.n, size=args.size, blocks=args.blocks)
    results.update(redis_benchmark_reference(size=args.size))
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
