"""Notebook 05c's faults against real processes: a rotated broker password, a Cyrillic key, a big
task argument, a dead or hung result backend, a slow cache server.

Each test runs the fault with its protection and without, and asserts different outcomes: a test
that passed either way would not be testing the protection. Settings and faults are written here
as the notebook writes them in its cells; `cqlab.lessons.faults_05c` only stages (a delaying
proxy, a worker nobody pings, the test process's result backend).
"""

import contextlib
import os
import secrets
import signal
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, wait

import pytest
import redis
from celery.app.defaults import DEFAULTS
from django.core.cache.backends.memcached import PyMemcacheCache
from django.test import override_settings
from kombu.exceptions import OperationalError
from pymemcache.exceptions import MemcacheIllegalInputError

from catalog.caching import hashed_key
from catalog.queries import cached_product_summary
from cqlab.infra.throwaway import HOST, ThrowawayMemcached, ThrowawayRedis
from cqlab.lessons import faults, faults_05c
from cqlab.waiting import wait_until
from faults.payloads import normalize_rows, normalize_upload, save_upload
from faults.result_backend import BOUNDED_RESULT_BACKEND
from faults.results import record_fire_and_forget
from faults.tasks import charge, counts, record
from sandbox.celery import app
from sandbox.env import redis_url

CYRILLIC_KEY = "отзывы:" + "чайник-электрический-" * 6  # 133 characters, 260 bytes once prefixed
SLOW_REPLY_SECONDS = 2.0


# --- 1. A wrong or rotated broker password -------------------------------------------------------
def rotate(broker: ThrowawayRedis) -> str:
    """Give the broker a new password (as an operator would, live); return the new URL."""
    new_password = secrets.token_urlsafe(16)
    broker.client().config_set("requirepass", new_password)
    return redis_url(new_password, HOST, broker.port, 0)


def test_delay_with_the_old_password_raises_an_authentication_error_within_seconds():
    with ThrowawayRedis() as broker:
        old_password_url = broker.url()
        rotate(broker)
        with app.connection_for_write(old_password_url) as connection:
            started = time.perf_counter()
            with pytest.raises(OperationalError, match="invalid username-password pair") as refused:
                record.apply_async([faults.new_run("old-password")], connection=connection)
    assert isinstance(refused.value.__cause__, redis.exceptions.AuthenticationError)
    assert time.perf_counter() - started < 5


def test_a_rotation_spares_open_connections_and_breaks_the_next_login(lab):
    with ThrowawayRedis() as broker:
        worker = lab.start_worker("rotation", pool="solo", env={"CELERY_BROKER_URL": broker.url()})
        new_password_url = rotate(broker)
        new_password_client = redis.Redis.from_url(new_password_url)
        before, after = faults.new_run("before-blip"), faults.new_run("after-blip")
        with app.connection_for_write(new_password_url) as connection:
            record.apply_async([before], connection=connection)
            assert faults.counts_when(before, lambda c: c.get("finished"))["effect"] == 1
            new_password_client.client_kill_filter(_type="normal")  # a blip: everyone logs in again
            record.apply_async([after], connection=connection)
        worker.wait_for(lambda: worker.log_lines(r"Trying again .*\(2/100\)"), "two failed reconnections")
        assert worker.alive()
        assert new_password_client.llen("celery") == 1
        assert counts(after) == {}
        worker.stop()


def test_a_worker_with_a_refused_password_exits_only_with_a_retry_limit():
    with ThrowawayRedis() as broker:
        old_password_url = broker.url()
        rotate(broker)
        bounded = faults_05c.start_worker_unchecked(
            "bounded", old_password_url, ("--", "broker_connection_max_retries=2")
        )
        unbounded = faults_05c.start_worker_unchecked("unbounded", old_password_url)
        try:
            wait_until(lambda: not bounded.alive(), 60, "the bounded worker to give up")
            assert bounded.log_lines(r"^kombu\.exceptions\.OperationalError: invalid username-password")
            unbounded.wait_for(
                lambda: unbounded.log_lines(r"\(2/100\)"), "two retries of the unbounded worker"
            )
            assert unbounded.alive(), "without the retry limit the worker keeps retrying"
        finally:
            bounded.stop()
            unbounded.stop()


def test_the_retry_limit_also_stops_a_running_worker_after_a_rotation_and_a_blip(lab):
    with ThrowawayRedis() as broker:
        bounded = lab.start_worker(
            "bounded-running",
            pool="solo",
            env={"CELERY_BROKER_URL": broker.url()},
            extra_args=("--", "broker_connection_max_retries=2"),
        )
        redis.Redis.from_url(rotate(broker)).client_kill_filter(_type="normal")
        wait_until(lambda: not bounded.alive(), 60, "the worker to give up")
        assert bounded.log_lines(r"^kombu\.exceptions\.OperationalError: invalid username-password")


