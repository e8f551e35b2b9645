"""Enqueue a task as a row of the caller's transaction; relay pending rows to the broker.

`task.delay_on_commit(...)` sends after COMMIT: if the broker is down at that moment, the data is
committed and the message is lost. Here the message is a row written in the same transaction as
the data, so both are committed or neither; `relay()` sends it right after COMMIT and, if the
broker was down, on a later call (beat runs the `outbox.relay` task, `accounts.tasks.relay_outbox`,
every few seconds for that).
"""

import logging

from celery import current_app
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.models import OutboxMessage

logger = logging.getLogger(__name__)
BATCH = 100  # messages per relay call: a long outage is caught up over a few calls


def enqueue(task, *args, **kwargs) -> OutboxMessage:
    """Inside the transaction that writes the data: add the message as a row of it."""
    message = OutboxMessage.objects.create(task=task.name, args=list(args), kwargs=kwargs)
    transaction.on_commit(lambda: relay(pks=[message.pk]))  # the usual case: sent at once
    return message


def relay(pks: list[int] | None = None, batch: int = BATCH) -> int:
    """Send pending messages (only `pks`, if given) to the broker, oldest first; return how many.

    Stops at the first broker error: the rest wait for the next call. A row is marked sent after
    the broker took it, so a crash in between sends it twice (at least once, never lost): the
    Celery task id is the row's, for a consumer that must act once (an idempotency key, 05b).
    """
    sent = 0
    # Rows locked while they are sent, so two relays never send one row twice (on PostgreSQL;
    # SQLite has no row locks, and its IMMEDIATE transactions run one at a time anyway).
    with transaction.atomic():
        pending = OutboxMessage.objects.select_for_update(skip_locked=True).filter(sent_at=None)
        if pks is not None:
            pending = pending.filter(pk__in=pks)
        for message in pending[:batch]:
            try:
                current_app.send_task(
                    message.task, message.args, message.kwargs, task_id=str(message.task_id), retry=False
                )
            except OperationalError as error:  # broker down: keep this row and the rest for later
                logger.warning("outbox: broker unreachable (%s); messages wait for the next relay", error)
                break
            message.sent_at = timezone.now()
            message.save(update_fields=["sent_at"])
            sent += 1
    return sent
