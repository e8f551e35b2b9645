"""Fault scenarios of notebooks 05a and 05b against real processes: nothing lost, nothing doubled.

Each test runs a scenario with its protection on and off, and asserts different outcomes: a
test that passes either way would not be testing the protection. The protections and the faults
are written here as the notebooks write them in their cells (task options in `faults.tasks`,
worker settings after `--`, server config lines, `os.kill`); `cqlab.lessons.faults` only counts
and waits.
"""

import json
import os
import pickle
import signal
import time
from pathlib import Path

import psutil
import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings
from django.utils.module_loading import import_string
from redis.backoff import NoBackoff
from redis.retry import Retry

from catalog.queries import cached_product_summary
from cqlab.infra.processes import BoundProcess, celery_command
from cqlab.infra.throwaway import HOST, ThrowawayMemcached, ThrowawayRedis
from cqlab.lessons import faults
from cqlab.paths import MARKER_DIR, process_log
from cqlab.waiting import wait_until
from faults.tasks import (
    charge,
    charge_acks_late,
    charge_requeued_on_loss,
    counts,
    ignores_soft_limit,
    record,
    with_cleanup,
)
from sandbox.celery import app

REDELIVERY = {"visibility_timeout": 4, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
REDELIVERY_ARGS = ("--", "broker_transport_options=(json)" + json.dumps(REDELIVERY))
REFUSAL = r"ERROR.*Received invalid task message: Refusing to deserialize"


class TouchOnUnpickle:
    """Unpickling this object creates a file (notebook 05a's attacker object, section 3)."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def new_marker(lab) -> Path:
    MARKER_DIR.mkdir(parents=True, exist_ok=True)
    return MARKER_DIR / faults.new_run(lab.namespace)


def on(broker: ThrowawayRedis) -> dict:
    """A worker's environment for a throw-away broker; results and the ledger stay in the lab's Redis."""
    return {"CELERY_BROKER_URL": broker.url()}


@pytest.fixture(scope="module")
def main_worker(lab):
    """One JSON-only worker on the namespace's broker, shared by the tests that need no special one."""
    with lab.start_worker("faults-main", concurrency=2) as worker:
        yield worker


@pytest.fixture(scope="module")
def broker():
    """A throw-away broker shared by the redelivery tests (each starts and kills its own workers)."""
    with ThrowawayRedis() as server:
        yield server


@pytest.fixture
def connection(broker):
    with app.connection_for_write(broker.url()) as connection:
        yield connection


# --- 1. Security defaults (the launcher's refusals: tests/live/test_services.py, tests/unit) ---
@pytest.mark.parametrize("password", [None, "not-the-password"])
def test_redis_refuses_a_client_without_the_password(lab, password):
    stranger = redis.Redis(unix_socket_path=str(lab.config.redis_socket), password=password, protocol=2)
    assert faults.attempt(stranger.ping) == (None, "AuthenticationError")
    assert faults.attempt(lab.redis().ping) == (True, "")


def test_servers_listen_on_owner_only_sockets_and_no_port(lab):
    """Notebook 05a, section 1 (tests/live/test_sockets.py checks the same from the file system)."""
    assert lab.redis().config_get("port", "unixsocketperm") == {"port": "0", "unixsocketperm": "600"}
    memcached_settings = lab.memcached().stats("settings")
    assert memcached_settings[b"umask"] == 0o600 and int(memcached_settings[b"udpport"]) == 0
    for pid in (lab.redis().info("server")["process_id"], int(lab.memcached().stats()[b"pid"])):
        assert psutil.Process(pid).net_connections(kind="inet") == []


# --- 2. A value over 1 MB ---
def test_value_over_one_megabyte_raises_and_memcached_drops_the_old_value(lab):
    cache, raw = caches["memcached"], lab.memcached()
    cache.set("report", "old, small value")
    assert faults.attempt(cache.set, "report", os.urandom(2 * 1024 * 1024))[1] == "MemcacheServerError"
    assert cache.get("report") is None
    raw.set("report", b"old, small value")
    assert (
        faults.attempt(raw.set, "report", os.urandom(2 * 1024 * 1024), noreply=False)[1]
        == "MemcacheServerError"
    )
    assert raw.get("report") is None  # dropped by Memcached itself: Django's delete never ran
    below_limit = os.urandom(100_000)
    cache.set("report", below_limit)
    assert cache.get("report") == below_limit


# --- 3. Pickle: offered to a worker, written into a cache ---
@pytest.mark.parametrize("accept_pickle", [False, True], ids=["json-only", "pickle-accepted"])
def test_pickle_message_is_refused_not_executed(lab, accept_pickle):
    queue, run, marker = f"pickle-{accept_pickle}", faults.new_run("pickle"), new_marker(lab)
    accept = ["json", "pickle"] if accept_pickle else list(settings.CELERY_ACCEPT_CONTENT)
    # Celery refuses to run a pickle-accepting worker as root unless forced: one more guard.
    env = {"C_FORCE_ROOT": "1"} if accept_pickle else {}
    args = ("--", "accept_content=(json)" + json.dumps(accept))
    with lab.start_worker(f"pickle-{accept_pickle}", queues=[queue], env=env, extra_args=args) as worker:
        record.apply_async([run, TouchOnUnpickle(marker)], serializer="pickle", queue=queue)
        if accept_pickle:  # protection removed: the payload runs inside the worker
            ledger = faults.counts_when(run, lambda ledger: ledger.get("finished"))
            assert ledger == {"started": 1, "effect": 1, "finished": 1}
            assert marker.exists() and not worker.log_lines(REFUSAL)
        else:
            worker.wait_for_log(REFUSAL)
            assert not marker.exists() and counts(run) == {}
        # Dropped, not requeued: nothing left that could come back in a loop. The worker logs its
        # refusal before it rejects the message, and acks an accepted one from its main process
        # while the pool child runs it: wait for the drop (a requeue loop would log a 2nd refusal).
        wait_until(lambda: faults.on_broker(lab.redis(), queue) == 0, 10, "the message to leave the broker")
    assert len(worker.log_lines(REFUSAL)) == (0 if accept_pickle else 1)
    marker.unlink(missing_ok=True)


POISONING_VARIANTS = {
    "no password, pickle": (False, "django.core.cache.backends.redis.RedisCache", {}),
    "password, pickle": (True, "django.core.cache.backends.redis.RedisCache", {}),
    "no password, JSON serializer": (
        False,
        "django_redis.cache.RedisCache",
        {"SERIALIZER": "django_redis.serializers.json.JSONSerializer"},
    ),
}


@pytest.mark.parametrize("variant", list(POISONING_VARIANTS))
def test_cache_poisoning(lab, variant):
    password, backend, options = POISONING_VARIANTS[variant]
    marker = new_marker(lab)
    started = time.monotonic()
    with ThrowawayRedis(password=password) as server:
        cache = import_string(backend)(server.url(), {"KEY_PREFIX": "shop", "OPTIONS": options})
        cache.set("greeting", "hello")
        attacker = redis.Redis(host=HOST, port=server.port, protocol=2, retry=Retry(NoBackoff(), 0))
        _, refused = faults.attempt(
            attacker.set, cache.make_key("greeting"), pickle.dumps(TouchOnUnpickle(marker))
        )
        value, error = faults.attempt(cache.get, "greeting")
    assert time.monotonic() - started < 5
    if variant == "no password, pickle":  # the protection removed: the attacker's code runs
        assert (refused, value, error, marker.exists()) == ("", None, "", True)
    elif variant == "password, pickle":
        assert (refused, value, error, marker.exists()) == ("AuthenticationError", "hello", "", False)
    else:
        assert (refused, error, marker.exists()) == ("", "UnicodeDecodeError", False)
    marker.unlink(missing_ok=True)


# --- 4. Cache server down ---
def test_cache_down_page_still_served_only_when_tolerated(lab):
    redis_server, memcached_server = ThrowawayRedis().start(), ThrowawayMemcached().start()
    django_redis = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_server.url()}
    pymemcache = {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": f"{HOST}:{memcached_server.port}",
    }
    redis_timeouts = {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}
    variants = {  # variant: (CACHES entry, the page is served with the server down)
        "django-redis tolerant": (
            {**django_redis, "OPTIONS": {"IGNORE_EXCEPTIONS": True, **redis_timeouts}},
            True,
        ),
        "django-redis": ({**django_redis, "OPTIONS": redis_timeouts}, False),
        "built-in": (
            {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_server.url(),
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            },
            False,
        ),
        "pymemcache tolerant": ({**pymemcache, "OPTIONS": {"ignore_exc": True, "connect_timeout": 1}}, True),
        "pymemcache": ({**pymemcache, "OPTIONS": {"connect_timeout": 1, "timeout": 1}}, False),
    }
    for config, _ in variants.values():
        with override_settings(CACHES={"default": config}):
            cached_product_summary()
    redis_server.kill()
    memcached_server.kill()
    for variant, (config, served) in variants.items():
        with override_settings(CACHES={"default": config}):
            started = time.perf_counter()
            page, error = faults.attempt(cached_product_summary)
            assert time.perf_counter() - started < 3, variant
        assert (error, page is not None) == (("", True) if served else ("connection error", False)), variant


