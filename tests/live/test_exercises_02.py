"""The self-checks of notebook 02's exercises reject a wrong answer and accept another correct one."""

import pytest

from cqlab.notebook.exercises import STUB, try_answers
from cqlab.paths import NOTEBOOKS_DIR

NOTEBOOK = NOTEBOOKS_DIR / "02-django-caching.ipynb"

# Ex1: 1,000 entries but the default culling (a third), instead of a quarter.
EX1_WRONG = """
big_file_cache = django_caches.cache_from_config({
    "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
    "LOCATION": settings.CACHES["file"]["LOCATION"] / "exercise",
    "OPTIONS": {"MAX_ENTRIES": 1000},
})
"""
EX1_RIGHT = """
from django.core.cache.backends.filebased import FileBasedCache

big_file_cache = FileBasedCache(
    settings.CACHES["file"]["LOCATION"] / "exercise", {"OPTIONS": {"CULL_FREQUENCY": 4, "MAX_ENTRIES": 1_000}}
)
"""
# Ex2: deleting the generation resets it to 1, so the first generation's keys come back.
EX2_WRONG = """
def catalog_key(name):
    generation = caches["memcached"].get_or_set("catalog:generation", 1, timeout=None)
    return f"catalog:{generation}:{name}"


def forget_catalog():
    caches["memcached"].delete("catalog:generation")
"""
EX2_RIGHT = """
import time


def catalog_key(name):
    generation = caches["memcached"].get("catalog:generation")
    if generation is None:
        generation = time.time_ns()
        caches["memcached"].add("catalog:generation", generation, timeout=None)
        generation = caches["memcached"].get("catalog:generation")
    return f"catalog-{generation}-{name}"


def forget_catalog():
    caches["memcached"].set("catalog:generation", time.time_ns(), timeout=None)
"""
# Ex3: the right key and timeout, on the wrong alias (Django's built-in Redis backend).
EX3_WRONG = """
def greeting_for(user):
    return caches["redis"].get_or_set(f"greeting:user:{user.pk}", lambda: make_greeting(user), 60)
"""
EX3_RIGHT = """
from catalog.caching import get_or_compute


def greeting_for(user):
    key = f"greeting:{user.username}"
    return get_or_compute(caches["django_redis"], key, lambda: make_greeting(user), timeout=60)
"""


@pytest.mark.notebook(NOTEBOOK)
def test_self_checks_reject_wrong_answers_and_accept_other_correct_ones(lab):
    results = try_answers(
        NOTEBOOK,
        {
            "02-ex1": [STUB, EX1_WRONG, EX1_RIGHT],
            "02-ex2": [STUB, EX2_WRONG, EX2_RIGHT],
            "02-ex3": [STUB, EX3_WRONG, EX3_RIGHT],
        },
    )
    assert results == {exercise: [False, False, True] for exercise in ["02-ex1", "02-ex2", "02-ex3"]}
