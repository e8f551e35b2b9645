"""Reading through a cache: cache-aside, two cures for the cache stampede, and a Memcached-safe key.

Every function takes the cache to use (`django.core.cache.cache` or `caches["alias"]`), the key,
and `compute`, the slow function whose result is cached (a query, a rendered fragment).
`catalog/queries.py` uses them; notebook 02 shows and runs them.
"""

import hashlib
import time
from collections.abc import Callable

DEFAULT_TIMEOUT = 300  # seconds a computed value stays cached
LOCK_TIMEOUT = 10  # seconds: a lock outlives no crashed holder longer than this
POLL_INTERVAL = 0.05  # seconds between two reads of a caller waiting for the lock holder
MEMCACHED_MAX_KEY_BYTES = 250


def get_or_compute(cache, key: str, compute: Callable[[], object], timeout: int = DEFAULT_TIMEOUT):
    """Cache-aside: read the cache; on a miss, compute and store the value.

    Every caller that misses computes: when a popular key expires under load, they all run the
    slow query at once (the stampede). A `None` result is never cached (`get` returns None for a miss).
    """
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout)
    return value


def get_or_compute_with_add(cache, key: str, compute: Callable[[], object], timeout: int = DEFAULT_TIMEOUT):
    """Cache-aside where only the caller that wins `cache.add` computes; the others wait for it.

    `add` stores a key only if it is missing, atomically on a shared cache (SET NX on Redis,
    `add` on Memcached): exactly one caller gets True. The lock key expires after LOCK_TIMEOUT,
    so a holder that crashes does not block the key for good.
    """
    value = cache.get(key)
    if value is not None:
        return value
    lock_key = f"{key}:lock"
    if cache.add(lock_key, "computing", LOCK_TIMEOUT):
        try:
            # Check again: a holder may have stored the value and freed the lock since our get.
            value = cache.get(key)
            if value is None:
                value = compute()
                cache.set(key, value, timeout)
            return value
        finally:
            cache.delete(lock_key)
    for _attempt in range(int(LOCK_TIMEOUT / POLL_INTERVAL)):
        time.sleep(POLL_INTERVAL)
        value = cache.get(key)
        if value is not None:
            return value
    # The holder did not finish in time (crashed, or very slow): answer anyway.
    return get_or_compute(cache, key, compute, timeout)


def get_or_compute_with_redis_lock(
    cache, key: str, compute: Callable[[], object], timeout: int = DEFAULT_TIMEOUT
):
    """The same with django-redis's `cache.lock` (a redis-py Lock): waiters block on the lock
    instead of polling the value, then find it computed when they get the lock in turn."""
    value = cache.get(key)
    if value is not None:
        return value
    with cache.lock(f"{key}:lock", timeout=LOCK_TIMEOUT, blocking_timeout=LOCK_TIMEOUT):
        value = cache.get(key)  # computed by the holder we waited for?
        if value is None:
            value = compute()
            cache.set(key, value, timeout)
    return value


def hashed_key(key: str, key_prefix: str, version: int) -> str:
    """A KEY_FUNCTION for Memcached: keys it cannot take become the SHA-256 of the key.

    Memcached keys are at most 250 bytes of printable ASCII without spaces. Keys within that
    stay readable; any other key (too long, spaces, control or non-ASCII characters) is hashed.
    Use it as `"KEY_FUNCTION": "catalog.caching.hashed_key"` in a CACHES entry.
    """
    full_key = f"{key_prefix}:{version}:{key}"
    if len(full_key) <= MEMCACHED_MAX_KEY_BYTES and all(33 <= ord(char) <= 126 for char in full_key):
        return full_key
    return f"{key_prefix}:{version}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
