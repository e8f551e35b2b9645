"""Notebook 07's self-checks catch a stub and a plausible wrong answer, and accept another right one."""

import pytest

from cqlab.notebook.exercises import STUB, try_answers
from cqlab.paths import NOTEBOOKS_DIR

NOTEBOOK = NOTEBOOKS_DIR / "07-conclusion.ipynb"

ANSWERS = {
    "07-ex1": [
        STUB,
        # Plausible but wrong: delay() takes only the task's arguments, so `queue` becomes a
        # keyword argument of the task and the message goes to the default queue.
        'def queue_welcome(email):\n    send_welcome_email.delay(email, queue="mail")',
        # Right, another way: a signature with the option set.
        'def queue_welcome(email):\n    send_welcome_email.s(email).set(queue="mail").delay()',
    ],
    "07-ex2": [
        STUB,
        # Plausible but wrong: an address as the LOCATION of a per-process memory cache.
        "def shared_entry(server):\n"
        '    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",'
        ' "LOCATION": f"127.0.0.1:{server.port}"}',
        # Right, another way: LOCATION as a list of servers.
        "def shared_entry(server):\n"
        '    return {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",'
        ' "LOCATION": [f"127.0.0.1:{server.port}"]}',
    ],
}


@pytest.mark.notebook(NOTEBOOK)
def test_self_checks_tell_right_from_wrong(lab):
    results = try_answers(NOTEBOOK, ANSWERS)
    assert results == {exercise: [False, False, True] for exercise in ANSWERS}
