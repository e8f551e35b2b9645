"""Thin stages for notebook 06 (scaling out): counting misses, timing a failover.

What the servers and clients are configured with is in the notebook's cells; these only
count and wait around the code a cell passes in.
"""

import time
from collections.abc import Callable, Iterable

from redis.sentinel import MasterNotFoundError, Sentinel

from cqlab.waiting import wait_until


def miss_fraction(get: Callable[[str], object], keys: Iterable[str]) -> float:
    """Share of `keys` for which `get(key)` returns None (a cache miss)."""
    keys = list(keys)
    return sum(get(key) is None for key in keys) / len(keys)


def seconds_until_new_primary(
    sentinel: Sentinel, master_name: str, old: tuple[str, int], timeout: float = 60.0
) -> tuple[float, tuple[str, int]]:
    """Wait until the sentinels name a primary other than `old`; (seconds waited, new address).

    While the old primary is down and not yet replaced, sentinels name no primary at all
    (MasterNotFoundError): that is part of the wait.
    """
    started = time.monotonic()

    def new_primary():
        try:
            address = sentinel.discover_master(master_name)
        except MasterNotFoundError:
            return None
        return address if tuple(address) != tuple(old) else None

    address = wait_until(new_primary, timeout, f"a new primary for {master_name!r}")
    return time.monotonic() - started, tuple(address)


def span_seconds(results: list[dict]) -> float:
    """Wall time of a batch of tasks: first start to last finish, as the tasks reported them."""
    return max(result["finished"] for result in results) - min(result["started"] for result in results)
