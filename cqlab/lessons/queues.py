"""Helpers for notebook 03 (Celery task queues): timing, evidence from the worker, plots.

The tasks themselves live in the sandbox (`demos.tasks`); this module only drives and measures
them from the notebook, so the notebook cells stay short.
"""

import email
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import requires
from pathlib import Path
from types import SimpleNamespace

from celery import Celery, uuid
from celery.result import AsyncResult

from cqlab.infra.processes import BoundProcess

# --- the recipe -------------------------------------------------------------------------------


def requirement_chain(package: str = "celery", extra: str = "redis") -> list[str]:
    """What `pip install package[extra]` pulls in for that extra, one level down and the next."""
    chain = []
    for requirement in requires(package) or []:
        if f'extra == "{extra}"' in requirement:
            name = requirement.split(";")[0].strip()
            chain.append(f"{package}[{extra}] → {name}")
            base, _, sub_extra = name.partition("[")
            if sub_extra:
                chain.extend(f"  {line}" for line in requirement_chain(base, sub_extra.rstrip("]")))
    return chain


def app_from_settings(**django_like_settings) -> Celery:
    """A Celery app configured the recipe's way, from a settings object holding just these names.

    Celery also reads the CELERY_RESULT_BACKEND environment variable, over any setting, and the
    lab exports it for its workers; the backend is resolved here without it, as a process with
    only these settings would (the app keeps it).
    """
    app = Celery("recipe", set_as_current=False)
    app.config_from_object(SimpleNamespace(**django_like_settings), namespace="CELERY")
    exported = os.environ.pop("CELERY_RESULT_BACKEND", None)
    try:
        app.backend  # noqa: B018 - resolved and kept now
    finally:
        if exported is not None:
            os.environ["CELERY_RESULT_BACKEND"] = exported
    return app


# --- calling tasks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    value: object
    seconds: float


def timed(call: Callable[[], object]) -> Timed:
    started = time.perf_counter()
    value = call()
    return Timed(value, time.perf_counter() - started)


def time_posts(client, path: str, emails: list[str]) -> list[float]:
    """Seconds each `POST path {"email": ...}` took through Django's test client, one per email."""
    return [timed(lambda email=email: client.post(path, {"email": email})).seconds for email in emails]


def states_seen(result: AsyncResult, timeout: float = 10.0, poll: float = 0.02) -> list[str]:
    """The distinct states a task's result went through, polled until it is ready."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = result.state
        if not seen or seen[-1] != state:
            seen.append(state)
        if result.ready():
            return seen
        time.sleep(poll)
    raise TimeoutError(f"task {result.id} not ready after {timeout} s; states so far: {seen}")


def wait_for_state(result: AsyncResult, state: str, timeout: float = 10.0, poll: float = 0.02) -> None:
    """Block until the task's result reports `state` (e.g. STARTED, for a task that tracks it)."""
    deadline = time.monotonic() + timeout
    while result.state != state:
        if time.monotonic() > deadline:
            raise TimeoutError(f"task {result.id} still {result.state}, not {state}, after {timeout} s")
        time.sleep(poll)


def round_trip_latencies(task, n: int = 50, timeout: float = 5.0) -> dict[str, float]:
    """p50/p95 in ms of `task.delay(1, 1).get()`: enqueue, run in the worker, read the result."""
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        task.delay(1, 1).get(timeout=timeout)
        samples.append((time.perf_counter() - started) * 1000)
    percentiles = statistics.quantiles(samples, n=100)
    return {"p50_ms": percentiles[49], "p95_ms": percentiles[94]}


# --- evidence: emails, attempts, a hostile message --------------------------------------------