# --- 5. Broker down ---
def test_delay_with_broker_down_fails_fast_with_a_clear_error(lab):
    with app.connection_for_write(ThrowawayRedis().url()) as connection:  # never started
        started = time.perf_counter()
        _, error = faults.attempt(record.apply_async, [faults.new_run("down")], connection=connection)
    assert error == "OperationalError"
    assert 0.6 <= time.perf_counter() - started < 5  # 0.6 s: the retry policy's waits (0 + 0.2 + 0.4)


def test_delay_with_a_hung_broker_fails_instead_of_hanging(lab):
    with ThrowawayRedis() as hung, app.connection_for_write(hung.url()) as connection:
        redis_pid = hung.client().info("server")["process_id"]
        os.kill(redis_pid, signal.SIGSTOP)
        started = time.perf_counter()
        try:
            _, error = faults.attempt(record.apply_async, [faults.new_run("hung")], connection=connection)
        finally:
            os.kill(redis_pid, signal.SIGCONT)
    assert error == "OperationalError"
    assert time.perf_counter() - started < 20  # publish retries x the 2 s socket timeout; forever without it


def test_worker_started_with_broker_down_connects_when_it_returns(lab):
    server = ThrowawayRedis()  # not started yet: the worker cannot answer a ping, so no start_worker
    command = celery_command("worker", "-n", "waiting@lab", "--loglevel=info", "--without-mingle")
    with BoundProcess("waiting", command, process_log("waiting"), env=on(server)) as worker:
        worker.wait_for_log(r"Cannot connect to redis")
        server.start()
        try:
            worker.wait_for_log(r"waiting@lab ready\.")
            with app.connection_for_write(server.url()) as connection:
                result = record.apply_async([faults.new_run("waiting")], connection=connection)
                assert faults.final_state(result) == "SUCCESS"
        finally:
            worker.stop()  # before the broker: a worker losing its broker retries while stopping
            server.stop()


