"""Notebook 05a's self-checks tell right from wrong: a stub and a plausible wrong answer fail,
another correct answer passes (one run of the notebook for both exercises)."""

import pytest

from cqlab.notebook.exercises import STUB, try_answers
from cqlab.paths import NOTEBOOKS_DIR

NOTEBOOK = NOTEBOOKS_DIR / "05a-bad-input-and-dead-dependencies.ipynb"

ANSWERS = {
    # Settings that serve the page from a dead django-redis cache and log what they ignored.
    "05a-ex1": [
        STUB,
        # Served, but silent: the outage shows nowhere.
        """outage_settings = {
    "CACHES": {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    },
}""",
        # No timeouts (a dead server refuses at once) and a logger of the project's own.
        """outage_settings = {
    "CACHES": {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "OPTIONS": {"IGNORE_EXCEPTIONS": True}},
    },
    "DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS": True,
    "DJANGO_REDIS_LOGGER": "shop.cache",
}""",
    ],
    # A view-side call that answers 503 when the broker is down.
    "05a-ex2": [
        STUB,
        # The message says "Connection refused", but Celery raises kombu's OperationalError,
        # which is not the built-in ConnectionError.
        """def enqueue_or_503(run, connection):
    try:
        record.apply_async([run], connection=connection)
    except ConnectionError:
        return HttpResponse(status=503)
    return HttpResponse(status=202)""",
        # The same exception, as every Celery task names it.
        """def enqueue_or_503(run, connection):
    try:
        record.apply_async([run], connection=connection)
        return HttpResponse(status=202)
    except record.OperationalError:
        return HttpResponse("Try again shortly.", status=503)""",
    ],
}


@pytest.mark.notebook(NOTEBOOK)
def test_self_checks_tell_right_from_wrong():
    results = try_answers(NOTEBOOK, ANSWERS)
    assert results == {exercise: [False, False, True] for exercise in ANSWERS}
