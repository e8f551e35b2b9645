"""Stages around notebook 05d's faults: the kernel's Celery producer pointed at a throw-away broker.

Nothing here is the lesson: the faults (kill, SIGKILL) and the protections (task options, worker
settings, the outbox) are in the notebook's cells and in the sandbox.
"""

import collections
import contextlib
import json
import logging
from pathlib import Path

from cqlab.lessons import queues


def _forget_pools(app) -> None:
    """Let go of the app's connection and producer pools: the next publish takes those of the
    broker URL in force (kombu keeps one pool per URL, so nothing is closed here)."""
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def publishing_to(app, url: str):
    """Within the block, everything this process publishes through `app` (a view's `.delay()`,
    `send_task`) goes to the broker at `url`; the lab's broker again afterwards.

    Celery reads its broker once and keeps pooled connections: the write URL is switched and the
    pools dropped, on entry and on exit. Workers get their broker from their environment instead.
    """
    saved = app.conf.broker_write_url
    _forget_pools(app)
    app.conf.broker_write_url = url
    try:
        yield
    finally:
        _forget_pools(app)
        app.conf.broker_write_url = saved


@contextlib.contextmanager
def logs_silenced():
    """No log records within the block: a view's 500 and the outbox's warning are shown by the
    cell as answers and counts; their log lines would add a traceback with this machine's paths."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def welcomes(mailbox: Path) -> collections.Counter:
    """How many messages the sandbox's file-based email backend has written to each address."""
    return collections.Counter(message["To"] for message in queues.mailbox_messages(mailbox))


def welcomed(mailbox: Path) -> set[str]:
    """Every address the sandbox's file-based email backend has written a message to."""
    return set(welcomes(mailbox))


def queued_task_ids(client, queue: str = "celery") -> list[str]:
    """The Celery task id of every message waiting in `queue` on a Redis broker (a JSON list)."""
    return [json.loads(raw)["headers"]["id"] for raw in client.lrange(queue, 0, -1)]
