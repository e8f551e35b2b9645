"""Notebook 05c's fire-and-forget task: nobody reads its result, so it never stores one.

`ignore_result=True` keeps the result backend out of the task's path on both sides: `.delay()`
does not subscribe to a result, and the worker does not write one. A result backend that is
down then cannot block the caller or lose the task.
"""

from celery import shared_task

from faults.tasks import charge_card


@shared_task(ignore_result=True)
def record_fire_and_forget(run: str) -> str:
    """`faults.tasks.record` without a result: the ledger is the only evidence it ran."""
    return charge_card(run, 0, guarded=False)
