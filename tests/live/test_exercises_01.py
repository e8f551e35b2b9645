"""The self-checks of notebooks 01a and 01b tell a wrong answer from a right one (one run per part)."""

import pytest

from cqlab.notebook.exercises import STUB, try_answers
from cqlab.paths import NOTEBOOKS_DIR

REDIS_PART = NOTEBOOKS_DIR / "01a-redis.ipynb"
MEMCACHED_PART = NOTEBOOKS_DIR / "01b-memcached-and-the-comparison.ipynb"

# Exercise 1: re-arming EXPIRE on every call looks right with the default limit in one window.
RATE_LIMIT_REARMS_EXPIRE = """
def allow_request(r, user, limit=3, window_s=60):
    key = f"ratelimit:{user}"
    count = r.incr(key)
    r.expire(key, window_s)
    return count <= limit
"""
RATE_LIMIT_EXPIRE_NX = """
def allow_request(r, user, limit=3, window_s=60):
    key = f"ratelimit:{user}"
    count, _ = r.pipeline().incr(key).expire(key, window_s, nx=True).execute()
    return count <= limit
"""

# Exercise 2: compare-and-set for an existing cart, but a plain `set` for a new one.
CART_RACES_AT_CREATION = """
def add_to_cart(client, key, item):
    while True:
        value, token = client.gets(key)
        if value is None:
            client.set(key, json.dumps([item]), noreply=False)
            return
        if client.cas(key, json.dumps([*json.loads(value), item]), token, noreply=False):
            return
"""
CART_CREATED_EMPTY_FIRST = """
def add_to_cart(client, key, item):
    client.add(key, "[]", noreply=False)  # a no-op when the cart exists
    while True:
        value, token = client.gets(key)
        if client.cas(key, json.dumps([*json.loads(value), item]), token, noreply=False):
            return
"""

# Exercise 3: ZRANK counts from the lowest score.
RANK_FROM_THE_BOTTOM = """
def rank_of(r, player):
    rank = r.zrank("leaderboard", player)
    return None if rank is None else rank + 1
"""
RANK_BY_SCORE_COUNT = """
def rank_of(r, player):
    score = r.zscore("leaderboard", player)
    return None if score is None else r.zcount("leaderboard", f"({score}", "+inf") + 1
"""


@pytest.mark.notebook(REDIS_PART)
def test_01a_self_checks_fail_a_stub_and_a_plausible_mistake_and_pass_another_right_answer():
    results = try_answers(
        REDIS_PART,
        {
            "01-ex1": [STUB, RATE_LIMIT_REARMS_EXPIRE, RATE_LIMIT_EXPIRE_NX],
            "01-ex3": [STUB, RANK_FROM_THE_BOTTOM, RANK_BY_SCORE_COUNT],
        },
    )
    assert results == {"01-ex1": [False, False, True], "01-ex3": [False, False, True]}


@pytest.mark.notebook(MEMCACHED_PART)
def test_01b_self_check_fails_a_stub_and_a_plausible_mistake_and_passes_another_right_answer():
    results = try_answers(
        MEMCACHED_PART, {"01-ex2": [STUB, CART_RACES_AT_CREATION, CART_CREATED_EMPTY_FIRST]}
    )
    assert results == {"01-ex2": [False, False, True]}
