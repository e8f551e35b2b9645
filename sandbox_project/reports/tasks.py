from celery import shared_task
from django.utils import timezone

from reports.daily import build_daily_report, claim_daily_run, release_daily_run


@shared_task
def daily_task():
    """The source's daily task; builds today's report once, however often it runs."""
    today = timezone.localdate()  # the worker's date: the report is for the day it runs on
    if not claim_daily_run(today):  # a second beat or a duplicate message: the day is taken
        return {"date": today.isoformat(), "created": False, "duplicate": True}
    try:
        report, created = build_daily_report(today)
    except Exception:
        release_daily_run(today)
        raise
    print("Задача выполнена!")  # the source's line: "Task done!"
    return {"date": report.date.isoformat(), "created": created, "duplicate": False}
