"""Thin stages for notebook 06 (scaling out): counting misses, timing a failover.

What the servers and clients are configured with is in the notebook's cells; these only
count and wait around the code a cell passes in.
"""

import time
from collections.abc import Callable, Iterable

from redis.sentinel import MasterNotFoundError, Sentinel

from cqlab.notebook.plots import PALETTE, task_timelines
from cqlab.waiting import wait_until


def miss_fraction(get: Callable[[str], object], keys: Iterable[str]) -> float:
    """Share of `keys` for which `get(key)` returns None (a cache miss)."""
    keys = list(keys)
    return sum(get(key) is None for key in keys) / len(keys)


def seconds_until_new_primary(
    sentinel: Sentinel,
    master_name: str,
    old: tuple[str, int],
    since: float | None = None,
    timeout: float = 60.0,
) -> tuple[float, tuple[str, int]]:
    """Wait until the sentinels name a primary other than `old`; (seconds since `since`, a
    `time.monotonic()` reading such as the kill's, or since the call; the new address).

    While the old primary is down and not yet replaced, sentinels name no primary at all
    (MasterNotFoundError): that is part of the wait.
    """
    started = time.monotonic() if since is None else since

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


# --- 5. prefetching: short tasks behind a long one ---------------------------------------------


def burst_behind_a_long_task(app, broker, long_task, short_tasks, busy: str, idle: str, queue: str) -> dict:
    """Stage: a long task, then short ones, on `queue`, where only the worker `busy` listens.

    The short tasks are sent once the long one runs. When `busy` has taken all its prefetch limit
    lets it take (it holds `prefetch_count` unacknowledged messages, or the queue is empty), the
    worker `idle` starts consuming `queue` too. Returns `busy`'s prefetch count, how many short
    tasks it held then, and every run (the long task's first).
    """
    sent = time.time()
    long_result = long_task.set(queue=queue).apply_async()

    def running() -> list:
        return (app.control.inspect([busy], timeout=5).active() or {}).get(busy)

    wait_until(running, 20, f"{busy} to start the long task")
    prefetch_count = app.control.inspect([busy], timeout=5).stats()[busy]["prefetch_count"]
    short_results = [task.set(queue=queue).apply_async() for task in short_tasks]

    def settled():
        # Kombu's Redis transport keeps each delivered, unacknowledged message in the `unacked`
        # hash (notebook 05b); only `busy` consumes here. One transaction: both counts at once.
        held, waiting = broker.pipeline().hlen("unacked").llen(queue).execute()
        return (held, waiting) if held >= prefetch_count or waiting == 0 else None

    _, waiting = wait_until(settled, 20, f"{busy} to take what its prefetch limit allows")
    app.control.add_consumer(queue, destination=[idle], reply=True)
    runs = [long_result.get(timeout=60), *(result.get(timeout=60) for result in short_results)]
    app.control.cancel_consumer(queue, destination=[idle], reply=True)
    return {
        "prefetch_count": prefetch_count,
        "short_held": len(short_tasks) - waiting,  # taken by `busy`, so run after its long task
        "runs": runs,
        "sent": sent,
    }


def short_tasks_during_a_long_one(
    app, long_task, short_tasks, busy: str, idle: str, queue: str
) -> list[dict]:
    """Stage: a long task on `queue`, where only the worker `busy` listens; once it runs, the short
    tasks, then the worker `idle` starts consuming `queue` too. Returns every run, the long task's first.

    Unlike `burst_behind_a_long_task`, nothing is awaited between sending the short tasks and `idle`
    joining (a worker that takes no message gives no event to wait for): a `busy` worker that may
    reserve a message already waits on the queue when they arrive, `idle` joins a control round
    trip later.
    """
    long_result = long_task.set(queue=queue).apply_async()

    def running() -> list:
        return (app.control.inspect([busy], timeout=5).active() or {}).get(busy)

    wait_until(running, 20, f"{busy} to start the long task")
    short_results = [task.set(queue=queue).apply_async() for task in short_tasks]
    app.control.add_consumer(queue, destination=[idle], reply=True)
    try:
        return [long_result.get(timeout=60), *(result.get(timeout=60) for result in short_results)]
    finally:
        app.control.cancel_consumer(queue, destination=[idle], reply=True)


def plot_timelines(rounds: dict[str, dict]) -> None:
    """One panel per round of `burst_behind_a_long_task`, one lane per worker process, one bar per
    task: the long task in grey, the short ones in yellow. Drawn and shown."""
    task_timelines(
        rounds,
        "seconds since the long task was sent (grey: long task, yellow: short ones)",
        lambda _, index: PALETTE["file"] if index == 0 else PALETTE["celery"],
        panel_height=1.9,
    )
