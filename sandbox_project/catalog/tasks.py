"""Tasks notebook 02 uses to show which caches a Celery worker shares with the web process."""

from celery import shared_task
from django.core.cache import caches


@shared_task
def write_to_cache(alias, key, value):
    """Set `key` in the worker's `alias` cache."""
    caches[alias].set(key, value, 300)


@shared_task
def read_from_cache(alias, key):
    """What the worker sees under `key` in its `alias` cache (None: a miss)."""
    return caches[alias].get(key)
