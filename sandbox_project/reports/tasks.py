from celery import shared_task

from reports.daily import build_daily_report


@shared_task
def daily_task():
    """The source's daily task; builds today's report once, however often it runs."""
    report, created = build_daily_report()
    print("Задача выполнена!")  # the source's line: "Task done!"
    return {"date": report.date.isoformat(), "created": created}
