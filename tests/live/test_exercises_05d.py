"""Notebook 05d's self-checks tell right from wrong: a stub and a plausible wrong answer fail,
another correct answer passes (one run of the notebook for all three exercises)."""

import pytest

from cqlab.notebook.exercises import STUB, try_answers
from cqlab.paths import NOTEBOOKS_DIR

NOTEBOOK = NOTEBOOKS_DIR / "05d-poison-long-tasks-killed-beat-and-the-outbox.ipynb"

ANSWERS = {
    # Transport options under which a 6 s task is never handed out twice while it runs.
    "05d-ex1": [
        STUB,
        'transport_options = {"visibility_timeout": 4}',  # a timeout, but below the task's 6 s
        'transport_options = {"visibility_timeout": 3600}',
    ],
    # The beat setting that writes the schedule file after every send.
    "05d-ex2": [
        STUB,
        'beat_settings = ["beat_max_loop_interval=1"]',  # wakes up often, writes the file no sooner
        'beat_settings = ["beat_sync_every=1", "beat_max_loop_interval=300"]',
    ],
    # A signup whose welcome message is a row of the user's transaction.
    "05d-ex3": [
        STUB,
        # After COMMIT: with the broker down the user is committed and the message lost.
        "def sign_up(email):\n"
        "    with transaction.atomic():\n"
        "        User.objects.create_user(username=email, email=email)\n"
        "        send_welcome_email.delay_on_commit(email)\n",
        "def sign_up(email):\n"
        "    with transaction.atomic():\n"
        "        outbox.enqueue(send_welcome_email, email)\n"
        "        User.objects.create_user(email, email)\n",
    ],
}


@pytest.mark.notebook(NOTEBOOK)
def test_self_checks_tell_right_from_wrong():
    results = try_answers(NOTEBOOK, ANSWERS)
    assert results == {exercise: [False, False, True] for exercise in ANSWERS}