# --- 6. Pool child killed mid-task ---
def kill_child_mid_charge(task, guarded):
    """Notebook 05b's section 1: SIGKILL the pool child after the charge, before it returns."""
    run = faults.new_run(task.name)
    result = task.apply_async([run, 2.0, guarded])
    faults.counts_when(run, lambda ledger: ledger.get("effect"))
    os.kill(faults.pid_of(run), signal.SIGKILL)
    return faults.final_state(result), counts(run)


@pytest.mark.parametrize("guarded", [False, True], ids=["unguarded", "idempotency-key"])
@pytest.mark.parametrize(
    "task", [charge, charge_acks_late, charge_requeued_on_loss], ids=lambda task: task.name
)
def test_child_killed(lab, main_worker, task, guarded):
    state, ledger = kill_child_mid_charge(task, guarded)
    if task.reject_on_worker_lost:
        assert state == "SUCCESS"
        assert ledger == {"started": 2, "effect": 1 if guarded else 2, "finished": 1}
    else:  # acks_late alone (or not even that): the task fails for good, it is not re-run
        assert state == "FAILURE"
        assert ledger == {"started": 1, "effect": 1}


# --- 7. Whole worker stopped or killed ---
def test_worker_stopped_with_sigterm_finishes_its_task(lab, broker, connection):
    run = faults.new_run("sigterm")
    with lab.start_worker("first", pool="solo", env=on(broker), extra_args=REDELIVERY_ARGS) as first:
        charge_acks_late.apply_async([run, 1.0], connection=connection)
        os.kill(faults.pid_of(run), signal.SIGTERM)
        first.wait_for(lambda: not first.alive(), "the worker to exit")
    assert counts(run) == {"started": 1, "effect": 1, "finished": 1}
    assert faults.on_broker(broker.client()) == 0


