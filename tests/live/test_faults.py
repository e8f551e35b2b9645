"""Fault scenarios of notebook 05 against real processes: nothing lost, nothing doubled.

Most tests run a scenario twice, with its protection on and off, and assert different
outcomes: a test that passes either way would not be testing the protection.
"""

import os
import subprocess
import sys
import time

import pytest

from cqlab.config import LabConfig
from cqlab.errors import LabError
from cqlab.infra.probes import port_open
from cqlab.lessons import faults
from sandbox.env import REPO_ROOT


@pytest.fixture(scope="module")
def main_worker(lab):
    """One JSON-only worker on the namespace's broker, shared by the tests that need no special one."""
    with lab.start_worker("faults-main", concurrency=2) as worker:
        yield worker


# --- 11. Security defaults and the launcher -----------------------------------------------------
def test_security_defaults_hold_on_the_live_servers(lab):
    report = faults.security_defaults(lab)
    assert report.no_password == "NOAUTH"
    assert report.wrong_password == "WRONGPASS"
    assert report.redis_bind == "127.0.0.1"
    assert report.memcached_interface == "127.0.0.1"
    assert report.memcached_udp_port == 0
    assert report.reachable_from_outside == []


@pytest.mark.parametrize("variable", ["REDIS_HOST", "MEMCACHED_HOST"])
@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.2", "::"])
def test_config_refuses_hosts_beyond_loopback(monkeypatch, variable, host):
    monkeypatch.setenv(variable, host)
    with pytest.raises(LabError, match="beyond this machine"):
        LabConfig.from_env()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_config_accepts_loopback(monkeypatch, host):
    monkeypatch.setenv("REDIS_HOST", host)
    assert LabConfig.from_env().redis_host == host


