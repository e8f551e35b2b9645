"""Where tasks leave evidence of their runs: one Redis client, one home for every app's tasks.

It points at REDIS_CACHE_URL (the namespace's own database in the lab), never at a broker a
demo is about to kill: when a broker dies, the record of what ran survives it.
"""

import redis
from django.conf import settings


def ledger() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_CACHE_URL, socket_connect_timeout=2, socket_timeout=5)
