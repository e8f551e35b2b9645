"""The benchmark helper of notebook 01b (`cqlab.lessons.bench`), against the live Redis and Memcached."""

import shutil
import subprocess
import sys

import pytest

from cqlab.errors import LabError
from cqlab.lessons import bench
from cqlab.notebook.timing import Timing

REDIS_BENCHMARK_CSV = """\
"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","40000.00","0.025","0.008","0.023","0.031","0.047","0.311"
"GET","50000.00","0.020","0.008","0.015","0.031","0.039","0.207"
"""


def test_timing_stays_compatible_and_counts_keys():
    single = Timing("x", 10, 1.0, 2.0, 1000.0)  # the positional form other notebooks use
    batched = Timing("y", 10, 1.0, 2.0, 1000.0, items_per_call=100)
    assert single.items_per_s == 1000.0
    assert batched.items_per_s == 100_000.0


def test_parse_redis_benchmark_csv():
    set_timing, get_timing = bench.parse_redis_benchmark_csv(REDIS_BENCHMARK_CSV, n=20000, pipeline=16)
    assert get_timing.label == "redis-benchmark GET -c 1 -P 16"
    assert (get_timing.ops_per_s, get_timing.p50_us, get_timing.p99_us) == (50000.0, 15.0, 39.0)
    assert get_timing.items_per_s == 50000.0  # rps already counts every pipelined command
    assert bench.parse_redis_benchmark_csv(REDIS_BENCHMARK_CSV, n=1)[0].label == "redis-benchmark SET -c 1"


def test_single_operation_timings_clean_up_after_themselves(lab):
    r, mc = lab.redis(), lab.memcached()
    for timing in (
        bench.redis_get_timing(r, n=200),
        bench.memcached_get_timing(mc, n=200),
    ):
        assert isinstance(timing, Timing)
        assert timing.n == 200 and timing.ops_per_s > 0
        assert 0 < timing.p50_us <= timing.p99_us
    assert r.exists(bench.KEY) == 0
    assert mc.get(bench.KEY) is None


def timing(label: str, p50_us: float, calls_per_s: float, items_per_call: int = 1) -> Timing:
    return Timing(label, 100, p50_us, 2 * p50_us, calls_per_s, items_per_call)


def test_a_batched_call_faster_than_a_single_one_is_refused():
    plausible = {
        bench.REDIS_GET: timing(bench.REDIS_GET, 30, 15_000),
        bench.REDIS_MGET: timing(bench.REDIS_MGET, 65, 8_000, 100),
        bench.REDIS_PIPELINE: timing(bench.REDIS_PIPELINE, 400, 2_000, 100),
        bench.MEMCACHED_GET: timing(bench.MEMCACHED_GET, 20, 20_000),
        bench.MEMCACHED_GET_MANY: timing(bench.MEMCACHED_GET_MANY, 240, 3_000, 100),
    }
    assert bench.inconsistencies(plausible) == []
    # The stored run that prompted the check: MGET p50 59 µs against GET p50 109 µs.
    disturbed = {**plausible, bench.REDIS_GET: timing(bench.REDIS_GET, 109, 8_951)}
    assert bench.inconsistencies(disturbed) == [
        f"a typical {bench.REDIS_MGET} took no longer than a typical {bench.REDIS_GET}"
    ]
    unbatched = {**plausible, bench.MEMCACHED_GET_MANY: timing(bench.MEMCACHED_GET_MANY, 240, 100, 100)}
    assert bench.inconsistencies(unbatched) == [
        f"{bench.MEMCACHED_GET_MANY} moved fewer keys/s than {bench.MEMCACHED_GET}"
    ]


def test_side_by_side_measures_every_operation_and_the_ratios(lab):
    r, mc = lab.redis(), lab.memcached()
    results = bench.side_by_side(r, mc, n=300, blocks=6)
    assert list(results) == [
        bench.REDIS_GET,
        bench.MEMCACHED_GET,
        bench.REDIS_SET,
        bench.MEMCACHED_SET,
        bench.MEMCACHED_SET_NOREPLY,
        bench.REDIS_MGET,
        bench.REDIS_PIPELINE,
        bench.MEMCACHED_GET_MANY,
    ]
    assert results[bench.REDIS_MGET].items_per_call == bench.BATCH
    assert results[bench.REDIS_GET].n == 300
    assert results[bench.REDIS_MGET].n == 30  # batched operations make n // 10 calls
    assert all(value > 0 for value in bench.ratios(results).values())
    assert bench.inconsistencies(results) == []  # side_by_side returns consistent runs only
    # Batching is the one effect large enough to assert even on a busy machine.
    assert bench.ratios(results)["redis MGET / GET (keys/s)"] > 3
    assert all(label in bench.table(results) for label in results)
    assert r.keys("bench:*") == []
    assert mc.get_many(bench.batch_keys()) == {}


def test_side_by_side_gives_up_after_inconsistent_runs_and_cleans_up(lab, monkeypatch):
    runs = []

    def always_disturbed(results):
        runs.append(results)
        return ["disturbed"]

    monkeypatch.setattr(bench, "inconsistencies", always_disturbed)
    r, mc = lab.redis(), lab.memcached()
    with pytest.raises(LabError, match="3 benchmark runs in a row"):
        bench.side_by_side(r, mc, n=60, blocks=2, attempts=3)
    assert len(runs) == 3
    assert r.keys("bench:*") == []
    assert mc.get_many([bench.KEY, *bench.batch_keys()]) == {}


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="redis-benchmark is not installed")
def test_redis_benchmark_reference_runs_the_c_client():
    results = bench.redis_benchmark_reference(n=2000, pipelines=(1, 16), rounds=1)
    assert set(results) == {
        "redis-benchmark SET -c 1",
        "redis-benchmark GET -c 1",
        "redis-benchmark SET -c 1 -P 16",
        "redis-benchmark GET -c 1 -P 16",
    }
    assert all(timing.ops_per_s > 0 and timing.p50_us > 0 for timing in results.values())


def test_plot_draws_one_bar_per_operation(lab):
    import matplotlib

    matplotlib.use("Agg")
    results = bench.side_by_side(lab.redis(), lab.memcached(), n=300, blocks=6)
    ax = bench.plot(results)
    assert len(ax.patches) == len(results)
    assert ax.get_xscale() == "log"


def test_headless_run_prints_table_and_ratios_without_secrets(lab):
    result = subprocess.run(
        [sys.executable, "-m", "cqlab.lessons.bench", "--n", "200", "--blocks", "4"]
        + ["--namespace", lab.namespace],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert bench.REDIS_GET in result.stdout and bench.MEMCACHED_GET_MANY in result.stdout
    assert "memcached get / redis GET" in result.stdout
    assert lab.config.redis_password not in result.stdout + result.stderr


def test_headless_run_refuses_an_unknown_namespace():
    result = subprocess.run(
        [sys.executable, "-m", "cqlab.lessons.bench", "--namespace", "nope"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
