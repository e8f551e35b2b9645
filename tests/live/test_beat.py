"""Notebook 04's schedule: next-run arithmetic, the idempotent daily job, beat under a moved clock."""

import datetime as dt
import subprocess
import sys
import time
from itertools import pairwise

import pytest

from cqlab.lessons import beat

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 29, 15, 0, tzinfo=UTC)


# --- Next runs, computed (no services needed) ------------------------------------------------


def test_daily_crontab_fires_at_each_utc_midnight():
    daily = beat.crontab_in("UTC", NOW, minute=0, hour=0)
    assert daily.remaining_estimate(NOW) == dt.timedelta(hours=9)
    assert beat.next_runs(daily, NOW, 3) == [
        dt.datetime(2026, 11, 30, tzinfo=UTC),
        dt.datetime(2026, 12, 1, tzinfo=UTC),
        dt.datetime(2026, 12, 2, tzinfo=UTC),
    ]


def test_midnight_is_read_in_the_celery_timezone():
    moscow = beat.crontab_in("Europe/Moscow", NOW, minute=0, hour=0)
    assert beat.next_runs(moscow, NOW, 1) == [dt.datetime(2026, 11, 29, 21, 0, tzinfo=UTC)]


def test_a_daylight_saving_day_between_two_midnights_is_23_hours():
    before = dt.datetime(2027, 3, 26, 12, tzinfo=UTC)
    runs = beat.next_runs(beat.crontab_in("Europe/Berlin", before, minute=0, hour=0), before, 3)
    assert [later - earlier for earlier, later in pairwise(runs)] == [
        dt.timedelta(hours=24),
        dt.timedelta(hours=23),
    ]


def test_next_runs_ignores_the_clock_the_schedule_came_with():
    # The settings' crontab reads the real clock; next_runs must still answer "as of NOW".
    from celery.schedules import crontab

    assert beat.next_runs(crontab(minute=0, hour=0), NOW, 1) == [dt.datetime(2026, 11, 30, tzinfo=UTC)]


def test_hour_without_minute_fires_every_minute_of_that_hour():
    eve = dt.datetime(2026, 12, 31, 23, 58, tzinfo=UTC)
    runs = beat.next_runs(beat.crontab_in("UTC", eve, hour=0), eve, 61)
    assert runs[:2] == [dt.datetime(2027, 1, 1, 0, 0, tzinfo=UTC), dt.datetime(2027, 1, 1, 0, 1, tzinfo=UTC)]
    assert sum(run.date() == dt.date(2027, 1, 1) for run in runs) == 60


def test_missed_midnights_make_one_run_due_now():
    daily = beat.crontab_in("UTC", NOW, minute=0, hour=0)
    assert daily.is_due(NOW - dt.timedelta(days=3)).is_due
    assert not daily.is_due(dt.datetime(2026, 11, 29, tzinfo=UTC)).is_due


def test_clock_wrapper_rejects_a_time_without_offset():
    completed = subprocess.run(
        [sys.executable, "-m", "cqlab.lessons.beat", "--at", "2026-12-31T23:59:56", "--", "beat"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert completed.returncode == 2
    assert "needs a UTC offset" in completed.stderr


# --- The daily job, against Redis, SQLite and a real worker --------------------------------


@pytest.fixture
def fresh_day(lab):
    from django.utils import timezone

    today = timezone.localdate()
    beat.forget_day(today)
    yield today
    beat.forget_day(today)


def test_guard_key_lets_one_run_per_day_through(fresh_day):
    from reports.daily import claim_daily_run, release_daily_run

    assert claim_daily_run(fresh_day)
    assert not claim_daily_run(fresh_day)
    release_daily_run(fresh_day)
    assert claim_daily_run(fresh_day)


def test_daily_task_twice_builds_one_report(fresh_day, worker):
    from reports.models import DailyReport
    from reports.tasks import daily_task

    results = [daily_task.delay().get(timeout=15) for _ in range(2)]
    assert [(result["created"], result["duplicate"]) for result in results] == [(True, False), (False, True)]
    assert DailyReport.objects.filter(date=fresh_day).count() == 1


# --- Beat processes under a moved clock ------------------------------------------------------


@pytest.fixture
def no_schedule_files(lab):
    beat.remove_schedule_files()
    yield
    beat.remove_schedule_files()


def test_beat_sends_the_daily_task_at_midnight_and_a_worker_runs_it(fresh_day, worker, no_schedule_files):
    with beat.start_beat_at("t-midnight", "2026-12-31T23:59:58+00:00") as midnight:
        ((sent_at, entry),) = beat.wait_for_sends(midnight, 1, timeout=10)
    assert entry == "daily-task"
    assert dt.datetime(2027, 1, 1, tzinfo=UTC) <= sent_at < dt.datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)
    (result,) = beat.wait_for_results(worker, 1, timeout=10)
    assert result == {"date": fresh_day.isoformat(), "created": True, "duplicate": False}


def test_restart_after_missed_midnights_sends_one_catch_up_run(no_schedule_files):
    with beat.start_beat_at("t-missed", "2026-12-31T23:59:59+00:00") as first:
        assert beat.wait_for_sends(first, 1, timeout=10)
    with beat.start_beat_at("t-missed", "2027-01-03T09:00:00+00:00") as restarted:
        beat.wait_for_sends(restarted, 1, timeout=5)
        time.sleep(1)  # room for a second (wrong) catch-up run
        sends = beat.sent(restarted)
    assert [(at.replace(microsecond=0), entry) for at, entry in sends] == [
        (dt.datetime(2027, 1, 3, 9, 0, tzinfo=UTC), "daily-task")
    ]


def test_fast_clock_shows_hour_zero_firing_every_minute(no_schedule_files):
    with beat.start_beat_at(
        "t-mistake", "2026-12-31T23:59:58+00:00", speed=60, schedule="midnight-mistake"
    ) as fast:
        sends = beat.wait_for_sends(fast, 3, timeout=10)
    assert sorted((at.strftime("%H:%M"), entry) for at, entry in sends[:3]) == [
        ("00:00", "daily-task"),
        ("00:00", "hour-zero-only"),
        ("00:01", "hour-zero-only"),
    ]


def test_database_scheduler_reads_settings_and_picks_up_a_new_task(lab, no_schedule_files):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    with lab.start_beat("t-db-beat", scheduler=beat.SCHEDULER_DB, extra_args=("--max-interval", "1")) as db:
        assert db.log_lines(r"scheduler -> django_celery_beat\.schedulers\.DatabaseScheduler")
        # Let beat finish copying the settings in first: two SQLite writers at once can fail.
        assert beat.wait_for_reload(db, 0)
        every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.create(
            name="t-added", task="demos.tasks.add", args="[1, 2]", interval=every_second
        )
        try:
            db.wait_for_log(r"Sending due task t-added", timeout=10)
            assert PeriodicTask.objects.filter(
                name="daily-task", crontab__hour="0", crontab__minute="0"
            ).exists()
        finally:
            PeriodicTask.objects.filter(name="t-added").delete()
