"""Two ways to enqueue work about a row created in a transaction: the classic race, and its fix."""

import time

from celery import uuid
from celery.result import AsyncResult
from django.contrib.auth.models import User
from django.db import transaction

from demos.tasks import welcome_user


def signup_racy(email: str, rest_of_request_seconds: float = 0.5) -> AsyncResult:
    """Sends the task inside the transaction: the worker may look for the user before COMMIT."""
    with transaction.atomic():
        user = User.objects.create_user(username=email, email=email)
        result = welcome_user.delay(user.pk)
        time.sleep(rest_of_request_seconds)  # the rest of the request, still uncommitted
    return result


def signup_on_commit(email: str, rest_of_request_seconds: float = 0.5) -> AsyncResult:
    """Sends the task only once the row is committed (what `delay_on_commit` does)."""
    task_id = uuid()  # delay_on_commit returns None; a known id lets us follow the task
    with transaction.atomic():
        user = User.objects.create_user(username=email, email=email)
        welcome_user.apply_async_on_commit((user.pk,), task_id=task_id)
        time.sleep(rest_of_request_seconds)
    return AsyncResult(task_id)
