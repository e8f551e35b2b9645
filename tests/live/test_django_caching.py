"""The sandbox behaviour notebook 02 relies on: cached pages, invalidation, no cross-user leak,
which caches processes share, IGNORE_EXCEPTIONS, culling and the stampede lock."""

import statistics
import time
from functools import partial

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.test import Client

from catalog.caching import (
    get_or_compute,
    get_or_compute_with_add,
    get_or_compute_with_redis_lock,
    hashed_key,
)
from catalog.models import Product
from cqlab.infra.throwaway import ThrowawayRedis
from cqlab.lessons import django_caches

CACHED_PAGES = ["/products/cached/", "/products/page-cached/", "/products/fragment-cached/"]


def median_seconds(client: Client, url: str, n: int) -> float:
    durations = []
    for _ in range(n):
        started = time.perf_counter()
        assert client.get(url).status_code == 200
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


@pytest.mark.parametrize("url", CACHED_PAGES)
def test_cached_page_is_much_faster_and_identical(catalog_client, url):
    slow = median_seconds(catalog_client, "/products/", 2)
    catalog_client.get(url)  # fill the cache
    fast = median_seconds(catalog_client, url, 10)
    assert slow >= 0.2  # SANDBOX_SLOW_QUERY_DELAY
    assert slow / fast >= 10
    assert catalog_client.get(url).content.strip() == catalog_client.get("/products/").content.strip()


def test_product_change_invalidates_data_and_fragment_caches_but_not_cache_page(catalog_client):
    for url in CACHED_PAGES:
        catalog_client.get(url)  # all three cached
    Product.objects.create(name=f"Mug {time.time_ns()}", price="5.00")
    fresh = django_caches.page_heading(catalog_client.get("/products/"))
    assert django_caches.page_heading(catalog_client.get("/products/cached/")) == fresh
    assert django_caches.page_heading(catalog_client.get("/products/fragment-cached/")) == fresh
    # cache_page keeps serving the page it stored: stale until its timeout.
    assert django_caches.page_heading(catalog_client.get("/products/page-cached/")) != fresh


def logged_in(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get_or_create(username=username)[0])
    return client


def test_per_user_page_cached_with_vary_on_cookie_never_leaks(lab):
    alice, bob = logged_in("alice"), logged_in("bob")
    assert alice.get("/hello/cached/").content == b"Hello, alice!"
    assert bob.get("/hello/cached/").content == b"Hello, bob!"
    assert alice.get("/hello/cached/").content == b"Hello, alice!"  # served from its own entry


def test_per_user_page_cached_by_url_alone_leaks(lab):
    """The pitfall the notebook shows: without vary_on_cookie, everyone gets one cached greeting."""
    carol, dave = logged_in("carol"), logged_in("dave")
    assert carol.get("/hello/cached-wrong/").content == dave.get("/hello/cached-wrong/").content


def test_only_locmem_forgets_what_another_process_wrote(lab):
    key = f"cross-process-{time.time_ns()}"
    code = f"from django.core.cache import caches\nfor alias in {django_caches.ALIASES!r}:\n"
    code += f"    caches[alias].set({key!r}, 'v')"
    django_caches.run_in_new_process(code)
    seen_here = {alias: caches[alias].get(key) for alias in django_caches.ALIASES}
    assert seen_here == {**dict.fromkeys(django_caches.ALIASES, "v"), "locmem": None}


def test_ignore_exceptions_keeps_the_page_up_while_redis_is_down(lab):
    Product.objects.get_or_create(name="Kettle", defaults={"price": "20.00"})
    server = ThrowawayRedis().start()
    server.stop()
    catalog_client = Client()
    started = time.monotonic()
    options = {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}
    config = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": server.url(), "OPTIONS": options}
    with django_caches.default_cache(config):
        assert django_caches.response_or_error(catalog_client, "/products/cached/") == "ConnectionError"
    tolerant = {**config, "OPTIONS": {**options, "IGNORE_EXCEPTIONS": True}}
    with django_caches.default_cache(tolerant):
        assert django_caches.response_or_error(catalog_client, "/products/cached/") == "200"
    assert time.monotonic() - started < 10  # fails fast, never hangs


def test_file_cache_keeps_one_file_per_key_and_culls_at_max_entries(lab, tmp_path):
    cache = django_caches.cache_from_config(
        {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": tmp_path,
            "OPTIONS": {"MAX_ENTRIES": 10, "CULL_FREQUENCY": 2},
        }
    )
    counts = django_caches.file_counts_while_filling(cache, 12)
    assert counts == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 6, 7]


@pytest.mark.parametrize("strategy", [get_or_compute_with_add, get_or_compute_with_redis_lock])
def test_a_lock_stops_the_stampede(lab, strategy):
    cache, key = caches["django_redis"], f"stampede-{time.time_ns()}"
    query = django_caches.CountingComputation(seconds=1.0)
    answers = django_caches.stampede(partial(strategy, cache, key, query), clients=6)
    assert answers == ["summary"] * 6
    assert query.calls == 1


def test_without_a_lock_the_stampede_recomputes(lab):
    cache, key = caches["django_redis"], f"stampede-{time.time_ns()}"
    query = django_caches.CountingComputation(seconds=1.0)
    django_caches.stampede(partial(get_or_compute, cache, key, query), clients=6)
    assert query.calls > 1


@pytest.mark.parametrize(
    "key", ["product:42", "my key", "k" * 251, "ключ", "user\n42", "search: " + "ключ с пробелами " * 20]
)
def test_hashed_key_makes_any_key_fit_memcached_and_keeps_good_ones_readable(lab, key):
    config = {**settings.CACHES["memcached"], "KEY_FUNCTION": "catalog.caching.hashed_key"}
    cache = django_caches.cache_from_config(config)
    cache.set(key, "value", 60)
    assert cache.get(key) == "value"
    stored = hashed_key(key, "nb", 1)
    assert len(stored) <= 250 and stored.isascii() and " " not in stored
    assert (stored == f"nb:1:{key}") == (key == "product:42")
