"""Small tasks the queue notebooks (03a, 03b) use to show Celery's behaviour.

Each task's options sit in its decorator, where a reader looks for them.
"""

import os
import time

import redis
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User


def ledger() -> redis.Redis:
    """Redis client on the namespace's broker database: where tasks leave evidence of their runs."""
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=5)


@shared_task
def add(x, y):
    return x + y


@shared_task
def mul(x, y):
    return x * y


@shared_task
def tsum(numbers):
    """Sum of a list: the callback of a chord receives the results of its group."""
    return sum(numbers)


@shared_task
def describe(value):
    """How an argument arrived in the worker, after its trip through the JSON serializer."""
    return {"type": type(value).__name__, "repr": repr(value)}


@shared_task(bind=True)
def io_job(self, seconds):
    """An I/O-bound job (the sleep stands for a network call); says who ran it and when."""
    started = time.time()
    time.sleep(seconds)
    return {"worker": self.request.hostname, "pid": os.getpid(), "started": started, "finished": time.time()}


@shared_task
def nap(seconds):
    time.sleep(seconds)
    return seconds


@shared_task(track_started=True)
def tracked_nap(seconds):
    """Like nap, but the worker reports STARTED when it begins (off by default)."""
    time.sleep(seconds)
    return seconds


@shared_task(
    bind=True,
    autoretry_for=(ConnectionError,),  # these exceptions mean "try again later"
    retry_backoff=1,  # wait 1 s, 2 s, 4 s, ... between attempts
    retry_jitter=False,  # production: keep the default True, so clients do not retry in lockstep
    max_retries=5,
)
def flaky_call(self, key, failures):
    """Calls a remote service that is down for the first `failures` attempts."""
    ledger().rpush(f"attempts:{key}", time.time())  # evidence: when each attempt ran
    if self.request.retries < failures:
        raise ConnectionError("remote service unavailable")
    return f"succeeded on attempt {self.request.retries + 1}"


@shared_task(soft_time_limit=0.5, time_limit=1.5)
def limited_job(work_seconds, cleanup_seconds=0):
    """Works `work_seconds`; interrupted by the soft limit, it cleans up for `cleanup_seconds`.

    On the prefork pool the soft limit raises SoftTimeLimitExceeded in the task at 0.5 s,
    and the hard limit kills the process at 1.5 s if the clean-up is still running.
    """
    started = time.monotonic()
    try:
        time.sleep(work_seconds)
        outcome = "finished"
    except SoftTimeLimitExceeded:
        time.sleep(cleanup_seconds)  # closing files, saving partial work, ...
        outcome = "interrupted by the soft limit, cleaned up"
    return {"outcome": outcome, "seconds": time.monotonic() - started}


@shared_task(bind=True)
def progress_job(self, steps, step_seconds):
    """A long job reporting how far it got through a custom PROGRESS state."""
    for done in range(steps):
        self.update_state(state="PROGRESS", meta={"done": done, "total": steps})
        time.sleep(step_seconds)
    return {"done": steps, "total": steps}


@shared_task
def welcome_user(user_id):
    """Looks the user up by id: fails if the row is not committed yet when the task runs."""
    return User.objects.get(pk=user_id).email


@shared_task
def credit_once(payment_id, amount):
    """Idempotent: a second delivery of the same payment changes nothing."""
    store = ledger()
    if not store.set(f"credited:{payment_id}", amount, nx=True, ex=3600):
        return "already credited"
    store.incrby("balance", amount)
    return "credited"
