"""Notebook 06's scenarios on real servers: each behaviour shown beside the case without it.

Each test asserts a difference (rendezvous vs modulo, with and without WAIT, sentinel-aware vs
plain client, hash tag vs none), so it fails if the protection it shows stops working.
"""

import time
import zlib

import pytest
import redis
from celery import Celery, group
from django.core.cache.backends.memcached import PyMemcacheCache
from django.core.cache.backends.redis import RedisCache
from pymemcache.client.hash import HashClient
from pymemcache.client.rendezvous import RendezvousHash
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

from cqlab.infra.cluster import (
    MemcachedPool,
    RedisClusterNodes,
    RedisGroup,
    SentinelGroup,
    run_cli,
    wait_replica_synced,
)
from cqlab.infra.throwaway import HOST, ThrowawayMemcached
from cqlab.lessons.scaling import (
    burst_behind_a_long_task,
    miss_fraction,
    seconds_until_new_primary,
    span_seconds,
)
from cqlab.waiting import wait_until

KEYS = [f"product:{number}" for number in range(3000)]


def moved_share(node_before, node_after) -> float:
    return sum(node_before(key) != node_after(key) for key in KEYS) / len(KEYS)


# --- 1. Memcached pool ------------------------------------------------------------------------
def test_rendezvous_moves_only_the_removed_nodes_keys_modulo_moves_most():
    names = [f"127.0.0.1:{port}" for port in (41001, 41002, 41003)]
    three, two = RendezvousHash(names), RendezvousHash(names[:2])
    rendezvous = moved_share(three.get_node, two.get_node)

    def modulo(nodes):
        return lambda key: nodes[zlib.crc32(key.encode()) % len(nodes)]

    naive = moved_share(modulo(names), modulo(names[:2]))
    assert 0.25 <= rendezvous <= 0.42
    assert 0.6 <= naive <= 0.73
    assert naive >= 1.5 * rendezvous


@pytest.fixture
def pool_with_a_dead_node():
    with MemcachedPool(3) as pool:
        HashClient(pool.addresses(), connect_timeout=1, timeout=2).set_many(
            dict.fromkeys(KEYS, "cached"), noreply=False
        )
        dead_share = pool.items_per_node()[2] / len(KEYS)
        pool[2].stop()
        yield pool, dead_share


def test_a_dead_node_raises_by_default_and_misses_with_ignore_exc(pool_with_a_dead_node):
    pool, dead_share = pool_with_a_dead_node
    strict = HashClient(pool.addresses(), connect_timeout=1, timeout=2)
    with pytest.raises(OSError):
        for key in KEYS:
            strict.get(key)
    tolerant = HashClient(pool.addresses(), connect_timeout=1, timeout=2, ignore_exc=True, retry_attempts=0)
    assert miss_fraction(tolerant.get, KEYS) == dead_share


def test_django_pymemcache_needs_ignore_exc_for_a_dead_node(pool_with_a_dead_node):
    pool, _ = pool_with_a_dead_node
    default = PyMemcacheCache(pool.locations(), {})
    with pytest.raises(OSError):
        for key in KEYS[:300]:
            default.get(key)
    tolerant = PyMemcacheCache(pool.locations(), {"OPTIONS": {"ignore_exc": True, "retry_attempts": 0}})
    for key in KEYS[:300]:
        tolerant.get(key)
        tolerant.set(key, "again")
    assert all(tolerant.get(key) == "again" for key in KEYS[:300])


def test_a_pool_node_whose_port_is_taken_moves_to_a_port_of_its_own():
    with ThrowawayMemcached() as stranger:
        pool = MemcachedPool(2)
        pool.servers[0] = ThrowawayMemcached(port=stranger.port)  # as if someone took our free port
        with pool:
            assert pool[0].port != stranger.port
            assert pool.items_per_node() == [0, 0]


# --- 2. Replication ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def replicated():
    with RedisGroup(2) as servers:
        primary, replica = servers[0], servers[1]
        primary.client().config_set("repl-diskless-sync-delay", 0)
        replica.client().config_set("masterauth", servers.password)
        replica.client().replicaof(HOST, primary.port)
        wait_replica_synced(replica)
        yield servers


def test_a_replica_read_is_stale_until_wait_confirms_the_write(replicated):
    primary, replica = replicated[0], replicated[1]
    cache = RedisCache([primary.url(0), replica.url(0)], {"KEY_PREFIX": "test06"})
    cache.set("price", 100)
    writer = cache._cache.get_client(write=True)
    assert writer.wait(1, 5000) == 1
    replica.client().client_pause(10_000, all=False)
    try:
        cache.set("price", 120)
        assert cache.get("price") == 100  # stale: the replica has not applied the write
        assert writer.wait(1, 200) == 0  # WAIT says so
    finally:
        replica.client().client_unpause()
    assert writer.wait(1, 5000) == 1
    assert cache.get("price") == 120