@pytest.mark.parametrize(
    ("task", "guarded", "effects"),
    [
        (charge_acks_late, False, 2),  # redelivered after the visibility timeout: charged again
        (charge_acks_late, True, 1),  # ... and the idempotency key keeps the charge single
        (charge, False, None),  # early ack: the message is gone with the worker
    ],
    ids=["acks-late", "acks-late-idempotency-key", "early-ack"],
)
def test_worker_killed(lab, broker, connection, task, guarded, effects):
    run = faults.new_run("sigkill")
    with lab.start_worker("first", env=on(broker), extra_args=REDELIVERY_ARGS) as first:
        task.apply_async([run, 1.0, guarded], connection=connection)
        faults.counts_when(run, lambda ledger: ledger.get("effect"))
        if not task.acks_late:  # the worker has acknowledged the message it runs
            wait_until(lambda: faults.on_broker(broker.client()) == 0, 10, "the early ack")
        os.killpg(first.pid, signal.SIGKILL)
    if effects is None:  # nothing left anywhere to redeliver: lost for good
        assert faults.on_broker(broker.client()) == 0
        assert counts(run) == {"started": 1, "effect": 1}
        return
    assert faults.on_broker(broker.client()) == 1  # waiting in `unacked` for the visibility timeout
    with lab.start_worker("second", env=on(broker), extra_args=REDELIVERY_ARGS):
        ledger = faults.counts_when(run, lambda ledger: ledger.get("finished"))
        wait_until(lambda: faults.on_broker(broker.client()) == 0, 10, "the broker to empty")
    assert ledger == {"started": 2, "effect": effects, "finished": 1}


# --- 8. Countdown longer than the visibility timeout ---
@pytest.mark.parametrize("guarded", [False, True], ids=["unguarded", "idempotency-key"])
def test_long_countdown_runs_more_than_once(lab, broker, connection, guarded):
    run = faults.new_run("countdown")
    with lab.start_worker("eta", env=on(broker), extra_args=REDELIVERY_ARGS):
        record.apply_async([run, guarded], countdown=8, connection=connection)
        ledger = faults.counts_when(run, lambda ledger: ledger.get("finished", 0) >= 2)
    assert ledger["started"] >= 2
    assert ledger["effect"] == 1 if guarded else ledger["effect"] >= 2


# --- 9. Redis killed with and without AOF ---
@pytest.mark.parametrize("persistent", [True, False], ids=["aof", "no-persistence"])
def test_redis_killed(lab, persistent):
    runs = [faults.new_run("crash") for _ in range(20)]
    with ThrowawayRedis(persistent=persistent) as server:
        with app.connection_for_write(server.url()) as connection:
            for run in runs:
                record.apply_async([run], connection=connection)
        server.client(db=1).mset({f"cached:{n}": "value" for n in range(20)})
        server.restart(kill=True)
        queued, cached = server.client().llen("celery"), server.client(db=1).dbsize()
        if persistent:
            with lab.start_worker("after-crash", env=on(server)):
                ran = [faults.counts_when(run, lambda ledger: ledger.get("finished")) for run in runs]
                wait_until(lambda: faults.on_broker(server.client()) == 0, 20, "the queue to drain")
        else:
            ran = [counts(run) for run in runs]
    if persistent:
        assert (queued, cached) == (20, 20)
        assert all(ledger == {"started": 1, "effect": 1, "finished": 1} for ledger in ran)
    else:
        assert (queued, cached) == (0, 0)
        assert all(ledger == {} for ledger in ran)


