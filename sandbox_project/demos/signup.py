"""Two ways to enqueue work about a row created in a transaction: the classic race, and its fix."""

from celery import uuid
from celery.result import AsyncResult
from django.contrib.auth.models import User
from django.db import transaction

from demos.tasks import welcome_user


def signup_racy(email: str) -> AsyncResult:
    """BUG: sends the task inside the transaction; the worker may look for the user before COMMIT."""
    with transaction.atomic():
        user = User.objects.create_user(username=email, email=email)
        return welcome_user.delay(user.pk)


def signup_on_commit(email: str) -> AsyncResult:
    """Sends the task only once the row is committed (`apply_async_on_commit`)."""
    task_id = uuid()  # the *_on_commit calls return None: a known id lets the caller follow the task
    with transaction.atomic():
        user = User.objects.create_user(username=email, email=email)
        welcome_user.apply_async_on_commit((user.pk,), task_id=task_id)
    return AsyncResult(task_id)
