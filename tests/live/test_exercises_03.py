"""The self-checks of notebooks 03a and 03b fail wrong answers and pass other correct ones.

One run of each notebook (`try_answers` executes it once, then tries every answer).
"""

import pytest

from cqlab.notebook.exercises import STUB, try_answers
from cqlab.paths import NOTEBOOKS_DIR

PART_A = NOTEBOOKS_DIR / "03a-celery-with-django.ipynb"
PART_B = NOTEBOOKS_DIR / "03b-celery-in-production.ipynb"

# 03a-ex1: the task must run on the helper worker, through the `exercise` queue.
SENT_TO_THE_DEFAULT_QUEUE = """
waiting = tasks.io_job.delay(0)  # the `celery` queue: the main worker runs it
helper = lab.start_worker("helper", concurrency=1, pool="solo", queues=["exercise"])
answer = waiting.get(timeout=20)
"""
SENT_BY_NAME = """
waiting = celery_app.send_task("demos.tasks.io_job", args=[0], queue="exercise")
helper = lab.start_worker("helper", concurrency=1, queues=["exercise"])
answer = waiting.get(timeout=20)
"""

# 03b-ex1: every step in the worker, summed by a chord.
ADD_DONE_IN_THE_NOTEBOOK = """
workflow = chord(tasks.mul.s(n + n, n) for n in range(1, 11))(tasks.tsum.s())
"""
GROUP_PIPED_INTO_TSUM = """
workflow = (group(tasks.add.s(n, n) | tasks.mul.s(n) for n in range(1, 11)) | tasks.tsum.s())()
"""

# 03b-ex2: sent only after COMMIT.
SENT_INSIDE_THE_TRANSACTION = """
def my_signup(email):
    with transaction.atomic():
        user = User.objects.create_user(username=email, email=email)
        return tasks.welcome_user.delay(user.pk)
"""
SENT_AFTER_THE_BLOCK = """
def my_signup(email):
    with transaction.atomic():
        user = User.objects.create_user(username=email, email=email)
    return tasks.welcome_user.delay(user.pk)
"""


@pytest.mark.notebook(PART_A)
def test_03a_self_check_tells_right_from_wrong():
    results = try_answers(
        PART_A,
        {"03a-ex1": [STUB, SENT_TO_THE_DEFAULT_QUEUE, SENT_BY_NAME]},
    )
    assert results == {"03a-ex1": [False, False, True]}


@pytest.mark.notebook(PART_B)
def test_03b_self_checks_tell_right_from_wrong():
    results = try_answers(
        PART_B,
        {
            "03b-ex1": [STUB, ADD_DONE_IN_THE_NOTEBOOK, GROUP_PIPED_INTO_TSUM],
            "03b-ex2": [STUB, SENT_INSIDE_THE_TRANSACTION, SENT_AFTER_THE_BLOCK],
        },
    )
    assert results == {"03b-ex1": [False, False, True], "03b-ex2": [False, False, True]}
