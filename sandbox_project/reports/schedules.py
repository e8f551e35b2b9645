"""When a beat schedule fires: the questions beat asks a `crontab`, answered for any "now".

Beat asks each entry `is_due(last_run_at)` and sleeps `remaining_estimate(last_run_at)`; both
read the clock through the schedule's `nowfun` and read the crontab's fields in the Celery app's
time zone (the `CELERY_TIMEZONE` setting). Giving them a fixed clock shows a week of runs at once.
"""

import copy
import datetime as dt

from celery import Celery
from celery.schedules import crontab

UTC = dt.timezone.utc

# The source's entry beside the classic mistake: a field left out of a crontab means "every".
MIDNIGHT_AND_THE_MISTAKE = {
    "daily-task": {"task": "reports.tasks.daily_task", "schedule": crontab(minute=0, hour=0)},
    "hour-zero-only": {"task": "reports.tasks.daily_task", "schedule": crontab(hour=0)},
}


def crontab_in(zone: str, now: dt.datetime | None = None, **fields) -> crontab:
    """`crontab(**fields)` as a project with `CELERY_TIMEZONE = zone` reads it; clock fixed at `now`."""
    app = Celery(f"clock-in-{zone}", set_as_current=False, fixups=[])  # no Django: arithmetic only
    app.conf.timezone = zone
    return crontab(**fields, app=app, nowfun=(lambda: now) if now else None)


def next_runs(schedule: crontab, now: dt.datetime, count: int) -> list[dt.datetime]:
    """The next `count` times `schedule` fires after `now`, in UTC, as beat computes them."""
    at_now = copy.copy(schedule)
    at_now.nowfun = lambda: now  # whatever clock `schedule` came with, ask it at `now`
    runs, last_run = [], now
    for _ in range(count):
        # remaining_estimate(last run) is how long beat would sleep; add it in UTC, never in
        # local wall time (a day with a clock change is 23 or 25 hours long).
        last_run = now.astimezone(UTC) + at_now.remaining_estimate(last_run)
        runs.append(last_run)
    return runs
