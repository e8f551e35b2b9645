"""Notebook 06's self-checks reject a stub and a plausible wrong answer, and accept another right one."""

import pytest

from cqlab.notebook.exercises import STUB, try_answers
from cqlab.paths import NOTEBOOKS_DIR

NOTEBOOK = NOTEBOOKS_DIR / "06-scaling-out.ipynb"


@pytest.mark.notebook(NOTEBOOK)
def test_self_checks_of_notebook_06():
    results = try_answers(
        NOTEBOOK,
        {
            # Without ignore_exc the dead node raises; with retries left it stays in the ring.
            "06-ex1": [
                STUB,
                'options = {"retry_attempts": 0}',
                "options = dict(retry_attempts=0, ignore_exc=True, dead_timeout=120)",
            ],
            # Keys without a hash tag land in different slots: MSET is refused.
            "06-ex2": [
                STUB,
                'user_keys = ["user:7:profile", "user:7:cart"]',
                'user_keys = ["profile{user:7}", "cart{user:7}"]',
            ],
            # The round above: with early acknowledgement a multiplier of 1 still reserves one email;
            # --disable-prefetch fetches only for a free process, whatever the multiplier.
            "06-ex3": [
                STUB,
                'worker_options = ("--prefetch-multiplier=1", "-O", "fair")',
                'worker_options = ("--disable-prefetch", "--prefetch-multiplier=1")',
            ],
            # A single number is the maximum, with no process kept between bursts; Celery sorts
            # the two numbers, so min,max in a separate token is right too.
            "06-ex4": [
                STUB,
                'worker_options = ("--autoscale=3",)',
                'worker_options = ("--autoscale", "2,3")',
            ],
        },
    )
    assert results == {
        "06-ex1": [False, False, True],
        "06-ex2": [False, False, True],
        "06-ex3": [False, False, True],
        "06-ex4": [False, False, True],
    }
