"""Notebook 04's schedule arithmetic, with no server: next runs, time zones, daylight saving."""

import datetime as dt
import os
import subprocess
import sys
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import crontab

from reports.schedules import MIDNIGHT_AND_THE_MISTAKE, crontab_in, next_runs
from sandbox.env import REPO_ROOT

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # a Sunday


def test_daily_crontab_fires_at_each_utc_midnight():
    daily = crontab_in("UTC", NOW, minute=0, hour=0)
    assert daily.remaining_estimate(NOW) == dt.timedelta(hours=9)
    assert next_runs(daily, NOW, 3) == [
        dt.datetime(2026, 11, 30, tzinfo=UTC),
        dt.datetime(2026, 12, 1, tzinfo=UTC),
        dt.datetime(2026, 12, 2, tzinfo=UTC),
    ]


def test_midnight_is_read_in_the_celery_timezone():
    moscow = crontab_in("Europe/Moscow", NOW, minute=0, hour=0)
    assert next_runs(moscow, NOW, 2) == [
        dt.datetime(2026, 11, 29, 21, 0, tzinfo=UTC),
        dt.datetime(2026, 11, 30, 21, 0, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("before", "hours"),
    [
        (dt.datetime(2027, 3, 26, 12, tzinfo=UTC), [24, 23, 24]),  # spring forward: 02:00 → 03:00
        (dt.datetime(2027, 10, 29, 12, tzinfo=UTC), [24, 25, 24]),  # fall back: 03:00 → 02:00
    ],
)
def test_a_daylight_saving_day_between_two_midnights(before, hours):
    runs = next_runs(crontab_in("Europe/Berlin", before, minute=0, hour=0), before, 4)
    assert [(later - earlier) / dt.timedelta(hours=1) for earlier, later in pairwise(runs)] == hours
    assert all(run.astimezone(ZoneInfo("Europe/Berlin")).time() == dt.time(0, 0) for run in runs)


def test_a_run_inside_the_skipped_hour_moves_to_after_the_jump():
    # 02:30 does not exist in Berlin on 2027-03-28; the run that day must still happen once.
    before = dt.datetime(2027, 3, 27, 12, tzinfo=UTC)
    runs = next_runs(crontab_in("Europe/Berlin", before, minute=30, hour=2), before, 3)
    assert [run.date() for run in runs] == [dt.date(2027, 3, 28), dt.date(2027, 3, 29), dt.date(2027, 3, 30)]


def test_next_runs_ignores_the_clock_the_schedule_came_with():
    # The settings' crontab reads the real clock; next_runs must still answer "as of NOW".
    assert next_runs(crontab(minute=0, hour=0), NOW, 1) == [dt.datetime(2026, 11, 30, tzinfo=UTC)]


def test_hour_without_minute_fires_every_minute_of_that_hour():
    schedule = MIDNIGHT_AND_THE_MISTAKE["hour-zero-only"]["schedule"]
    eve = dt.datetime(2026, 12, 31, 23, 58, tzinfo=UTC)
    runs = next_runs(schedule, eve, 61)
    assert runs[:2] == [dt.datetime(2027, 1, 1, 0, 0, tzinfo=UTC), dt.datetime(2027, 1, 1, 0, 1, tzinfo=UTC)]
    assert sum(run.date() == dt.date(2027, 1, 1) for run in runs) == 60


def test_weekdays_skip_the_weekend():
    friday_noon = dt.datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    runs = next_runs(crontab_in("Europe/Moscow", minute=30, hour=9, day_of_week="mon-fri"), friday_noon, 6)
    assert [run.strftime("%a") for run in runs] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]


def test_missed_midnights_make_one_run_due_now():
    daily = crontab_in("UTC", NOW, minute=0, hour=0)
    assert daily.is_due(NOW - dt.timedelta(days=3)).is_due
    assert not daily.is_due(dt.datetime(2026, 11, 29, tzinfo=UTC)).is_due


@pytest.mark.parametrize(
    ("environment", "zone"),
    [
        ({}, "UTC"),
        ({"SANDBOX_TIME_ZONE": "Europe/Moscow"}, "Europe/Moscow"),
        # Without CELERY_TIMEZONE, Celery reads Django's TIME_ZONE (Settings.timezone), not UTC.
        ({"SANDBOX_TIME_ZONE": "Europe/Moscow", "SANDBOX_NO_CELERY_TIMEZONE": "1"}, "Europe/Moscow"),
    ],
)
def test_the_sandbox_app_reads_crontabs_in(environment, zone):
    probe = (
        "import django; django.setup(); from sandbox.celery import app; "
        "print(app.conf.beat_schedule['daily-task']['schedule'].tz)"
    )
    overrides = {"SANDBOX_TIME_ZONE", "SANDBOX_NO_CELERY_TIMEZONE", "SANDBOX_BEAT_SCHEDULER"}
    env = {key: value for key, value in os.environ.items() if key not in overrides}
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT / "sandbox_project",
        env={**env, "DJANGO_SETTINGS_MODULE": "sandbox.settings", **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert completed.stdout.strip() == zone


def test_a_django_app_never_falls_back_to_utc():
    # TIME_ZONE always has a value under Django (its default is America/Chicago), and Celery reads it;
    # only an app that reads no Django settings uses UTC.
    probe = (
        "from django.conf import settings; settings.configure(); "
        "from celery import Celery; "
        "django_app = Celery('django', set_as_current=False); "
        "django_app.config_from_object('django.conf:settings', namespace='CELERY'); "
        "print(django_app.timezone, Celery('plain', set_as_current=False).timezone)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert completed.stdout.split() == ["America/Chicago", "UTC"]


def test_clock_wrapper_rejects_a_time_without_offset():
    completed = subprocess.run(
        [sys.executable, "-m", "cqlab.lessons.beat", "--at", "2026-12-31T23:59:56", "--", "beat"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "needs a UTC offset" in completed.stderr
