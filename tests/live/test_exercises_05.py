"""Notebook 05b's self-checks tell right from wrong: a stub and a plausible wrong answer fail,
another correct answer passes (one run of the notebook for both exercises). Notebook 05a has no
exercises: both of notebook 05's exercises belong to the task faults of 05b."""

import pytest

from cqlab.notebook.exercises import STUB, try_answers
from cqlab.paths import NOTEBOOKS_DIR

NOTEBOOK = NOTEBOOKS_DIR / "05b-lost-and-doubled-tasks.ipynb"

ANSWERS = {
    # Worker settings that requeue a charge whose pool child dies.
    "05-ex1": [
        STUB,
        'worker_settings = ["task_acks_late=true"]',  # acked late, but still failed for good
        'worker_settings = ["task_reject_on_worker_lost=yes", "task_acks_late=1"]',
    ],
    # redis.conf lines for a 2 MB broker that never drops a queued task.
    "05-ex2": [
        STUB,
        'broker_conf = ("maxmemory 2mb", "maxmemory-policy allkeys-lru")',  # evicts the queue itself
        'broker_conf = ("maxmemory-policy noeviction", "maxmemory 2097152")',
    ],
}


@pytest.mark.notebook(NOTEBOOK)
def test_self_checks_tell_right_from_wrong():
    results = try_answers(NOTEBOOK, ANSWERS)
    assert results == {exercise: [False, False, True] for exercise in ANSWERS}
