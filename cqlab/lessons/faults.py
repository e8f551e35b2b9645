"""Stages around notebook 05's fault scenarios: runs, counts, waits, labels and one table.

Nothing here is the lesson. The protections (task options in `faults.tasks`, worker and broker
settings, server configuration lines) and the faults (the kill, suspend or restart call) are
written in the notebook's cells; these helpers only start a run, wait for its ledger or its
state to settle, name what an exception means and put the outcomes in a table.
"""

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis
from celery.states import READY_STATES
from pymemcache.exceptions import MemcacheUnexpectedCloseError

from cqlab.waiting import wait_until
from faults.tasks import PIDS_KEY, counts
from sandbox.ledger import ledger


@dataclass(frozen=True)
class Outcome:
    """What one run of a scenario measured: the one shape of every row of the summary table."""

    scenario: str
    protection: str  # what was switched on ("none" for the unprotected variant)
    lost: int  # effects (or tasks, or page requests) that should have happened and did not
    doubled: int  # side effects beyond the first
    protected: bool  # the full protection was on: the expectation is nothing lost, nothing doubled
    detail: str = ""  # one more measured fact worth a column

    @classmethod
    def from_ledger(cls, scenario: str, protection: str, protected: bool, ledger_counts: dict, detail=""):
        """A charge's outcome from its ledger: lost if it never finished, doubled per extra effect."""
        return cls(
            scenario,
            protection,
            lost=int(not ledger_counts.get("finished")),
            doubled=max(ledger_counts.get("effect", 0) - 1, 0),
            protected=protected,
            detail=detail or f"body ran {ledger_counts.get('started', 0)}×",
        )

    def row(self) -> str:
        return f"| {self.scenario} | {self.protection} | {self.lost} | {self.doubled} | {self.detail} |"


def summary_table(outcomes: list[Outcome]) -> str:
    """A Markdown table of outcomes: scenario, protection, lost, doubled, detail."""
    head = ["| scenario | protection | lost | doubled | also measured |", "|---|---|---|---|---|"]
    return "\n".join(head + [outcome.row() for outcome in outcomes])


def new_run(label: str) -> str:
    """A fresh ledger name per scenario run, so a rerun never reads an earlier run's counts."""
    return f"{label}-{uuid.uuid4().hex[:8]}"


# --- One exception-to-label policy -------------------------------------------------------------
# A dead cache server surfaces as one of these, depending on timing (refused, reset, closed):
# they are one fact, "connection error", and are labelled so. A refused password is another fact
# (redis-py's AuthenticationError is a ConnectionError too), so it keeps its own name.
CONNECTION_ERRORS = (redis.exceptions.ConnectionError, ConnectionError, MemcacheUnexpectedCloseError)


def error_label(error: BaseException) -> str:
    """How a table or a printed line names an exception: stable across runs and load."""
    if isinstance(error, CONNECTION_ERRORS) and not isinstance(error, redis.exceptions.AuthenticationError):
        return "connection error"
    return type(error).__name__


def attempt(call: Callable, *args, **kwargs) -> tuple[object, str]:
    """`call(*args, **kwargs)`; return (its value, "") or (None, the error's label). For scenarios
    whose point is which exception a fault raises, so one cell can show every variant's answer."""
    try:
        return call(*args, **kwargs), ""
    except Exception as error:  # the label is what the scenario shows
        return None, error_label(error)


# --- Waiting for a run to settle ---------------------------------------------------------------
def pid_of(run: str, timeout: float = 20.0) -> int:
    """The pid of the process whose task body started `run` (the task publishes it on start)."""
    return int(wait_until(lambda: ledger().hget(PIDS_KEY, run), timeout, f"task {run} to start"))


def final_state(result, timeout: float = 30.0) -> str:
    """A task's state once it is final (SUCCESS, FAILURE, ...): each poll reads the state once."""
    return wait_until(lambda: (state := result.state) in READY_STATES and state, timeout, "a final state")


def counts_when(run: str, condition: Callable[[dict], bool], timeout: float = 30.0) -> dict[str, int]:
    """The ledger of `run` once `condition(counts)` holds: decided from one read of the ledger."""
    return wait_until(lambda: (now := counts(run)) and condition(now) and now, timeout, f"{run}'s ledger")


def on_broker(client: redis.Redis, queue: str = "celery") -> int:
    """Messages still queued or delivered-but-unacknowledged on a Redis broker."""
    return client.llen(queue) + client.hlen("unacked")


def fill(client: redis.Redis, prefix: str, size: int, count: int) -> tuple[int, int]:
    """Write `count` random values of `size` bytes; return (accepted, refused by a full server)."""
    accepted = 0
    for n in range(count):
        try:
            client.set(f"{prefix}:{n}", os.urandom(size))
            accepted += 1
        except redis.exceptions.OutOfMemoryError:
            pass
    return accepted, count - accepted
