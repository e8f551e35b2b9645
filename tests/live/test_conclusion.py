"""What notebook 07 concludes, as tests: which caches several processes share, and the
before/after ratios of the sandbox's own requests (with wide margins: they hold under load)."""

import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from catalog.tasks import read_from_cache, write_to_cache
from cqlab.infra import processes
from cqlab.lessons import conclusion
from cqlab.notebook.timing import time_calls
from cqlab.waiting import wait_until

ALIASES = list(settings.CACHE_ALIASES)
SHARED = [alias for alias in ALIASES if alias != "locmem"]


def via_worker(queue: str) -> conclusion.Process:
    return conclusion.Process(
        write=lambda alias, key, value: write_to_cache.apply_async((alias, key, value), queue=queue).get(
            timeout=20
        ),
        read=lambda alias, key: read_from_cache.apply_async((alias, key), queue=queue).get(timeout=20),
    )


def test_locmem_is_one_cache_per_process_the_others_are_shared(lab):
    names = ["conclusion-a", "conclusion-b"]
    here = conclusion.Process(
        write=lambda alias, key, value: caches[alias].set(key, value, 300),
        read=lambda alias, key: caches[alias].get(key),
    )
    with (
        processes.start_worker(names[0], pool="solo", queues=[names[0]]),
        processes.start_worker(names[1], pool="solo", queues=[names[1]]),
    ):
        seen = conclusion.who_sees_what({"test": here, **{name: via_worker(name) for name in names}}, ALIASES)
    assert seen["locmem"] == {"test": 1, names[0]: 1, names[1]: 1}
    assert all(seen[alias] == {"test": 3, names[0]: 3, names[1]: 3} for alias in SHARED)
    assert "locmem" in conclusion.sharing_table(seen).splitlines()[1]


@pytest.mark.parametrize("alias", ALIASES)
def test_cached_catalogue_page_is_at_least_10x_faster_on_every_backend(catalog_client, alias):
    uncached = time_calls("no cache", lambda: catalog_client.get("/products/"), n=3, warmup=0)
    with override_settings(CACHES={**settings.CACHES, "default": settings.CACHES[alias]}):
        cached = time_calls(alias, lambda: catalog_client.get("/products/cached/"), n=20, warmup=1)
        assert catalog_client.get("/products/cached/").content == catalog_client.get("/products/").content
    assert uncached.p50_us >= 10 * cached.p50_us


def test_signup_with_the_email_queued_skips_the_smtp_wait_and_every_email_is_sent(catalog_client, worker):
    addresses = iter(f"conclusion-{uuid.uuid4().hex}@example.com" for _ in range(20))
    sent = []

    def sign_up(path):
        sent.append(next(addresses))
        assert catalog_client.post(path, {"email": sent[-1]}).status_code == 201

    inline = time_calls("inline", lambda: sign_up("/signup/?inline=1"), n=3, warmup=0)
    queued = time_calls("queued", lambda: sign_up("/signup/"), n=8, warmup=1)
    # Judged against the SMTP conversation the inline signup waits for, not as a ratio of the two:
    # with every core busy a queued signup's own work grew ~8× (to 0.11 s, a ratio under 5).
    smtp_wait_us = settings.SANDBOX_SMTP_DELAY * 1e6
    assert inline.p50_us >= smtp_wait_us >= 2 * queued.p50_us

    def mailbox() -> str:
        return "".join(path.read_text() for path in Path(settings.EMAIL_FILE_PATH).glob("*"))

    wait_until(lambda: all(address in mailbox() for address in sent), 60, "every welcome email")
