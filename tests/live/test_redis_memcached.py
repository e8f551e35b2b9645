"""Notebook 01's demo helpers (`cqlab.lessons.redis_memcached`), against live and throw-away servers."""

import pytest

from cqlab.infra.throwaway import ThrowawayMemcached, ThrowawayRedis
from cqlab.lessons import redis_memcached

# Throw-away ports of notebook 01's range that the notebook itself does not use.
REDIS_PORTS = (6404, 6405)
MEMCACHED_PORTS = (11404, 11405)


@pytest.fixture
def r(lab):
    client = lab.redis(decode_responses=True)
    yield client
    client.flushdb()


def test_cache_aside_misses_once_then_hits_on_both_servers(lab, r):
    calls = []

    def compute():
        calls.append(1)
        return {"answer": 42}

    mc = lab.memcached()
    for client in (r, mc):
        first = redis_memcached.cache_aside(client, "test:cache-aside", compute, ttl_s=30)
        second = redis_memcached.cache_aside(client, "test:cache-aside", compute, ttl_s=30)
        assert first == ({"answer": 42}, False)
        assert second == ({"answer": 42}, True)
    assert len(calls) == 2  # once per server
    assert 0 < r.ttl("test:cache-aside") <= 30
    mc.delete("test:cache-aside", noreply=False)


def test_session_load_restarts_the_clock(r):
    sessions = redis_memcached.SessionStore(r, ttl_ms=60_000)
    session_id = sessions.create(user_id="7")
    r.pexpire(f"session:{session_id}", 1000)  # as if 59 s had passed
    assert sessions.load(session_id) == {"user_id": "7"}
    assert r.pttl(f"session:{session_id}") > 50_000
    assert sessions.load("no-such-session") is None


def test_a_queue_gives_each_message_to_exactly_one_consumer(lab, r):
    threads, received = redis_memcached.consume(
        lambda: lab.redis(decode_responses=True), "test:queue", consumers=2, idle_timeout_s=0.3
    )
    for number in range(10):
        r.lpush("test:queue", f"m{number}")
    for thread in threads:
        thread.join(timeout=5)
    assert sorted(message for _, message in received) == sorted(f"m{n}" for n in range(10))


def test_pubsub_reaches_current_subscribers_only(lab, r):
    channel = f"{lab.namespace}:test-news"
    subscriber = redis_memcached.subscribe(r, channel)
    assert r.publish(channel, "hello") == 1
    assert redis_memcached.next_message(subscriber) == "hello"
    assert redis_memcached.next_message(subscriber, timeout_s=0.1) is None
    subscriber.close()


def test_memcached_reply_shows_protocol_errors(lab):
    host, port = lab.config.memcached_host, lab.config.memcached_port
    assert redis_memcached.memcached_reply(host, port, b"publish news hi") == "ERROR"
    assert redis_memcached.memcached_reply(host, port, b"touch t1:nothing 1.5").startswith("CLIENT_ERROR")


def test_restart_keeps_keys_only_with_append_only_file():
    with ThrowawayRedis(REDIS_PORTS[0], persistent=True) as durable:
        assert redis_memcached.key_survives_restart(durable)
    with ThrowawayRedis(REDIS_PORTS[1]) as volatile:
        assert not redis_memcached.key_survives_restart(volatile)
    with ThrowawayMemcached(MEMCACHED_PORTS[0]) as memcached:
        assert not redis_memcached.key_survives_restart(memcached)


def test_small_memcached_evicts_the_oldest_items():
    with ThrowawayMemcached(MEMCACHED_PORTS[1], memory_mb=2) as memcached:
        still_there = redis_memcached.fill_memcached(memcached.client(), count=60, size=100_000)
    assert 0 < len(still_there) < 60
    assert 0 not in still_there and 59 in still_there


def test_feature_table_is_built_from_probes(lab, r):
    r.set("test:string", "x")
    r.hset("test:hash", "f", "v")
    rows = redis_memcached.feature_table(
        r,
        lab.memcached(),
        {
            "Redis with AOF": True,
            "Redis without persistence": False,
            "Memcached": False,
        },
        pubsub_receivers=2,
    )
    table = dict((feature, (redis_cell, memcached_cell)) for feature, redis_cell, memcached_cell in rows)
    assert table["data types"][0] == "hash, string"
    assert table["max value size"] == ("512 MB", "1 MB")
    assert "CLIENT_ERROR" in table["TTL precision"][1]
    assert r.exists("probe:ttl", "probe:tx") == 0
    assert redis_memcached.format_table(rows).splitlines()[0].split() == ["Redis", "Memcached"]
