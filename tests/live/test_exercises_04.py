"""Notebooks 04a/04b's self-checks fail wrong answers and pass other correct ones (one run per part)."""

import pytest

from cqlab.notebook.exercises import STUB, try_answers
from cqlab.paths import NOTEBOOKS_DIR

PART_A = NOTEBOOKS_DIR / "04a-beat-schedule-and-midnight-proved.ipynb"
PART_B = NOTEBOOKS_DIR / "04b-beat-in-production-guard-key-missed-runs-database.ipynb"

ANSWERS_04A = {
    "04-ex1": [
        STUB,
        # Monday to Thursday only: a week of runs must include the Friday.
        'weekday_morning = schedules.crontab_in("Europe/Moscow", minute=30, hour=9, day_of_week="mon-thu")',
        'weekday_morning = schedules.crontab_in("Europe/Moscow", minute="30", hour="9", day_of_week="1-5")',
    ],
    "04-ex2": [
        STUB,
        # `minute` left out: every minute of the first day's midnight hour.
        'first_of_month = schedules.crontab_in("UTC", hour=0, day_of_month=1)',
        'first_of_month = schedules.crontab_in("UTC", minute="0", hour="0", day_of_month="1")',
    ],
}
ANSWERS_04B = {
    "04-ex3": [
        STUB,
        # A one-off task runs once, then beat disables it.
        "ten, _ = IntervalSchedule.objects.get_or_create(every=10, period=IntervalSchedule.MINUTES)\n"
        'PeriodicTask.objects.create(name="report-every-10-minutes", task="reports.tasks.daily_task",\n'
        "                            interval=ten, one_off=True)",
        "secs, _ = IntervalSchedule.objects.get_or_create(every=600, period=IntervalSchedule.SECONDS)\n"
        'PeriodicTask.objects.update_or_create(name="report-every-10-minutes",\n'
        '    defaults={"task": "reports.tasks.daily_task", "interval": secs})',
    ],
}


@pytest.mark.notebook(PART_A)
def test_self_checks_of_notebook_04a_tell_right_from_wrong():
    results = try_answers(PART_A, ANSWERS_04A)
    assert results == {exercise: [False, False, True] for exercise in ANSWERS_04A}


@pytest.mark.notebook(PART_B)
def test_self_checks_of_notebook_04b_tell_right_from_wrong():
    results = try_answers(PART_B, ANSWERS_04B)
    assert results == {exercise: [False, False, True] for exercise in ANSWERS_04B}
