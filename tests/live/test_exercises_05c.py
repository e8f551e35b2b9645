"""Notebook 05c's self-checks tell right from wrong: a stub and a plausible wrong answer fail,
another correct answer passes (one run of the notebook for both exercises)."""

import pytest

from cqlab.notebook.exercises import STUB, try_answers
from cqlab.paths import NOTEBOOKS_DIR

NOTEBOOK = NOTEBOOKS_DIR / "05c-misconfigured-slow-and-oversized.ipynb"

ANSWERS = {
    # A Memcached cache that stores the 133-character Cyrillic key.
    "05c-ex1": [
        STUB,
        # Django already passes allow_unicode_keys=True: the key is still 260 bytes.
        """safe_cache_config = {
    "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
    "LOCATION": memcached_location,
    "KEY_PREFIX": "shop",
    "OPTIONS": {"allow_unicode_keys": True},
}""",
        # The key function given as a callable instead of its dotted path.
        """safe_cache_config = {
    "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
    "LOCATION": memcached_location,
    "KEY_PREFIX": "shop",
    "KEY_FUNCTION": hashed_key,
}""",
    ],
    # django-redis OPTIONS that serve the page from a slow Redis without waiting for it.
    "05c-ex2": [
        STUB,
        'slow_server_options = {"SOCKET_TIMEOUT": 0.5}',  # fails fast, but fails: a 500
        'slow_server_options = {"IGNORE_EXCEPTIONS": True, "SOCKET_TIMEOUT": 0.3}',
    ],
}


@pytest.mark.notebook(NOTEBOOK)
def test_self_checks_tell_right_from_wrong():
    results = try_answers(NOTEBOOK, ANSWERS)
    assert results == {exercise: [False, False, True] for exercise in ANSWERS}
