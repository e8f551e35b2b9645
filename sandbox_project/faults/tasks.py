"""Fault-demo tasks of notebook 05: each carries its protection in its decorator.

Every run writes to a ledger (`sandbox.ledger`): one Redis hash per run, counting each event,
so "nothing lost, nothing doubled" is a number:

    started   the task body began          effect    the side effect happened (e.g. a charge)
    finished  the task body returned       cleanup   code after a soft time limit ran
"""

import os
import signal
import time

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from faults.redelivery import BoundedDeliveries
from sandbox.ledger import ledger

EVENTS = ("started", "effect", "finished", "cleanup", "soft limit ignored")  # in the order they happen
PIDS_KEY = "faults:pids"  # run → pid of the process whose body started it last
GUARD_PREFIX = "faults:done:"  # idempotency keys: one per side effect that must happen once
GUARD_TTL = 3600


def ledger_key(run: str) -> str:
    return f"faults:ledger:{run}"


def note(run: str, event: str) -> int:
    return ledger().hincrby(ledger_key(run), event, 1)


def note_start(run: str) -> None:
    """Count a start and publish this process's pid in one transaction: whoever sees the pid
    (to kill the process) also sees the start."""
    with ledger().pipeline(transaction=True) as pipe:
        pipe.hincrby(ledger_key(run), "started", 1)
        pipe.hset(PIDS_KEY, run, os.getpid())
        pipe.execute()


def counts(run: str) -> dict[str, int]:
    """Every event of `run` with how often it happened, e.g. {"started": 2, "effect": 1}."""
    found = {field.decode(): int(value) for field, value in ledger().hgetall(ledger_key(run)).items()}
    return {event: found[event] for event in EVENTS if event in found}


def first_time(idempotency_key: str) -> bool:
    """True for the first caller with this key, False for every later one: an atomic SET NX
    (redis-py returns True when it set the key, None when the key was already there)."""
    return bool(ledger().set(GUARD_PREFIX + idempotency_key, 1, nx=True, ex=GUARD_TTL))


def charge_card(run: str, seconds: float, guarded: bool) -> str:
    """The side effect first (say, charging a card), then slow work during which we may die.

    `guarded`: charge only if this run's idempotency key is new (a re-run charges nothing).
    """
    note_start(run)
    if not guarded or first_time(run):
        note(run, "effect")
    time.sleep(seconds)
    note(run, "finished")
    return run


@shared_task
def record(run: str, guarded: bool = False) -> str:
    """The smallest ledgered task: a charge without the slow part."""
    return charge_card(run, 0, guarded)


@shared_task
def charge(run: str, seconds: float, guarded: bool = False) -> str:
    """Celery's default: the message is acknowledged when a worker takes it, before the body runs."""
    return charge_card(run, seconds, guarded)


@shared_task(acks_late=True)
def charge_acks_late(run: str, seconds: float, guarded: bool = False) -> str:
    """Acknowledged only after the body returns; a lost pool child still counts as a failure."""
    return charge_card(run, seconds, guarded)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def charge_requeued_on_loss(run: str, seconds: float, guarded: bool = False) -> str:
    """Acknowledged late, and put back on the queue when the child running it dies."""
    return charge_card(run, seconds, guarded)


@shared_task(soft_time_limit=0.5, time_limit=3)
def with_cleanup(run: str, seconds: float) -> str:
    """Too slow for its soft limit: catches SoftTimeLimitExceeded and cleans up in time."""
    note_start(run)
    try:
        time.sleep(seconds)
    except SoftTimeLimitExceeded:
        note(run, "cleanup")
        return "cleaned up"
    note(run, "finished")
    return "finished"


@shared_task(soft_time_limit=0.5, time_limit=1)
def ignores_soft_limit(run: str, seconds: float) -> str:
    """Swallows the soft limit and keeps going: only the hard limit (a SIGKILL) stops it."""
    note_start(run)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except SoftTimeLimitExceeded:
            note(run, "soft limit ignored")
    note(run, "finished")
    return "finished"


# --- Notebook 05d: a poison message ---------------------------------------------------------------
def crash_the_process(run: str) -> None:
    """Count the start, then die as a segfault or the OOM killer would end this process: SIGKILL."""
    note_start(run)
    os.kill(os.getpid(), signal.SIGKILL)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def poison(run: str) -> None:
    """Requeued whenever its pool child dies, and it kills its pool child every time."""
    crash_the_process(run)


@shared_task(base=BoundedDeliveries, max_deliveries=3, acks_late=True, reject_on_worker_lost=True)
def poison_bounded(run: str) -> None:
    """The same poison, given up (dead-lettered) after three deliveries."""
    crash_the_process(run)


# Notebook 05c's tasks live in modules of their own; importing them here registers them with
# the worker (Celery's autodiscovery imports each app's `tasks` module only).
from faults import payloads, results  # noqa: E402, F401
