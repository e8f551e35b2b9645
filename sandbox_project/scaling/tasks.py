"""Work of different shapes, to spread over several workers and queues.

Each task reports where and when it ran (worker name, process, start and end times), so the
notebook can see which worker took it, and how many ran side by side.
"""

import os
import time

from celery import shared_task


def _ran(task, started: float, started_cpu: float) -> dict:
    return {
        "worker": task.request.hostname,
        "pid": os.getpid(),
        "started": started,
        "finished": time.time(),
        "cpu_seconds": time.process_time() - started_cpu,
    }


@shared_task(bind=True)
def send_digest_email(self, user_id: int) -> dict:
    """Short and frequent: a message handed to an SMTP server (simulated by a short wait)."""
    started, started_cpu = time.time(), time.process_time()
    time.sleep(0.05)
    return _ran(self, started, started_cpu)


@shared_task(bind=True)
def build_report(self, report_id: int, seconds: float = 1.0) -> dict:
    """Long and rare: a report that keeps a process busy (minutes in production, seconds here)."""
    started, started_cpu = time.time(), time.process_time()
    time.sleep(seconds)
    return _ran(self, started, started_cpu)


@shared_task(bind=True)
def wait_on_network(self, seconds: float) -> dict:
    """I/O-bound: the process waits (an HTTP call, a slow database) and uses no CPU meanwhile."""
    started, started_cpu = time.time(), time.process_time()
    time.sleep(seconds)
    return _ran(self, started, started_cpu)


@shared_task(bind=True)
def crunch_numbers(self, rounds: int) -> dict:
    """CPU-bound: pure Python arithmetic, one core busy for the whole task."""
    started, started_cpu = time.time(), time.process_time()
    total = 0
    for number in range(rounds):
        total += number * number % 7
    return _ran(self, started, started_cpu)


# A partner API allows 10 calls a second. The limit holds per worker (its main process hands the
# tasks out), not across workers: two workers may together start 20 a second.
@shared_task(bind=True, rate_limit="10/s")
def call_partner_api(self, request_id: int) -> dict:
    started, started_cpu = time.time(), time.process_time()
    return _ran(self, started, started_cpu)


@shared_task(bind=True, acks_late=True)
def rebuild_search_index(self, index_id: int, seconds: float = 1.0) -> dict:
    """Long like build_report, but its message is acknowledged only once it has finished: while
    it runs, it still counts against the worker's prefetch limit, so the worker reserves no
    message it could not start at once. (Safe to run twice, as acks_late requires: notebook 05b.)"""
    started, started_cpu = time.time(), time.process_time()
    time.sleep(seconds)
    return _ran(self, started, started_cpu)