def test_without_retry_on_startup_a_worker_exits_at_once_without_naming_the_password():
    with ThrowawayRedis() as broker:
        old_password_url = broker.url()
        rotate(broker)
        worker = faults_05c.start_worker_unchecked(
            "no-retry", old_password_url, ("--", "broker_connection_retry_on_startup=false")
        )
        wait_until(lambda: not worker.alive(), 30, "the worker to exit")
    assert worker.log_lines(r"CRITICAL.*connection loss has been disabled.*Shutting down")
    assert not worker.log_lines("username-password")


# --- 2. A Cyrillic key ---------------------------------------------------------------------------
def test_a_cyrillic_key_passes_djangos_check_and_only_the_hashed_key_function_stores_it():
    with ThrowawayMemcached() as server:
        location = f"{HOST}:{server.port}"
        plain = PyMemcacheCache(location, {"KEY_PREFIX": "shop"})
        hashed = PyMemcacheCache(location, {"KEY_PREFIX": "shop", "KEY_FUNCTION": hashed_key})
        stored_key = plain.make_key(CYRILLIC_KEY)
        assert len(stored_key) <= 250 < len(stored_key.encode())
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a CacheKeyWarning would fail here
            plain.validate_key(stored_key)
        with pytest.raises(MemcacheIllegalInputError, match="too long"):
            plain.set(CYRILLIC_KEY, "42 reviews")
        hashed.set(CYRILLIC_KEY, "42 reviews")
        assert hashed.get(CYRILLIC_KEY) == "42 reviews"


# --- 3. A big task argument ----------------------------------------------------------------------
def test_passing_the_uploads_name_keeps_broker_message_and_result_small(lab):
    upload_text = "sku-000001,electric kettle,20.00\n" * 150_000  # ~5 MB
    upload_name = save_upload(f"{faults.new_run('upload')}.csv", upload_text)
    with ThrowawayRedis() as server:
        client = server.client()
        with app.connection_for_write(server.url()) as connection:
            normalize_rows.apply_async([upload_text], connection=connection, queue="parked-text")
            normalize_upload.apply_async([upload_name], connection=connection, queue="parked-name")
        assert client.memory_usage("parked-text") > 1.3 * len(upload_text)
        assert client.memory_usage("parked-name") < 2048
        env = {"CELERY_BROKER_URL": server.url(), "CELERY_RESULT_BACKEND": server.url()}
        with (
            lab.start_worker("payloads", env=env),
            app.connection_for_write(server.url()) as connection,
            faults_05c.results_at(app, server.url()),
        ):
            by_text = normalize_rows.apply_async([upload_text], connection=connection)
            by_name = normalize_upload.apply_async([upload_name], connection=connection)
            assert by_text.get(timeout=60) == upload_text.upper()
            assert by_name.get(timeout=60) == f"normalized-{upload_name}"
        assert client.memory_usage(f"celery-task-meta-{by_text.id}") >= len(upload_text)
        assert client.memory_usage(f"celery-task-meta-{by_name.id}") < 1024


# --- 4. The result backend down, the broker up ---------------------------------------------------
@pytest.fixture
def results_server_and_worker(lab):
    with ThrowawayRedis() as server:
        worker = lab.start_worker("results", env={"CELERY_RESULT_BACKEND": server.url()})
        yield server, worker
        worker.stop()


def test_a_task_runs_while_its_caller_cannot_learn_its_result(results_server_and_worker):
    server, worker = results_server_and_worker
    run = faults.new_run("results-down")
    with faults_05c.results_at(app, server.url()):
        charged = charge.delay(run, 1.0)
        faults.pid_of(run)
        server.kill()
        assert faults.counts_when(run, lambda c: c.get("finished"))["effect"] == 1
        assert faults.attempt(charged.get, timeout=5)[1] == "connection error"
        assert faults.attempt(lambda: charged.state)[1] == "connection error"
    worker.wait_for_log(r"ERROR.*Pool callback raised exception")
    server.start()
    with faults_05c.results_at(app, server.url()):
        assert app.AsyncResult(charged.id).state == "PENDING"  # for good: the result was never written


def test_only_an_ignore_result_task_is_sent_by_a_caller_without_its_result_backend(
    lab, results_server_and_worker
):
    server, _worker = results_server_and_worker
    server.kill()
    stored, fire_and_forget = faults.new_run("stored"), faults.new_run("fire-and-forget")
    with faults_05c.results_at(app, server.url()):
        started = time.perf_counter()
        with pytest.raises(RuntimeError, match="Retry limit exceeded"):
            record.apply_async([stored], queue="nobody-reads-this")
        assert time.perf_counter() - started >= 10  # the backend's retry policy: 20 retries, 1 s apart
        started = time.perf_counter()
        record_fire_and_forget.delay(fire_and_forget)
        assert time.perf_counter() - started < 1
    assert lab.redis().llen("nobody-reads-this") == 0  # nothing was sent
    assert faults.counts_when(fire_and_forget, lambda c: c.get("finished"))["effect"] == 1


