"""Celery Beat for notebook 04: beat run under a moved clock, and what its log says it did.

    python -m cqlab.lessons.beat --at 2026-12-31T23:59:56+00:00 [--speed 60] [--schedule M:N] -- beat ARGS

runs `celery -A sandbox beat ARGS` in this very process with time-machine's clock moved to `--at`,
so nobody waits a day for midnight. The clock stands still at `--at` while beat loads its schedule
(a slow start on a busy machine must not skip midnight) and starts ticking when beat begins its
loop; `--speed 60` makes a minute pass in a second. Only beat's clock moves: workers keep real time.
What is taught (schedules, settings, the daily task) lives in the sandbox; this is the stage.
"""

import argparse
import ast
import datetime as dt
import dbm.dumb
import inspect
import re
import shelve
import signal
import sys
import time

from cqlab.infra import processes
from cqlab.paths import REPO_ROOT, beat_schedule

# Celery's log line for each message beat sends, with the (moved) time it was sent at.
SENT_LINE = re.compile(
    r"^\[(?P<at>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}): INFO/MainProcess\] "
    r"Scheduler: Sending due task (?P<entry>\S+)"
)
# Beat's debug line when nothing more is due now: every send of this tick is in the log.
ASLEEP_LINE = r"beat: Waking up in"


# --- Starting beat under a moved clock -----------------------------------------------------------


class DumbShelve:
    """`shelve`, always on `dbm.dumb`, for the schedule files of the stage's beats.

    `shelve.open` takes the first dbm module the Python build has (gdbm, ndbm, sqlite3 from 3.13),
    and what a kill -9 leaves of the file depends on which (notebook 05d). Every Python has
    dbm.dumb, so every learner's beat keeps the same file and the notebooks print the same.
    """

    @staticmethod
    def open(filename: str, flag: str = "c", writeback: bool = False) -> shelve.Shelf:
        return shelve.Shelf(dbm.dumb.open(filename, flag), writeback=writeback)


def start_beat_at(
    name: str,
    at: str,
    *,
    speed: float = 1.0,
    schedule: str | None = None,
    loglevel: str = "info",
    extra_args: tuple[str, ...] = (),
    env: dict | None = None,
) -> processes.BoundProcess:
    """`lab.start_beat`, with beat's clock moved to `at` (ISO 8601, with an offset)."""
    clock = ["--at", at, *(["--speed", f"{speed:g}"] if speed != 1 else [])]
    clock += ["--schedule", schedule] if schedule else []
    beat_args = ["beat", f"--loglevel={loglevel}", "-s", str(beat_schedule(name)), *extra_args]
    command = [sys.executable, "-m", "cqlab.lessons.beat", *clock, "--", *beat_args]
    return processes.start_beat(name, command=command, env=env)


def command_line(process: processes.BoundProcess) -> str:
    """The command `process` runs, as typed in a shell at the repository's root."""
    words = ["python" if word == sys.executable else word for word in process.command]
    return " ".join(words).replace(f"{REPO_ROOT}/", "")


def source_lines(module, first: str, last: str | None = None) -> tuple[int, int]:
    """1-based line numbers of `module`'s block from the line starting with `first` to the next
    line starting with `last` (`first`'s line alone without `last`): for `show_source(lines=...)`."""
    lines = inspect.getsource(module).splitlines()
    start = next(number for number, line in enumerate(lines, 1) if line.startswith(first))
    if last is None:
        return start, start
    return start, next(
        number for number, line in enumerate(lines, 1) if number >= start and line.startswith(last)
    )


def remove_schedule_files() -> int:
    """Delete this namespace's beat schedule files (shelve may add suffixes); return how many."""
    pattern = beat_schedule("*")
    files = list(pattern.parent.glob(pattern.name))
    for path in files:
        path.unlink()
    return len(files)


def stop_together(*bound: processes.BoundProcess) -> None:
    """Stop several processes in parallel: signal them all first, then wait for each."""
    for process in bound:
        if process.alive():
            process.popen.send_signal(signal.SIGTERM)
    for process in bound:
        process.stop()


# --- What beat's log says ----------------------------------------------------------------------


def sent(beat: processes.BoundProcess, entry: str | None = None) -> list[tuple[dt.datetime, str]]:
    """(time on beat's clock, entry name) of every message a UTC beat sent, from its log.

    The stamps are in the process's local time: UTC here (a beat whose Django `TIME_ZONE` is
    another zone may stamp in that zone, if the machine has its tz data: use `last_runs` there).
    """
    found = []
    for line in beat.log_lines("Sending due task"):
        if (match := SENT_LINE.match(line)) and entry in (None, match["entry"]):
            at = dt.datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=dt.timezone.utc)
            found.append((at, match["entry"]))
    return found


def last_runs(name: str) -> dict[str, dt.datetime]:
    """Last run of each entry (UTC), as the stopped file-scheduler beat `name` saved it."""
    with DumbShelve.open(str(beat_schedule(name)), flag="r") as stored:
        return {
            entry: saved.last_run_at.astimezone(dt.timezone.utc) for entry, saved in stored["entries"].items()
        }


def wait_for_sends(beat: processes.BoundProcess, count: int, timeout: float = 60.0, **options) -> list:
    """Block until beat has logged at least `count` sends; return them (LabError on timeout).

    Beat logs `Sending due task` before it publishes, and its SIGTERM handler exits at once: a
    beat stopped right after this returns may never publish the message. Wait for the message
    itself (a worker's result, the broker's list) or for `wait_until_asleep` before stopping.
    """
    return beat.wait_for(
        lambda: len(found := sent(beat, **options)) >= count and found, f"{count} sends", timeout
    )