# --- 3. Sentinel ------------------------------------------------------------------------------
def test_sentinel_clients_follow_a_failover_a_plain_client_does_not(lab, replicated):
    primary, replica = replicated[0], replicated[1]
    master = "test-primary"
    conf = (
        f"sentinel monitor {master} {HOST} {primary.port} 2",
        f"sentinel auth-pass {master} {replicated.password}",
        f"sentinel down-after-milliseconds {master} 1000",
        f"sentinel failover-timeout {master} 5000",
    )
    with SentinelGroup(conf) as sentinels:
        sentinels.wait_ready(master, replicas=1)
        password = replicated.password
        sentinel = Sentinel(
            sentinels.addresses(), sentinel_kwargs={"password": password}, password=password, socket_timeout=1
        )
        following = sentinel.master_for(master, socket_timeout=1)
        following.set("visits", 1)
        broker = ";".join(f"sentinel://:{password}@{host}:{port}" for host, port in sentinels.addresses())
        options = {"master_name": master, "sentinel_kwargs": {"password": password}}
        producer = Celery("test06-producer", set_as_current=False)
        producer.conf.update(
            broker_write_url=broker,
            broker_transport_options=options,
            task_publish_retry_policy={"max_retries": 50, "interval_step": 0.2, "interval_max": 0.2},
        )
        worker_env = {"CELERY_BROKER_URL": broker, "CELERY_BROKER_SENTINEL_MASTER": master}
        with lab.start_worker("t06-sentinel", env=worker_env, broker_transport_options=options):
            before = [producer.send_task("scaling.tasks.send_digest_email", args=[n]) for n in range(3)]
            assert [result.get(timeout=30)["worker"] for result in before] == ["t06-sentinel@lab"] * 3

            def replica_caught_up() -> bool:
                written = primary.client().info("replication")["master_repl_offset"]
                return replica.client().info("replication")["slave_repl_offset"] >= written

            wait_until(replica_caught_up, 10, "the replica to catch up")
            plain = primary.client()

            primary.kill()
            killed_at = time.monotonic()
            # Sent while no primary answers: the producer retries until the sentinels name one.
            during = [producer.send_task("scaling.tasks.send_digest_email", args=[n]) for n in range(3, 6)]
            seconds, new = seconds_until_new_primary(sentinel, master, (HOST, primary.port), since=killed_at)

            assert new == (HOST, replica.port)
            assert seconds < 30
            with pytest.raises(redis.ConnectionError):
                plain.ping()
            assert following.incr("visits") == 2
            # On the new primary, run by the worker that started before the failover.
            assert [result.get(timeout=60)["worker"] for result in during] == ["t06-sentinel@lab"] * 3


# --- 4. Cluster -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster_nodes():
    with RedisClusterNodes(3, extra_conf=("cluster-enabled yes",)) as nodes:
        run_cli(
            ["--cluster", "create", *nodes.locations(), "--cluster-replicas", "0", "--cluster-yes"],
            nodes.cli_env(),
        )
        nodes.wait_healthy()
        yield nodes


def test_hash_tags_make_multi_key_commands_legal_on_a_cluster(cluster_nodes):
    node = cluster_nodes[0].client()
    cluster = RedisCluster(host=HOST, port=cluster_nodes[0].port, password=cluster_nodes.password)
    untagged = {"user:42:profile": "a", "user:42:cart": "b"}
    with pytest.raises(redis.exceptions.ResponseError, match="same slot"):
        node.mset(untagged)
    with pytest.raises(redis.exceptions.RedisClusterException):
        cluster.mset(untagged)
    assert cluster.mset({"{user:42}:profile": "a", "{user:42}:cart": "b"})
    assert node.cluster("keyslot", "{user:42}:profile") == node.cluster("keyslot", "{user:42}:cart")


def test_a_plain_client_gets_moved_redis_cluster_does_not(cluster_nodes):
    node = cluster_nodes[0].client()
    foreign = next(f"user:{n}" for n in range(100) if node.cluster("keyslot", f"user:{n}") > 5460)
    with pytest.raises(redis.exceptions.MovedError):
        node.set(foreign, 1)
    cluster = RedisCluster(host=HOST, port=cluster_nodes[0].port, password=cluster_nodes.password)
    assert cluster.set(foreign, 1)


