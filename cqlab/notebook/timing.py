"""One way to time operations, shared by every benchmark in the course."""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Per-call latencies of `n` calls of one operation."""

    label: str
    n: int
    p50_us: float
    p99_us: float
    ops_per_s: float
    items_per_call: int = 1  # keys handled by one call (100 for an MGET of 100 keys)

    @property
    def items_per_s(self) -> float:
        """Keys (or messages) per second: comparable between single and batched calls."""
        return self.ops_per_s * self.items_per_call

    def row(self) -> str:
        return (
            f"{self.label:<32} {self.ops_per_s:>10,.0f} ops/s"
            f"  p50 {self.p50_us:8.1f} µs  p99 {self.p99_us:8.1f} µs"
        )


def time_calls(
    label: str, call: Callable[[], object], n: int = 2000, warmup: int = 100, items_per_call: int = 1
) -> Timing:
    """Call `call` n times (after `warmup` untimed calls); latencies from perf_counter_ns."""
    for _ in range(warmup):
        call()
    latencies = []
    started = time.perf_counter_ns()
    for _ in range(n):
        before = time.perf_counter_ns()
        call()
        latencies.append(time.perf_counter_ns() - before)
    elapsed_s = (time.perf_counter_ns() - started) / 1e9
    quantiles = statistics.quantiles(latencies, n=100)
    return Timing(label, n, quantiles[49] / 1000, quantiles[98] / 1000, n / elapsed_s, items_per_call)
