"""Celery Beat for notebook 04: next-run arithmetic, and beat run under a moved clock.

    python -m cqlab.lessons.beat --at 2026-12-31T23:59:56+00:00 [--speed 60] [--schedule NAME] -- beat ARGS

runs `celery -A sandbox beat ARGS` in this very process with time-machine's clock moved to `--at`,
so nobody waits a day for midnight. The clock stands still at `--at` while beat loads its schedule
(a slow start on a busy machine must not skip midnight) and starts ticking when beat begins its
loop; `--speed 60` makes a minute pass in a second. Only beat's clock moves: workers keep real time.
"""

import argparse
import ast
import copy
import datetime as dt
import os
import re
import signal
import sys
import time
from pathlib import Path

from celery.schedules import crontab

from cqlab.infra import processes
from cqlab.paths import RUN_DIR

UTC = dt.timezone.utc
SCHEDULER_DB = "django_celery_beat.schedulers:DatabaseScheduler"
# Celery's log line for each message beat sends, with the (moved) time it was sent at.
SENT_LINE = re.compile(
    r"^\[(?P<at>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}): INFO/MainProcess\] "
    r"Scheduler: Sending due task (?P<entry>\S+)"
)

# Schedules beat can be started with instead of settings.CELERY_BEAT_SCHEDULE (--schedule NAME).
SCHEDULES = {
    # The source's entry next to the classic mistake: `minute` left out means "every minute".
    "midnight-mistake": {
        "daily-task": {"task": "reports.tasks.daily_task", "schedule": crontab(minute=0, hour=0)},
        "hour-zero-only": {"task": "reports.tasks.daily_task", "schedule": crontab(hour=0)},
    },
}


# --- Next runs, computed -------------------------------------------------------------------------


def next_runs(schedule: crontab, now: dt.datetime, count: int) -> list[dt.datetime]:
    """The next `count` times `schedule` fires after `now`, in UTC, as beat would compute them."""
    at_now = copy.copy(schedule)
    at_now.nowfun = lambda: now  # whatever clock `schedule` had, ask it at `now`
    runs, last_run = [], now
    for _ in range(count):
        # remaining_estimate(last run) is how long beat sleeps; add it in UTC, never in wall time.
        last_run = now.astimezone(UTC) + at_now.remaining_estimate(last_run)
        runs.append(last_run)
    return runs


def crontab_in(zone: str, now: dt.datetime | None = None, **fields) -> crontab:
    """A crontab read in time zone `zone` (what CELERY_TIMEZONE sets), with a fixed clock if `now`."""
    from celery import Celery

    app = Celery(f"clock-in-{zone}", set_as_current=False, fixups=[])  # no Django hooks: arithmetic only
    app.conf.timezone = zone
    return crontab(**fields, app=app, nowfun=(lambda: now) if now else None)


# --- Beat under a moved clock --------------------------------------------------------------------


def schedule_file(name: str) -> Path:
    """The `-s` file of beat `name`, where `lab.start_beat` keeps it (one per namespace and name)."""
    return RUN_DIR / f"celerybeat-schedule-{_namespace()}-{name}"


def _namespace() -> str:
    return os.environ.get("SANDBOX_NAMESPACE", "lab")


def remove_schedule_files() -> int:
    """Delete this namespace's beat schedule files (shelve may add suffixes); return how many."""
    files = list(RUN_DIR.glob(f"celerybeat-schedule-{_namespace()}-*"))
    for path in files:
        path.unlink()
    return len(files)


def start_beat_at(
    name: str,
    at: str,
    *,
    speed: float = 1.0,
    schedule: str | None = None,
    scheduler: str | None = None,
    extra_args: tuple[str, ...] = (),
) -> processes.BoundProcess:
    """`lab.start_beat`, with beat's clock moved to `at` (ISO 8601, with an offset)."""
    clock = ["--at", at, "--speed", str(speed), *(["--schedule", schedule] if schedule else [])]
    beat_args = [
        "beat",
        "--loglevel=info",
        "-s",
        str(schedule_file(name)),
        *(["--scheduler", scheduler] if scheduler else []),
        *extra_args,
    ]
    command = [sys.executable, "-m", "cqlab.lessons.beat", *clock, "--", *beat_args]
    return processes.start_beat(name, command=command)


def stop_together(*bound: processes.BoundProcess) -> None:
    """Stop several processes in parallel: signal them all first, then wait for each."""
    for process in bound:
        if process.alive():
            process.popen.send_signal(signal.SIGTERM)
    for process in bound:
        process.stop()


def sent(beat: processes.BoundProcess, entry: str | None = None) -> list[tuple[dt.datetime, str]]:
    """(time on beat's clock, entry name) of every message beat sent, from its log."""
    found = []
    for line in beat.log_lines("Sending due task"):
        if (match := SENT_LINE.match(line)) and entry in (None, match["entry"]):
            at = dt.datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC)
            found.append((at, match["entry"]))
    return found


def schedule_reloads(db_beat: processes.BoundProcess) -> int:
    """How many times a DatabaseScheduler beat has (re)read its schedule from the database."""
    return len(db_beat.log_lines(r"DatabaseScheduler: Schedule changed"))


def wait_for_reload(db_beat: processes.BoundProcess, reloads_before: int, timeout: float = 10.0) -> bool:
    """Block until the beat re-reads the database after `reloads_before` reloads; False on timeout."""
    deadline = time.monotonic() + timeout
    while schedule_reloads(db_beat) <= reloads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    return schedule_reloads(db_beat) > reloads_before


