import uuid

from django.db import models


class OutboxMessage(models.Model):
    """A task message waiting for the broker, committed (or rolled back) with the data it is about."""

    task_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # the Celery task id
    task = models.CharField(max_length=200)  # the task's registered name
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)  # NULL: not relayed yet

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.task}{tuple(self.args)} ({'sent' if self.sent_at else 'pending'})"
