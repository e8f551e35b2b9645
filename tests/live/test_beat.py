"""Notebook 04 live: the idempotent daily job, and beat processes under a moved clock.

The schedule arithmetic (no server) is in tests/unit/test_crontab.py.
"""

import datetime as dt

import pytest

from cqlab.lessons import beat

UTC = dt.timezone.utc
DATABASE_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"


def forget(day: dt.date) -> None:
    """Delete `day`'s report and guard key, so the day can be built again."""
    from reports.daily import release_daily_run
    from reports.models import DailyReport

    DailyReport.objects.filter(date=day).delete()
    release_daily_run(day)


@pytest.fixture
def fresh_day(lab):
    from django.utils import timezone

    today = timezone.localdate()
    forget(today)
    yield today
    forget(today)


@pytest.fixture
def no_schedule_files(lab):
    beat.remove_schedule_files()
    yield
    beat.remove_schedule_files()
    lab.redis().delete("celery")  # messages no worker took


# --- The daily job, against Redis, SQLite and a real worker --------------------------------


def test_guard_key_lets_one_run_per_day_through(fresh_day):
    from reports.daily import claim_daily_run, release_daily_run

    assert claim_daily_run(fresh_day)
    assert not claim_daily_run(fresh_day)
    release_daily_run(fresh_day)
    assert claim_daily_run(fresh_day)


def test_daily_task_twice_builds_one_report(fresh_day, worker):
    from reports.models import DailyReport
    from reports.tasks import daily_task

    results = [daily_task.delay().get(timeout=30) for _ in range(2)]
    assert [(result["created"], result["duplicate"]) for result in results] == [(True, False), (False, True)]
    assert DailyReport.objects.filter(date=fresh_day).count() == 1


# --- Beat processes under a moved clock ------------------------------------------------------


def test_beat_sends_the_daily_task_at_midnight_and_a_worker_runs_it(fresh_day, worker, no_schedule_files):
    with beat.start_beat_at("t-midnight", "2026-12-31T23:59:58+00:00", loglevel="debug") as midnight:
        ((sent_at, entry),) = beat.wait_for_sends(midnight, 1)
        # The worker is shared by this module's tests, and its log may not show the last test's runs
        # yet (a success is logged after the result that `.get()` read): wait for this message's run.
        # Beat logs the send before it publishes: stop it only once the worker has run the message.
        (result,) = beat.wait_for_results(worker, 1, task_id=beat.sent_task_id(midnight))
    assert entry == "daily-task"
    assert dt.datetime(2027, 1, 1, tzinfo=UTC) <= sent_at < dt.datetime(2027, 1, 1, 0, 1, tzinfo=UTC)
    assert result == {"date": fresh_day.isoformat(), "created": True, "duplicate": False}


def test_restart_after_missed_midnights_sends_one_catch_up_run(no_schedule_files):
    with beat.start_beat_at("t-missed", "2026-12-31T23:59:59+00:00", loglevel="debug") as first:
        beat.wait_for_sends(first, 1)
        beat.wait_until_asleep(first)
    with beat.start_beat_at("t-missed", "2027-01-03T09:00:00+00:00", loglevel="debug") as restarted:
        beat.wait_until_asleep(restarted)  # every send due now is in the log
        sends = beat.sent(restarted)
    assert [(at.replace(second=0, microsecond=0), entry) for at, entry in sends] == [
        (dt.datetime(2027, 1, 3, 9, 0, tzinfo=UTC), "daily-task")
    ]


def test_a_fresh_schedule_file_sends_nothing_before_the_next_midnight(no_schedule_files):
    with beat.start_beat_at("t-fresh", "2027-01-03T09:00:00+00:00", loglevel="debug") as fresh:
        beat.wait_until_asleep(fresh)
        assert beat.sent(fresh) == []


def test_fast_clock_shows_hour_zero_firing_every_minute(no_schedule_files):
    with beat.start_beat_at(
        "t-mistake",
        "2026-12-31T23:59:58+00:00",
        speed=60,
        schedule="reports.schedules:MIDNIGHT_AND_THE_MISTAKE",
    ) as fast:
        beat.wait_for_sends(fast, 4)
    sends = beat.sent(fast)
    assert sorted((at.strftime("%H:%M"), entry) for at, entry in sends)[:4] == [
        ("00:00", "daily-task"),
        ("00:00", "hour-zero-only"),
        ("00:01", "hour-zero-only"),
        ("00:02", "hour-zero-only"),
    ]
    assert [entry for _, entry in sends].count("daily-task") == 1


def test_without_celery_timezone_midnight_is_django_time_zone(no_schedule_files):
    moscow = {"SANDBOX_TIME_ZONE": "Europe/Moscow", "SANDBOX_NO_CELERY_TIMEZONE": "1"}
    with beat.start_beat_at(
        "t-moscow", "2026-12-31T20:59:58+00:00", loglevel="debug", env=moscow
    ) as moscow_beat:
        beat.wait_for_sends(moscow_beat, 1)
        beat.wait_until_asleep(moscow_beat)
    ran_at = beat.last_runs("t-moscow")["daily-task"]
    assert (
        dt.datetime(2026, 12, 31, 21, 0, tzinfo=UTC) <= ran_at < dt.datetime(2026, 12, 31, 21, 1, tzinfo=UTC)
    )


def test_database_scheduler_reads_settings_and_picks_up_a_new_task(lab, no_schedule_files):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    with lab.start_beat("t-db-beat", scheduler=DATABASE_SCHEDULER, extra_args=("--max-interval", "1")) as db:
        db.wait_for_log(r"scheduler -> django_celery_beat\.schedulers\.DatabaseScheduler")
        # Let beat finish copying the settings in first: two SQLite writers at once can fail.
        beat.wait_for_reload(db, 0)
        every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.create(
            name="t-added", task="demos.tasks.add", args="[1, 2]", interval=every_second
        )
        try:
            beat.wait_for_sends(db, 1, entry="t-added")
            assert PeriodicTask.objects.filter(
                name="daily-task", crontab__hour="0", crontab__minute="0"
            ).exists()
        finally:
            PeriodicTask.objects.filter(name="t-added").delete()


def test_celery_beat_scheduler_setting_makes_plain_beat_use_the_database(lab, no_schedule_files):
    plain = lab.start_beat("t-settings-beat", env={"SANDBOX_BEAT_SCHEDULER": DATABASE_SCHEDULER})
    with plain:
        assert "--scheduler" not in plain.command
        plain.wait_for_log(r"scheduler -> django_celery_beat\.schedulers\.DatabaseScheduler")
        beat.wait_for_reload(plain, 0)