# --- 10. Redis restarted under a worker ---
def test_worker_reconnects_after_redis_restart(lab):
    with ThrowawayRedis() as server, lab.start_worker("reconnecting", env=on(server)) as worker:
        with app.connection_for_write(server.url()) as connection:
            assert (
                faults.final_state(record.apply_async([faults.new_run("before")], connection=connection))
                == "SUCCESS"
            )
        server.restart()
        with app.connection_for_write(server.url()) as connection:
            after = record.apply_async([faults.new_run("after")], connection=connection)
            assert faults.final_state(after, timeout=20) == "SUCCESS"
        assert worker.wait_for_log("Connection to broker lost")


# --- 11. maxmemory policies ---
def fill_broker(policy: str, tasks: int = 50) -> dict:
    with (
        ThrowawayRedis(extra_conf=("maxmemory 2mb", f"maxmemory-policy {policy}")) as server,
        app.connection_for_write(server.url()) as connection,
    ):
        for _ in range(tasks):
            record.apply_async([faults.new_run("queued")], connection=connection)
        client = server.client()
        wait_until(lambda: client.object("idletime", "celery") >= 2, 10, "the queue to sit idle")
        accepted, refused = faults.fill(client, "cache", size=10_000, count=900)
        tasks_left = client.llen("celery")
        faults.fill(client, "small", size=100, count=200)
        # Memory freed after the fill (a client's buffer shrinking) can fit one more task: a full server
        # refuses the next one. Under allkeys-lru every late task is accepted.
        for _ in range(10):
            late = [faults.new_run("late")]
            _, delay_error = faults.attempt(record.apply_async, late, connection=connection)
            if delay_error:
                break
        evicted = client.info("stats")["evicted_keys"]
    return {"lost": tasks - tasks_left, "refused": refused, "evicted": evicted, "delay_error": delay_error}


def test_maxmemory_cache_evicts_broker_refuses(lab):
    lru, guarded = fill_broker("allkeys-lru"), fill_broker("noeviction")
    assert lru["refused"] == 0 and lru["evicted"] > 0 and lru["lost"] > 0  # the queue itself was evicted
    assert lru["delay_error"] == ""
    assert guarded["refused"] > 0 and guarded["evicted"] == 0 and guarded["lost"] == 0
    assert guarded["delay_error"] == "OperationalError"


# --- 12. Result expiry and time limits ---
@pytest.mark.parametrize("result_expires", [1, None], ids=["expires-1s", "default-1-day"])
def test_result_expiry_and_time_limits(lab, result_expires):
    args = ("--", f"result_expires={result_expires}") if result_expires else ()
    queue = f"limits-{result_expires}"  # its own queue: the module's worker keeps results for a day
    with lab.start_worker(f"limits-{result_expires}", queues=[queue], extra_args=args) as worker:
        done = record.apply_async([faults.new_run("expiry")], queue=queue)
        assert faults.final_state(done) == "SUCCESS"
        soft_run, hard_run = faults.new_run("soft"), faults.new_run("hard")
        soft = with_cleanup.apply_async([soft_run, 3], queue=queue)
        assert (faults.final_state(soft), soft.result) == ("SUCCESS", "cleaned up")
        assert counts(soft_run) == {"started": 1, "cleanup": 1}
        hard = ignores_soft_limit.apply_async([hard_run, 5], queue=queue)
        assert (faults.final_state(hard), type(hard.result).__name__) == ("FAILURE", "TimeLimitExceeded")
        assert "finished" not in counts(hard_run)
        assert worker.wait_for_log(r"Hard time limit \(1s\) exceeded for faults\.tasks\.ignores_soft_limit")
    status = lambda: app.backend.get_task_meta(done.id, cache=False)["status"]  # noqa: E731
    if result_expires:
        assert wait_until(lambda: status() == "PENDING", 10, "the result to expire")
    else:
        time.sleep(2)  # twice as long as the other variant's expiry: the default keeps it a day
        assert status() == "SUCCESS"
