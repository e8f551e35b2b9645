"""Tasks the fault notebook (05) uses: each records its runs in a ledger.

The ledger is one Redis hash in the namespace's own database (REDIS_CACHE_URL), never on the
broker under test: when a scenario kills the broker, the record of what ran survives it.
Field `"<run>:<event>"` counts how often `event` happened for the scenario run `run`, so
"nothing lost, nothing doubled" is a number:

    started   the task body began          effect    the side effect happened (e.g. a charge)
    finished  the task body returned       cleanup   code after a soft time limit ran
"""

import os
import time

import redis
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

LEDGER_KEY = "faults:ledger"
GUARD_PREFIX = "faults:done:"  # idempotency keys: one per side effect that must happen once
GUARD_TTL = 3600


def ledger() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_CACHE_URL, socket_connect_timeout=2, socket_timeout=5)


def note(run: str, event: str) -> int:
    return ledger().hincrby(LEDGER_KEY, f"{run}:{event}", 1)


def counts(run: str) -> dict[str, int]:
    """Every event of `run` with how often it happened, e.g. {"started": 2, "effect": 1}."""
    prefix = f"{run}:"
    return {
        field.decode()[len(prefix) :]: int(value)
        for field, value in ledger().hgetall(LEDGER_KEY).items()
        if field.decode().startswith(prefix)
    }


def first_time(idempotency_key: str) -> bool:
    """True for the first caller with this key, False for every later one (SET NX)."""
    return bool(ledger().set(GUARD_PREFIX + idempotency_key, 1, nx=True, ex=GUARD_TTL))


def _charge(run: str, seconds: float, guarded: bool) -> str:
    """The side effect first (say, charging a card), then slow work during which we may die."""
    ledger().set(f"faults:pid:{run}", os.getpid(), ex=GUARD_TTL)
    note(run, "started")
    if not guarded or first_time(run):
        note(run, "effect")
    time.sleep(seconds)
    note(run, "finished")
    return run


@shared_task
def record(run: str, guarded: bool = False) -> int:
    """The smallest ledgered task: counts a run, and an effect unless a guard says it happened."""
    note(run, "started")
    if not guarded or first_time(run):
        note(run, "effect")
    return note(run, "finished")


@shared_task
def charge(run: str, seconds: float, guarded: bool = False) -> str:
    """Default acknowledgement: the message is acked when the worker takes it."""
    return _charge(run, seconds, guarded)


@shared_task(acks_late=True)
def charge_acks_late(run: str, seconds: float, guarded: bool = False) -> str:
    """Acked only after the body returns; a lost worker child still counts as a failure."""
    return _charge(run, seconds, guarded)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def charge_requeued_on_loss(run: str, seconds: float, guarded: bool = False) -> str:
    """Acked late, and put back on the queue when the child running it dies."""
    return _charge(run, seconds, guarded)


@shared_task(soft_time_limit=0.5, time_limit=3)
def with_cleanup(run: str, seconds: float) -> str:
    """Too slow for its soft limit: catches SoftTimeLimitExceeded and cleans up in time."""
    note(run, "started")
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
    ledger().set(f"faults:pid:{run}", os.getpid(), ex=GUARD_TTL)
    note(run, "started")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except SoftTimeLimitExceeded:
            note(run, "soft limit ignored")
    note(run, "finished")
    return "finished"