# --- 5. The result backend hung, the broker up ----------------------------------------------------
@contextlib.contextmanager
def frozen(server: ThrowawayRedis):
    """SIGSTOP the server for the block (connections accepted, nothing answers); thaw it after."""
    pid = server.client().info("server")["process_id"]
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize("bounded", [False, True], ids=["celery-defaults", "bounded"])
def test_only_the_bounded_settings_free_caller_and_worker_from_a_hung_result_backend(lab, bounded):
    settings = (
        BOUNDED_RESULT_BACKEND if bounded else {name: DEFAULTS[name] for name in BOUNDED_RESULT_BACKEND}
    )
    callers = ThreadPoolExecutor()
    with ThrowawayRedis() as server:
        worker = lab.start_worker(
            "hung-results",
            env={"CELERY_RESULT_BACKEND": server.url()},
            extra_args=faults_05c.command_line_settings(settings),
        )
        with faults_05c.results_at(app, server.url(), settings):
            record.delay(faults.new_run("before-freeze")).get(timeout=30)  # both sides connected
            run = faults.new_run("results-hung")
            charged = charge.delay(run, 1.0)
            faults.pid_of(run)
            with frozen(server):
                assert faults.counts_when(run, lambda c: c.get("finished"))["effect"] == 1
                state_call = callers.submit(faults.attempt, lambda: charged.state)
                get_call = callers.submit(faults.attempt, charged.get, timeout=2)
                wait([state_call, get_call], timeout=10)
                assert state_call.done() is get_call.done() is bounded  # 120 s socket reads otherwise
                stored = faults.attempt(
                    worker.wait_for_log, rf"Pool callback raised|{charged.id}\] succeeded", timeout=30
                )
                # The defaults: still blocked storing the result. Bounded: gave up, the result is lost.
                assert stored[1] == "" if bounded else stored[1] != ""
                assert not bounded or "Pool callback raised" in stored[0]
            wait([state_call, get_call], timeout=150)
        callers.shutdown()
        worker.stop()


# --- 6. A slow cache server ----------------------------------------------------------------------
def page_through(config: dict) -> tuple[str, float]:
    """The catalogue page with `config` as the default cache: (error label or "", seconds)."""
    with override_settings(CACHES={"default": config}):
        started = time.perf_counter()
        _, error = faults.attempt(cached_product_summary)
        return error, time.perf_counter() - started


def test_only_a_socket_timeout_with_ignored_errors_serves_a_page_from_a_slow_cache(lab):
    with (
        ThrowawayRedis(password=False) as slow_redis,
        ThrowawayMemcached() as slow_memcached,
        faults_05c.DelayProxy(slow_redis.port) as redis_proxy,
        faults_05c.DelayProxy(slow_memcached.port) as memcached_proxy,
    ):
        redis_at = f"redis://{HOST}:{redis_proxy.port}"
        memcached = {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": f"{HOST}:{memcached_proxy.port}",
        }
        timeouts = {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}
        variants = {  # one database each: django-redis keeps one pool per URL per process
            "django-redis": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": f"{redis_at}/0"},
            "timeout": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": f"{redis_at}/1",
                "OPTIONS": timeouts,
            },
            "timeout, ignored": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": f"{redis_at}/2",
                "OPTIONS": {**timeouts, "IGNORE_EXCEPTIONS": True},
            },
            "pymemcache": memcached,
            "pymemcache timeout, ignored": {
                **memcached,
                "OPTIONS": {"connect_timeout": 0.5, "timeout": 0.5, "ignore_exc": True},
            },
        }
        for config in variants.values():
            assert page_through(config)[0] == ""  # cached while the servers are fast
        redis_proxy.delay = memcached_proxy.delay = SLOW_REPLY_SECONDS
        outcomes = {variant: page_through(config) for variant, config in variants.items()}
    for variant in ("django-redis", "pymemcache"):
        error, seconds = outcomes[variant]
        assert not error and seconds >= SLOW_REPLY_SECONDS, variant
    assert outcomes["timeout"][0] == "TimeoutError"
    for variant in ("timeout, ignored", "pymemcache timeout, ignored"):
        error, seconds = outcomes[variant]
        assert not error and seconds < SLOW_REPLY_SECONDS, variant


def test_two_passwords_while_clients_move_refuse_nobody(lab):
    with ThrowawayRedis() as broker:
        new_password = secrets.token_urlsafe(16)
        new_password_url = redis_url(new_password, HOST, broker.port, 0)

        def login(url: str) -> str:
            return faults.attempt(redis.Redis.from_url(url).ping)[1] or "logs in"

        broker.client().execute_command("ACL", "SETUSER", "default", f">{new_password}")
        assert (login(broker.url()), login(new_password_url)) == ("logs in", "logs in")
        redis.Redis.from_url(new_password_url).execute_command(
            "ACL", "SETUSER", "default", f"<{lab.config.redis_password}"
        )
        assert (login(broker.url()), login(new_password_url)) == ("AuthenticationError", "logs in")
