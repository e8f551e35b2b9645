"""A bound on redeliveries: a message that kills its worker every time is given up after N tries.

With `acks_late=True` and `reject_on_worker_lost=True`, a task whose pool child dies goes back on
the queue, to be run again. A *poison message* (input that crashes the process every time: a
segfault in a C extension, memory the OOM killer will not grant) then loops forever. RabbitMQ's
quorum queues count deliveries themselves (`x-delivery-limit`); a Redis broker does not, so the
task counts its own deliveries, per task id, in the cache's Redis, and parks the message on a
dead-letter queue that no worker consumes once the count passes its limit: a person looks at it,
fixes the cause and sends it again.
"""

from celery import Task
from celery.exceptions import Reject
from django.core.cache import caches

DEAD_LETTER_QUEUE = "dead-letter"
DELIVERIES_TTL = 24 * 3600  # a counter outlives any redelivery loop, then goes away by itself


def deliveries_key(task_id: str) -> str:
    return f"deliveries:{task_id}"


def count_delivery(task_id: str) -> int:
    """This delivery's number (1 for the first), counted atomically across workers."""
    cache = caches["redis"]
    cache.add(deliveries_key(task_id), 0, DELIVERIES_TTL)  # the first delivery creates the counter
    return cache.incr(deliveries_key(task_id))  # Redis INCR: two workers never get the same number


class BoundedDeliveries(Task):
    """Base class of a task whose body runs at most `max_deliveries` times per message."""

    max_deliveries = 3

    def __call__(self, *args, **kwargs):
        task_id = self.request.id  # None when the task is called as a plain function
        if task_id and count_delivery(task_id) > self.max_deliveries:
            self.apply_async(args, kwargs, task_id=task_id, queue=DEAD_LETTER_QUEUE)
            # Acknowledged and dropped from its queue: the copy on the dead-letter queue is kept.
            raise Reject(f"poison message: delivered more than {self.max_deliveries} times", requeue=False)
        return super().__call__(*args, **kwargs)