def test_launcher_refuses_to_start_a_server_listening_beyond_loopback(lab):
    # Ports of this suite's throw-away range: even a broken check could not touch the shared servers.
    env = {**os.environ, "REDIS_HOST": "0.0.0.0", "REDIS_PORT": "6441", "MEMCACHED_PORT": "11441"}
    launched = subprocess.run(
        [sys.executable, "-m", "cqlab", "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO_ROOT,
    )
    assert launched.returncode == 1
    assert "would make the lab's server listen beyond this machine" in launched.stderr
    assert not port_open("127.0.0.1", 6441)


# --- 8. Memcached keys and item size -------------------------------------------------------------
def test_memcached_rejects_invalid_keys_others_warn_or_accept(lab):
    from django.core.cache import caches

    assert set(faults.invalid_key_behaviour(faults.memcached_cache()).values()) == {"raises InvalidCacheKey"}
    assert set(faults.invalid_key_behaviour(caches["locmem"]).values()) == {"warns CacheKeyWarning"}
    assert set(faults.invalid_key_behaviour(caches["django_redis"]).values()) == {"accepted silently"}


def test_hashed_key_function_round_trips_any_key(lab):
    assert faults.hashed_keys_round_trip()


def test_value_over_one_megabyte_fails_and_leaves_no_stale_value(lab):
    result = faults.too_large_value()
    assert result.error == "MemcacheServerError"
    assert result.value_after is None
    below_limit = faults.too_large_value(size=100_000)
    assert below_limit.error == "" and isinstance(below_limit.value_after, bytes)


# --- 9. Pickle offered to a JSON-only worker -----------------------------------------------------
@pytest.mark.parametrize("accept_pickle", [False, True], ids=["json-only", "pickle-accepted"])
def test_pickle_message_is_refused_not_executed(lab, accept_pickle):
    result = faults.pickle_message(lab, accept_pickle=accept_pickle)
    assert result.left_in_queue == 0
    if accept_pickle:  # protection removed: the payload runs inside the worker
        assert result.marker_created and result.task_runs == 1
        assert result.refusals_logged == 0
    else:
        assert not result.marker_created and result.task_runs == 0
        assert result.refusals_logged == 1  # refused once, not requeued in a loop


# --- 7. Cache server down ------------------------------------------------------------------------
@pytest.mark.parametrize("tolerate_outage", [True, False], ids=["ignore-exceptions", "raise"])
def test_cache_down_page_still_served_only_when_tolerated(lab, tolerate_outage):
    results = {result.backend: result for result in faults.cache_down(tolerate_outage)}
    for backend in ("django-redis", "PyMemcacheCache"):
        assert results[backend].served is tolerate_outage
        assert results[backend].connection_error is not tolerate_outage
        assert results[backend].seconds < 3
    builtin = results["Django RedisCache"]
    assert not builtin.served and builtin.error == "ConnectionError"  # it has no such switch


# --- 6. Broker down --------------------------------------------------------------------------------
def test_delay_with_broker_down_fails_fast_with_a_clear_error(lab):
    result = faults.delay_with_broker_down()
    assert result.error == "kombu.exceptions.OperationalError"
    assert result.seconds < 5


def test_delay_with_a_hung_broker_fails_instead_of_hanging(lab):
    result = faults.delay_with_broker_hung()
    assert result.error == "kombu.exceptions.OperationalError"
    assert result.seconds < 20  # publish retries x the 2 s socket timeout; forever without it


def test_worker_started_with_broker_down_connects_when_it_returns(lab):
    result = faults.worker_waits_for_broker(lab)
    assert result.retries_logged >= 1
    assert result.state == "SUCCESS"


# --- 1. Pool child killed mid-task ---------------------------------------------------------------
@pytest.mark.parametrize("guarded", [False, True], ids=["unguarded", "idempotency-key"])
@pytest.mark.parametrize("protection", list(faults.CHARGE_TASKS))
def test_child_killed(lab, main_worker, protection, guarded):
    outcome = faults.child_killed(lab, protection, guarded, worker=main_worker)
    ledger = outcome.counts
    if protection == "acks_late + reject_on_worker_lost":
        assert ledger["state"] == "SUCCESS" and ledger["started"] == 2 and ledger["finished"] == 1
        assert ledger["effect"] == (1 if guarded else 2)
    else:  # acks_late alone (or not even that): the task fails for good, it is not re-run
        assert ledger["state"] == "FAILURE" and ledger["error"] == "WorkerLostError"
        assert ledger["started"] == 1 and "finished" not in ledger


# --- 2. Whole worker stopped or killed -------------------------------------------------------------
@pytest.mark.parametrize(
    ("signal_name", "acks_late", "guarded", "lost", "effects"),
    [
        ("SIGTERM", True, False, 0, 1),  # warm shutdown: the task finishes
        ("SIGKILL", True, False, 0, 2),  # redelivered after the visibility timeout: runs again
        ("SIGKILL", True, True, 0, 1),  # ... and the idempotency key keeps the effect single
        ("SIGKILL", False, False, 1, 1),  # early ack: the message is gone with the worker
    ],
)
def test_worker_stopped(lab, signal_name, acks_late, guarded, lost, effects):
    outcome = faults.worker_stopped(lab, signal_name, acks_late, guarded)
    assert outcome.lost == lost
    assert outcome.counts.get("effect") == effects
    assert outcome.counts["left on broker"] == 0


# --- 3. Countdown longer than the visibility timeout -------------------------------------------------
@pytest.mark.parametrize("guarded", [False, True], ids=["unguarded", "idempotency-key"])
def test_long_countdown_runs_more_than_once(lab, guarded):
    outcome = faults.long_countdown(lab, guarded)
    assert outcome.counts["started"] >= 2
    assert outcome.counts["effect"] == 1 if guarded else outcome.counts["effect"] >= 2


# --- 4. Redis killed with and without AOF ----------------------------------------------------------
@pytest.mark.parametrize("persistent", [True, False], ids=["aof", "no-persistence"])
def test_redis_killed(lab, persistent):
    outcome = faults.redis_killed(lab, persistent, tasks=20)
    assert outcome.doubled == 0
    if persistent:
        assert outcome.lost == 0 and outcome.counts["cached keys after restart"] == 20
    else:
        assert outcome.lost == 20 and outcome.counts["cached keys after restart"] == 0


# --- 5. Redis restarted under a worker ------------------------------------------------------------
def test_worker_reconnects_after_redis_restart(lab):
    result = faults.redis_restarted(lab)
    assert (result.before, result.after) == ("SUCCESS", "SUCCESS")
    assert result.seconds_to_success < 20
    assert result.reconnects_logged >= 1


# --- 12. maxmemory policies ----------------------------------------------------------------------
def test_maxmemory_cache_evicts_broker_refuses(lab):
    lru = faults.maxmemory("allkeys-lru")
    assert lru.writes_refused == 0 and lru.evicted_keys > 0
    assert lru.tasks_left < lru.tasks_queued  # the queue itself was evicted: tasks lost
    guarded = faults.maxmemory("noeviction")
    assert guarded.writes_refused > 0 and guarded.evicted_keys == 0
    assert guarded.tasks_left == guarded.tasks_queued
    assert guarded.delay_error.startswith("OperationalError") and "not allowed" in guarded.delay_error
    assert lru.delay_error == ""


# --- 13. Cache stampede ----------------------------------------------------------------------------
def test_stampede_guard_recomputes_once(lab):
    unguarded, guarded = faults.stampede(False), faults.stampede(True)
    assert unguarded.recomputations >= 10
    assert guarded.recomputations == 1
    assert unguarded.served == guarded.served == 50


# --- 15. Result expiry and time limits --------------------------------------------------------------
@pytest.mark.parametrize("result_expires", [1, None], ids=["expires-1s", "default-1-day"])
def test_result_expiry_and_time_limits(lab, result_expires):
    result = faults.limits_and_expiry(lab, result_expires)
    assert result.state_at_once == "SUCCESS"
    assert result.state_later == ("PENDING" if result_expires else "SUCCESS")
    assert result.soft_limit_result == "cleaned up" and result.soft_limit_cleanup_ran
    assert (result.hard_limit_state, result.hard_limit_error) == ("FAILURE", "TimeLimitExceeded")
    assert not result.hard_limit_body_finished
    assert result.hard_limit_logged


# --- 14. Two beats -----------------------------------------------------------------------------------
def test_two_beats_double_the_sends_the_daily_guard_keeps_one_report(lab, main_worker):
    one = faults.two_beats(lab, beats=1, seconds=3, worker=main_worker)
    two = faults.two_beats(lab, beats=2, seconds=3, worker=main_worker)
    assert two.sends >= one.sends + 2
    assert two.runs == two.sends
    assert one.reports_created == two.reports_created == 1


# --- 10. Cache poisoning -------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", list(faults.POISONING_VARIANTS))
def test_cache_poisoning(lab, variant):
    started = time.monotonic()
    result = faults.cache_poisoning(lab, variant)
    assert time.monotonic() - started < 5
    if variant == "no password, pickle":  # the protection removed: the attacker's code runs
        assert result.attacker_write == "accepted" and result.marker_created
    elif variant == "password, pickle":
        assert result.attacker_write.startswith("AuthenticationError")
        assert result.victim_read == "returned 'hello'" and not result.marker_created
    else:
        assert result.attacker_write == "accepted"
        assert result.victim_read.startswith("raised") and not result.marker_created