def wait_for_sends(beat: processes.BoundProcess, count: int, timeout: float = 15.0) -> list:
    """Block until beat has sent `count` messages (or `timeout` real seconds pass); return them."""
    deadline = time.monotonic() + timeout
    while len(sent(beat)) < count and time.monotonic() < deadline and beat.alive():
        time.sleep(0.05)
    return sent(beat)


# --- What the worker did ---------------------------------------------------------------------


def task_results(worker: processes.BoundProcess, task: str = "reports.tasks.daily_task") -> list[dict]:
    """Return values of `task` runs that succeeded in `worker`, from its log."""
    pattern = re.compile(rf"Task {re.escape(task)}\[[^\]]+\] succeeded in \S+: (?P<result>.*)$")
    return [
        ast.literal_eval(match["result"])
        for line in worker.log_lines(re.escape(task))
        if (match := pattern.search(line))
    ]


def wait_for_results(worker: processes.BoundProcess, count: int, timeout: float = 15.0) -> list[dict]:
    """Block until `worker` has finished `count` daily_task runs (or `timeout` seconds pass)."""
    deadline = time.monotonic() + timeout
    while len(task_results(worker)) < count and time.monotonic() < deadline and worker.alive():
        time.sleep(0.05)
    return task_results(worker)


def wait_for_queue_length(client, count: int, queue: str = "celery", timeout: float = 5.0) -> int:
    """Messages waiting in `queue` once `count` are there (or `timeout` seconds pass)."""
    deadline = time.monotonic() + timeout
    while client.llen(queue) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return client.llen(queue)


def forget_day(date: dt.date) -> None:
    """Delete `date`'s report and guard key, so the day can be built again (for a second demo)."""
    from reports.daily import release_daily_run
    from reports.models import DailyReport

    DailyReport.objects.filter(date=date).delete()
    release_daily_run(date)


# --- Timeline -------------------------------------------------------------------------------


def plot_timeline(schedules: dict[str, crontab], sends: list[tuple[dt.datetime, str]], start: dt.datetime):
    """Scheduled (computed) vs actual (beat's log) send times of each entry, on beat's clock."""
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    end = max(at for at, _ in sends)
    fig, ax = plt.subplots(figsize=(8, 1 + 0.8 * len(schedules)))
    for row, (name, schedule) in enumerate(schedules.items()):
        planned = [at for at in next_runs(schedule, start, 100) if at <= end]
        actual = [at for at, entry in sends if entry == name]
        label = row == 0
        ax.scatter(
            planned,
            [row] * len(planned),
            s=160,
            facecolors="none",
            edgecolors="tab:blue",
            label="scheduled (computed)" if label else None,
        )
        ax.scatter(
            actual,
            [row] * len(actual),
            s=40,
            color="tab:orange",
            label="sent by beat (log)" if label else None,
        )
    ax.set_yticks(range(len(schedules)), list(schedules))
    ax.set_ylim(-0.7, len(schedules) - 0.3)
    ax.set_xlim(start, end + dt.timedelta(seconds=30))
    ax.set_xlabel("beat's clock (UTC)")
    ax.xaxis.set_major_locator(mdates.MinuteLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    ax.set_title("beat under a 60× clock: scheduled vs sent")
    fig.tight_layout()
    return fig


# --- The clock wrapper: python -m cqlab.lessons.beat --at ... -- beat ... ----------------------------


def _run_celery_with_clock(
    at: dt.datetime, speed: float, schedule: str | None, celery_args: list[str]
) -> None:
    import time_machine
    from celery import signals

    traveller = time_machine.travel(at, tick=False).start()  # stands still while beat sets up

    def start_ticking(**kwargs):
        traveller.move_to(at, tick=True)

    signals.beat_init.connect(start_ticking, weak=False)  # sent as beat's loop begins
    if speed != 1:
        real_sleep = time.sleep

        def fast_sleep(seconds: float) -> None:
            # Beat sleeps until its next run: sleep a `speed`-th of that, move the clock on by the rest.
            real_sleep(seconds / speed)
            traveller.shift(seconds - seconds / speed)

        time.sleep = fast_sleep
    if schedule:
        from sandbox.celery import app

        app.conf.beat_schedule = SCHEDULES[schedule]
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", "-A", "sandbox", *celery_args]
    celery_main()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m cqlab.lessons.beat", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--at", required=True, help="where beat's clock starts, e.g. 2026-12-31T23:59:56+00:00"
    )
    parser.add_argument("--speed", type=float, default=1.0, help="clock seconds per real second")
    parser.add_argument("--schedule", choices=sorted(SCHEDULES), help="instead of CELERY_BEAT_SCHEDULE")
    parser.add_argument("celery_args", nargs=argparse.REMAINDER, help="-- then celery's arguments")
    args = parser.parse_args(argv)
    celery_args = args.celery_args[1:] if args.celery_args[:1] == ["--"] else args.celery_args
    try:
        moved_to = dt.datetime.fromisoformat(args.at)
    except ValueError:
        parser.error(f"--at {args.at!r} is not an ISO 8601 time, e.g. 2026-12-31T23:59:56+00:00")
    if moved_to.tzinfo is None:
        parser.error(f"--at {args.at!r} needs a UTC offset, e.g. {args.at}+00:00")
    if args.speed <= 0:
        parser.error("--speed must be positive")
    _run_celery_with_clock(moved_to, args.speed, args.schedule, celery_args)


if __name__ == "__main__":
    main(sys.argv[1:])
