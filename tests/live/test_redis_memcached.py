"""Notebook 01b's plumbing (`cqlab.lessons.redis_memcached`), against the live servers.

What the notebook teaches lives in its cells and is checked by running it (nbval); these
tests cover the probes of the side-by-side table and the forced race of exercise 2.
"""

import json

import pytest

from cqlab.lessons import redis_memcached


@pytest.fixture
def r(lab):
    client = lab.redis(decode_responses=True)
    yield client
    client.flushdb()


def append_unsafely(client, key, item):
    """Read, then write without checking: what the interloper must catch."""
    value = client.get(key)
    client.set(key, json.dumps([*(json.loads(value) if value else []), item]), noreply=False)


def append_with_cas(client, key, item):
    while True:
        value, token = client.gets(key)
        if value is None:
            if client.add(key, json.dumps([item]), noreply=False):
                return
        elif client.cas(key, json.dumps([*json.loads(value), item]), token, noreply=False):
            return


def test_interloper_writes_after_each_read_so_an_unchecked_write_loses_its_item(lab):
    mc = lab.memcached()
    mc.delete("test:cart", noreply=False)
    interloper = redis_memcached.Interloper(lab.memcached(), lab.memcached(), interruptions=3)
    append_unsafely(interloper, "test:cart", "mine")
    assert interloper.written == ["other-1"]
    assert json.loads(mc.get("test:cart")) == ["mine"]  # other-1 overwritten
    mc.delete("test:cart", noreply=False)


def test_interloper_lets_compare_and_set_keep_every_item(lab):
    mc = lab.memcached()
    mc.delete("test:cart", noreply=False)
    interloper = redis_memcached.Interloper(lab.memcached(), lab.memcached(), interruptions=3)
    append_with_cas(interloper, "test:cart", "mine")
    assert interloper.written == ["other-1", "other-2", "other-3"]
    assert json.loads(mc.get("test:cart")) == ["other-1", "other-2", "other-3", "mine"]
    assert interloper.key_prefix == mc.key_prefix  # everything else goes to the real client
    mc.delete("test:cart", noreply=False)


def test_memcached_reply_shows_protocol_errors(lab):
    address = lab.config.memcached_address
    assert redis_memcached.memcached_reply(address, b"publish news hi") == "ERROR"
    assert redis_memcached.memcached_reply(address, b"touch t1:nothing 1.5").startswith("CLIENT_ERROR")


def test_feature_table_is_built_from_probes(lab, r):
    r.set("test:string", "x")
    r.hset("test:hash", "f", "v")
    survived = {
        "Redis, off": (False, False),
        "Redis, RDB": (True, False),
        "Redis, AOF": (True, True),
        "Memcached": (False, False),
    }
    eviction = {"maxmemory": "0", "maxmemory-policy": "noeviction"}  # the notebook reads it with CONFIG GET
    rows = redis_memcached.feature_table(r, lab.memcached(), survived, 2, 1_048_516, eviction)
    table = {feature: (redis_cell, memcached_cell) for feature, redis_cell, memcached_cell in rows}
    # The row lists the types found in the database; other tests of this worker add theirs.
    assert {"hash", "string"} <= set(table["data types"][0].split(", "))
    assert table["max value size"] == ("512 MiB", "1,048,516 bytes (-I 1 MiB, item header included)")
    assert table["key kept: clean restart/kill -9"] == (
        "off: lost/lost, RDB: kept/lost, AOF: kept/kept",
        "lost/lost",
    )
    assert "CLIENT_ERROR" in table["TTL precision"][1]
    assert table["eviction when full"][0] == "configurable: maxmemory 0, maxmemory-policy noeviction"
    assert r.exists("probe:ttl", "probe:tx") == 0
    assert redis_memcached.format_table(rows).splitlines()[0].split() == ["Redis", "Memcached"]