def wait_for_email(mailbox: Path, recipient: str, timeout: float = 10.0) -> email.message.Message:
    """The message sent to `recipient` by the file-based email backend, once it is written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(Path(mailbox).glob("*.log")):
            # One file can hold several messages, each followed by a line of 79 dashes.
            for text in path.read_text().split("-" * 79 + "\n"):
                message = email.message_from_string(text)
                if message["To"] == recipient:
                    return message
        time.sleep(0.05)
    raise TimeoutError(f"no email to {recipient} in {mailbox} after {timeout} s: is a worker running?")


def show_email(message: email.message.Message) -> None:
    """The stable parts of an email (Date and Message-ID change on every run)."""
    for header in ("From", "To", "Subject"):
        print(f"{header}: {message[header]}")
    print()
    print(message.get_payload().strip())


def attempt_gaps(redis_client, key: str) -> list[float]:
    """Seconds between consecutive attempts that `demos.tasks.flaky_call` recorded for `key`."""
    times = [float(stamp) for stamp in redis_client.lrange(f"attempts:{key}", 0, -1)]
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


class _OpensAFile:
    """Unpickling this calls open(path, "w"): pickle runs whatever code the sender chose."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def send_pickled_task(app: Celery, task_name: str, proof_path: Path, queue: str = "celery") -> str:
    """Publish a task message serialized with pickle, straight through kombu; return its id.

    If a worker unpickled it, `proof_path` would appear: deserializing pickle executes code.
    """
    task_id = uuid()
    message = app.amqp.as_task_v2(task_id, task_name, args=(_OpensAFile(proof_path),), kwargs={})
    with app.producer_or_acquire() as producer:
        producer.publish(
            message.body,
            exchange="",
            routing_key=queue,
            serializer="pickle",
            headers=message.headers,
            **message.properties,
        )
    return task_id


# --- scale-out --------------------------------------------------------------------------------


def run_batch(task, count: int, seconds: float, queue: str, timeout: float = 30.0) -> dict:
    """Send `count` io_job tasks to `queue` at once; wait for all; runs and wall time."""
    started = time.time()
    results = [task.apply_async((seconds,), queue=queue) for _ in range(count)]
    runs = [result.get(timeout=timeout) for result in results]
    wall = max(run["finished"] for run in runs) - started
    return {"runs": runs, "sent": started, "wall_s": wall, "tasks_per_s": count / wall}


def plot_timeline(batches: dict[str, dict]) -> None:
    """Gantt chart: one lane per worker process, one bar per task, one panel per batch; shown."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(batches), 1, figsize=(9, 2.2 * len(batches)), sharex=True, squeeze=False)
    for ax, (title, batch) in zip(axes[:, 0], batches.items(), strict=True):
        lanes = defaultdict(list)
        for run in batch["runs"]:
            lanes[(run["worker"], run["pid"])].append(run)
        labels, processes_of = [], defaultdict(int)
        for lane, (worker, pid) in enumerate(sorted(lanes)):
            processes_of[worker] += 1
            labels.append(f"{worker} process {processes_of[worker]}")
            for run in lanes[(worker, pid)]:
                ax.barh(
                    lane,
                    run["finished"] - run["started"],
                    left=run["started"] - batch["sent"],
                    color=f"C{lane}",
                    edgecolor="black",
                )
        ax.set_yticks(range(len(labels)), labels)
        ax.set_title(f"{title}: {batch['tasks_per_s']:.1f} tasks/s")
    axes[-1, 0].set_xlabel("seconds since the batch was sent")
    fig.tight_layout()
    plt.show()


def registered_tasks(app: Celery, worker: str, timeout: float = 5.0) -> list[str]:
    """The task names a running worker knows, asked over the broker (`celery inspect registered`)."""
    replies = app.control.inspect(timeout=timeout, destination=[worker]).registered() or {}
    if worker not in replies:
        raise TimeoutError(f"{worker} did not answer within {timeout} s: is it running?")
    return replies[worker]


# --- progress ---------------------------------------------------------------------------------


def follow_progress(result: AsyncResult, timeout: float = 30.0, poll: float = 0.1) -> list[str]:
    """A progress bar fed by the task's PROGRESS state; returns the states seen."""
    from tqdm.auto import tqdm

    seen: list[str] = []
    deadline = time.monotonic() + timeout
    with tqdm(total=None, desc="progress_job", unit="step") as bar:
        while time.monotonic() < deadline:
            state, info = result.state, result.info
            if not seen or seen[-1] != state:
                seen.append(state)
            if isinstance(info, dict) and "total" in info:
                bar.total = info["total"]
                bar.n = info["done"]
                bar.refresh()
            if result.ready():
                return seen
            time.sleep(poll)
    raise TimeoutError(f"task {result.id} not done after {timeout} s")


# --- cleanup ----------------------------------------------------------------------------------


def stop_together(*processes: BoundProcess) -> bool:
    """Stop several workers at once (each warm shutdown takes ~2 s); True when all are gone."""
    with ThreadPoolExecutor(max_workers=max(1, len(processes))) as pool:
        list(pool.map(BoundProcess.stop, processes))
    return not any(process.alive() for process in processes)