def wait_until_asleep(beat: processes.BoundProcess, timeout: float = 60.0) -> None:
    """Block until beat (at --loglevel=debug) has sent all that is due now and gone to sleep."""

    def asleep() -> bool:
        lines = beat.log_lines(rf"Sending due task|{ASLEEP_LINE}")
        return bool(lines) and re.search(ASLEEP_LINE, lines[-1]) is not None

    beat.wait_for(asleep, "a tick with nothing left to send", timeout)


def schedule_reloads(db_beat: processes.BoundProcess) -> int:
    """How many times a DatabaseScheduler beat has (re)read its schedule from the database."""
    return len(db_beat.log_lines(r"DatabaseScheduler: Schedule changed"))


def wait_for_reload(db_beat: processes.BoundProcess, reloads_before: int, timeout: float = 60.0) -> bool:
    """Block until the beat re-reads the database after `reloads_before` reloads."""
    return db_beat.wait_for(lambda: schedule_reloads(db_beat) > reloads_before, "a schedule reload", timeout)


def sent_after_last_reload(db_beat: processes.BoundProcess, entry: str) -> int:
    """Messages for `entry` that beat sent after it last re-read the database (log order)."""
    lines = db_beat.log_lines(rf"DatabaseScheduler: Schedule changed|Sending due task {re.escape(entry)} ")
    reloads = [index for index, line in enumerate(lines) if "Schedule changed" in line]
    return len(lines) - reloads[-1] - 1 if reloads else len(lines)


def ticks_after_last_reload(db_beat: processes.BoundProcess) -> int:
    """How often a debug-level DatabaseScheduler beat went to sleep since it last re-read the database."""
    lines = db_beat.log_lines(rf"DatabaseScheduler: Schedule changed|{ASLEEP_LINE}")
    reloads = [index for index, line in enumerate(lines) if "Schedule changed" in line]
    return len(lines) - reloads[-1] - 1 if reloads else 0


# --- What the worker did ---------------------------------------------------------------------


def task_results(
    worker: processes.BoundProcess, task: str = "reports.tasks.daily_task", *, task_id: str | None = None
) -> list[dict]:
    """Return values of `task` runs that succeeded in `worker` (only the message `task_id`, if given),
    from its log."""
    message = re.escape(task_id) if task_id else r"[^\]]+"
    pattern = re.compile(rf"Task {re.escape(task)}\[{message}\] succeeded in \S+: (?P<result>.*)$")
    return [
        ast.literal_eval(match["result"])
        for line in worker.log_lines(re.escape(task))
        if (match := pattern.search(line))
    ]


def wait_for_results(
    worker: processes.BoundProcess, count: int, timeout: float = 60.0, *, task_id: str | None = None
) -> list[dict]:
    """Block until `worker` has finished `count` daily_task runs (of the message `task_id`, if given);
    return them (LabError on timeout).

    The worker logs a success just after it stores the result: a caller's `.get()` can return
    before the line is written, so count only runs awaited here, or name the message.
    """
    return worker.wait_for(
        lambda: len(found := task_results(worker, task_id=task_id)) >= count and found,
        f"{count} results",
        timeout,
    )


def sent_task_id(beat: processes.BoundProcess) -> str:
    """The task id of the last message a debug-level beat published (logged after the publish)."""
    return beat.wait_for_log(r" sent\. id->").rsplit("id->", 1)[1].strip()


# --- Timeline -------------------------------------------------------------------------------


def plot_timeline(planned: dict[str, list[dt.datetime]], sends: list[tuple[dt.datetime, str]]):
    """Scheduled (computed) vs actual (beat's log) send times of each entry, on beat's clock."""
    import matplotlib.dates as mdates

    from cqlab.notebook.plots import PALETTE, new_axes

    start, end = min(at for at, _ in sends), max(at for at, _ in sends)
    fig, ax = new_axes(8, 1 + 0.8 * len(planned))
    for row, (name, times) in enumerate(planned.items()):
        shown = [at for at in times if at <= end]
        actual = [at for at, entry in sends if entry == name]
        first = row == 0
        ax.scatter(
            shown,
            [row] * len(shown),
            s=160,
            facecolors="none",
            edgecolors=PALETTE["celery"],
            linewidths=2,
            label="scheduled (computed from the crontab)" if first else None,
        )
        ax.scatter(
            actual,
            [row] * len(actual),
            s=40,
            color=PALETTE["redis"],
            label="sent to Redis by beat (its log)" if first else None,
        )
    ax.set_yticks(range(len(planned)), list(planned))
    ax.set_ylim(-0.7, len(planned) - 0.3)
    ax.set_xlim(start - dt.timedelta(seconds=30), end + dt.timedelta(seconds=30))
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
    from celery.beat import PersistentScheduler
    from celery.utils.imports import symbol_by_name

    PersistentScheduler.persistence = DumbShelve  # the same schedule file on every Python build

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

        app.conf.beat_schedule = symbol_by_name(schedule)
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
    parser.add_argument(
        "--schedule", help="module:NAME of a beat schedule to use instead of CELERY_BEAT_SCHEDULE"
    )
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
