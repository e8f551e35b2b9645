"""Plumbing for notebooks 03a and 03b (Celery task queues): timing, reading evidence, staging, plots.

What is taught (calling tasks, reading states, settings, task options) is in the notebook
cells and in the sandbox (`demos.tasks`, `accounts.tasks`); this module only measures,
reads the mailbox, stages a hostile message, and draws.
"""

import email
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from celery import Celery, uuid
from celery.result import AsyncResult

from cqlab.infra.processes import BoundProcess
from cqlab.notebook.plots import PALETTE, task_timelines
from cqlab.waiting import wait_until

# --- timing -----------------------------------------------------------------------------------


def seconds_of(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def time_posts(client, path: str, emails: list[str]) -> list[float]:
    """Seconds each `POST path {"email": ...}` took through Django's test client, one per email."""
    return [seconds_of(lambda email=email: client.post(path, {"email": email})) for email in emails]


# --- evidence: the mailbox --------------------------------------------------------------------


def mailbox_messages(mailbox: Path) -> list[email.message.Message]:
    """Every message the file-based email backend wrote (one file can hold several)."""
    messages = []
    for path in sorted(Path(mailbox).glob("*.log")):
        # Each message is followed by a line of 79 dashes.
        for text in path.read_text().split("-" * 79 + "\n"):
            if text.strip():
                messages.append(email.message_from_string(text))
    return messages


def wait_for_email(mailbox: Path, recipient: str, timeout: float = 20.0) -> email.message.Message:
    """The message sent to `recipient`, once the backend has written it."""

    def sent():
        return next((message for message in mailbox_messages(mailbox) if message["To"] == recipient), None)

    return wait_until(sent, timeout, f"an email to {recipient} in {mailbox} (is a worker running?)")


def show_email(message: email.message.Message) -> None:
    """The stable parts of an email (Date and Message-ID change on every run)."""
    for header in ("From", "To", "Subject"):
        print(f"{header}: {message[header]}")
    print()
    print(message.get_payload().strip())


# --- staging a hostile message ----------------------------------------------------------------


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


def run_batch(send: Callable[[], AsyncResult], count: int, timeout: float = 60.0) -> dict:
    """Call `send()` `count` times at once (each sends one io_job); wait for all; runs and wall time."""
    started = time.time()
    results = [send() for _ in range(count)]
    runs = [result.get(timeout=timeout) for result in results]
    wall = max(run["finished"] for run in runs) - started
    return {"runs": runs, "sent": started, "wall_s": wall, "tasks_per_s": count / wall}


def plot_timeline(batches: dict[str, dict]) -> None:
    """Gantt chart of `run_batch` results: one panel per batch, a colour per worker process; shown."""
    lane_colours = list(PALETTE.values())

    def by_process(lane: int, _: int) -> str:
        return lane_colours[lane % len(lane_colours)]

    task_timelines(batches, "seconds since the batch was sent", by_process, panel_height=2.2)


# --- progress ---------------------------------------------------------------------------------


def follow_progress(result: AsyncResult, timeout: float = 30.0) -> list[str]:
    """A progress bar fed by the task's PROGRESS state; returns the states seen, in order."""
    from tqdm.auto import tqdm

    seen: list[str] = []
    with tqdm(total=None, desc="progress_job", unit="step") as bar:

        def finished() -> bool:
            meta = result.backend.get_task_meta(result.id)  # state and info from ONE read
            state, info = meta["status"], meta["result"]
            if not seen or seen[-1] != state:
                seen.append(state)
            if state == "PROGRESS":
                bar.total, bar.n = info["total"], info["done"]
                bar.refresh()
            return state in result.backend.READY_STATES

        wait_until(finished, timeout, f"task {result.id} to finish", interval=0.1)
    return seen


# --- cleanup ----------------------------------------------------------------------------------


def stop_together(*processes: BoundProcess) -> bool:
    """Stop several workers at once (each warm shutdown takes ~2 s); True when all are gone."""
    with ThreadPoolExecutor(max_workers=max(1, len(processes))) as pool:
        list(pool.map(BoundProcess.stop, processes))
    return not any(process.alive() for process in processes)