def test_django_redis_cache_and_celery_do_not_work_on_a_cluster(cluster_nodes):
    cache = RedisCache(cluster_nodes[0].url(0), {})
    refused = 0
    for number in range(20):
        try:
            cache.set(f"k{number}", number)
        except redis.exceptions.MovedError:
            refused += 1
    assert 0 < refused < 20
    for node in cluster_nodes:
        app = Celery("test06-cluster", set_as_current=False)
        app.conf.update(broker_write_url=node.url(0), broker_connection_retry=False)
        with pytest.raises(Exception, match="of pipeline caused error"):
            app.send_task("scaling.count", retry=False)


# --- 5. More workers --------------------------------------------------------------------------
ROUTES = {
    "scaling.tasks.send_digest_email": {"queue": "emails"},
    "scaling.tasks.build_report": {"queue": "reports"},
    "scaling.tasks.*": {"queue": "bench"},
}


@pytest.fixture
def routed(lab):
    from sandbox.celery import app

    app.conf.task_routes = ROUTES
    _rebuild_router(app)
    yield app
    app.conf.task_routes = None
    _rebuild_router(app)


def _rebuild_router(app):
    # Celery builds the router once, at a process's first send: an earlier test's send would
    # otherwise keep the routes it saw.
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)


def test_task_routes_send_each_task_to_its_queues_worker(lab, routed):
    from scaling import tasks

    with (
        lab.start_worker("t06-emails", queues=["emails"]),
        lab.start_worker("t06-reports", queues=["reports"]),
    ):
        report, email = (
            group([tasks.build_report.s(1), tasks.send_digest_email.s(1)]).apply_async().get(timeout=60)
        )
    assert report["worker"] == "t06-reports@lab"
    assert email["worker"] == "t06-emails@lab"


def test_io_bound_tasks_scale_with_processes_and_rate_limit_caps_a_worker(lab, routed):
    from scaling import tasks

    spans = {}
    for processes in (1, 4):
        with lab.start_worker(f"t06-bench-{processes}", queues=["bench"], concurrency=processes):
            spans[processes] = span_seconds(
                group([tasks.wait_on_network.s(0.3)] * 12).apply_async().get(timeout=60)
            )
            if processes == 4:
                calls = group(tasks.call_partner_api.s(n) for n in range(20)).apply_async().get(timeout=60)
    assert spans[1] >= 2 * spans[4]
    assert span_seconds(calls) >= 1.5  # 20 calls at 10/s, whatever the processes


def test_a_short_task_waits_behind_a_long_one_unless_the_long_one_acks_late(lab, routed):
    from scaling import tasks

    shorts = [tasks.send_digest_email.s(n) for n in range(6)]
    with (
        lab.start_worker("t06-idle", queues=["t06-standby"], concurrency=4),
        lab.start_worker("t06-busy-default", queues=["t06-busy-default"]) as default,
        lab.start_worker(
            "t06-busy-fair", queues=["t06-busy-fair"], extra_args=("--prefetch-multiplier=1", "-O", "fair")
        ) as fair,
    ):

        def burst(busy, long_task):
            return burst_behind_a_long_task(
                routed,
                lab.redis(),
                long_task.s(1, seconds=2),
                shorts,
                f"{busy.name}@lab",
                "t06-idle@lab",
                busy.name,
            )

        rounds = [
            burst(default, tasks.build_report),
            burst(fair, tasks.build_report),
            burst(fair, tasks.rebuild_search_index),
        ]
    assert [stage["prefetch_count"] for stage in rounds] == [4, 1, 1]
    # 1 process x 4; early ack frees the long task's slot; acks_late keeps it taken.
    assert [stage["short_held"] for stage in rounds] == [4, 1, 0]
    for stage in rounds:
        long_run, *short_runs = stage["runs"]
        on_busy = [run for run in short_runs if run["worker"] == long_run["worker"]]
        assert len(on_busy) >= stage["short_held"]
        assert all(run["started"] >= long_run["finished"] for run in on_busy)  # they waited


def test_autoscale_grows_the_pool_under_a_burst_and_shrinks_it_after_the_keepalive(lab, routed):
    from scaling import tasks

    node = "t06-autoscale@lab"

    def pool_processes() -> int:
        return len(routed.control.inspect([node], timeout=5).stats()[node]["pool"]["processes"])

    with lab.start_worker(
        "t06-autoscale",
        queues=["t06-autoscale"],
        extra_args=("--autoscale=4,1",),
        env={"AUTOSCALE_KEEPALIVE": "2"},
    ):
        assert pool_processes() == 1
        burst = group([tasks.wait_on_network.s(0.5)] * 12).apply_async(queue="t06-autoscale")
        grown = wait_until(lambda: (size := pool_processes()) > 1 and size, 30, "the pool to grow")
        burst.get(timeout=60)
        assert 1 < grown <= 4
        wait_until(lambda: pool_processes() == 1, 30, "the pool to shrink back")
