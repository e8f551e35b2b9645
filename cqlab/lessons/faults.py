"""Fault scenarios of notebook 05, shared with tests/test_faults.py.

Each scenario sets itself up (throw-away servers on ports 6441-6449 / 11441-11449, Celery
workers), injects one fault, and returns an `Outcome`: what the ledger of `faults.tasks`
counted, how many effects were lost or doubled, and what protected them (or not).
Nothing here touches the shared Redis or Memcached beyond the lab's own namespace.
"""

import contextlib
import hashlib
import os
import pickle
import signal
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis
from celery import Celery
from pymemcache.exceptions import MemcacheUnexpectedCloseError
from redis.backoff import NoBackoff
from redis.retry import Retry

from cqlab.infra.probes import port_open
from cqlab.infra.processes import BoundProcess, celery_command, start_worker
from cqlab.infra.processes import start_beat as start_beat_process
from cqlab.infra.throwaway import HOST, ThrowawayMemcached, ThrowawayRedis
from cqlab.paths import LOG_DIR, MARKER_DIR
from faults.tasks import counts

# Throw-away ports of this notebook (other notebooks use other ranges).
PORTS = {
    "redelivery": 6441,
    "countdown": 6442,
    "durability": 6443,
    "restart": 6444,
    "broker_down": 6445,
    "cache_down": 6446,
    "poisoning": 6447,
    "maxmemory": 6448,
    "beat": 6449,
    "memcached_down": 11446,
}


@dataclass(frozen=True)
class Outcome:
    """What one run of a scenario measured."""

    scenario: str
    protection: str  # what was switched on ("none" for the unprotected variant)
    lost: int  # side effects that should have happened and did not
    doubled: int  # side effects that happened more than once (extra runs)
    protected: bool  # the full protection was on (the expectation: nothing lost, nothing doubled)
    counts: dict = field(default_factory=dict)  # the ledger and other raw measurements
    note: str = ""  # one more measured fact worth a column

    def row(self) -> tuple[str, ...]:
        return (self.scenario, self.protection, str(self.lost), str(self.doubled), self.note)


def new_run(label: str) -> str:
    """A fresh ledger key per scenario run, so reruns never read an earlier run's counts."""
    return f"{label}-{uuid.uuid4().hex[:8]}"


def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.05):
    """Poll `condition` until it returns something truthy; return it (or the last falsy value)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(interval)
    return value


def summary_table(outcomes: list[Outcome]) -> str:
    """A Markdown table of outcomes: scenario, protection, lost, doubled."""
    lines = ["| scenario | protection | lost | doubled | also measured |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(outcome.row()) + " |" for outcome in outcomes]
    return "\n".join(lines)


# --- 11. Security defaults, checked live -------------------------------------------------------
def redis_reply(port: int, *commands: str, host: str = HOST) -> list[str]:
    """First line of Redis's reply to each raw RESP command, on one fresh connection."""
    replies = []
    with socket.create_connection((host, port), timeout=2) as connection:
        stream = connection.makefile("rb")
        for command in commands:
            words = command.split()
            connection.sendall(
                f"*{len(words)}\r\n".encode() + b"".join(f"${len(w)}\r\n{w}\r\n".encode() for w in words)
            )
            replies.append(stream.readline().decode().strip())
    return replies


def outside_addresses() -> list[str]:
    """This machine's addresses that are not loopback (where a stranger could connect)."""
    return sorted(
        address.address
        for addresses in psutil.net_if_addrs().values()
        for address in addresses
        if address.family in (socket.AF_INET, socket.AF_INET6)
        and not address.address.startswith(("127.", "::1"))
        and "%" not in address.address  # link-local with a zone: not reachable from outside
    )


@dataclass(frozen=True)
class SecurityReport:
    no_password: str  # Redis's answer to a command without AUTH
    wrong_password: str  # ... to AUTH with a wrong password
    redis_bind: str
    memcached_interface: str
    memcached_udp_port: int
    reachable_from_outside: list[str]  # "address:port" pairs that answered; must be empty


def security_defaults(lab) -> SecurityReport:
    config = lab.config
    no_password = redis_reply(config.redis_port, "PING")[0]
    wrong_password = redis_reply(config.redis_port, "AUTH not-the-password")[0]
    bind = lab.redis().config_get("bind")["bind"]
    settings = lab.memcached().stats("settings")
    exposed = [
        f"{address}:{port}"
        for address in outside_addresses()
        for port in (config.redis_port, config.memcached_port)
        if port_open(address, port, timeout=1)
    ]
    return SecurityReport(
        no_password=no_password.split()[0].lstrip("-"),
        wrong_password=wrong_password.split()[0].lstrip("-"),
        redis_bind=bind,
        memcached_interface=settings[b"inter"].decode(),
        memcached_udp_port=int(settings[b"udpport"]),
        reachable_from_outside=exposed,
    )


# --- 8. Memcached's key rules and 1 MB item limit ----------------------------------------------
BAD_KEYS = {
    "space": "user 42",
    "251 characters": "k" * 251,
    "control character": "user\n42",
}


def hashed_key(key: str, key_prefix: str, version: int) -> str:
    """A KEY_FUNCTION that makes any key memcached-safe: short, no spaces, no control bytes."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key_prefix}:{version}:{digest}"


def memcached_cache(**params):
    """A PyMemcacheCache on the shared Memcached, inside this namespace's key prefix."""
    from django.conf import settings
    from django.core.cache.backends.memcached import PyMemcacheCache

    base = settings.CACHES["memcached"]
    return PyMemcacheCache(base["LOCATION"], {"KEY_PREFIX": base["KEY_PREFIX"] + ".faults", **params})


def invalid_key_behaviour(cache) -> dict[str, str]:
    """For each bad key: the exception class a `set` raised, or the warning class it gave."""
    seen = {}
    for label, key in BAD_KEYS.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                cache.set(key, "value")
            except Exception as error:  # the class is what we want to show
                seen[label] = f"raises {type(error).__name__}"
                continue
        seen[label] = f"warns {caught[0].category.__name__}" if caught else "accepted silently"
    return seen


def hashed_keys_round_trip() -> bool:
    cache = memcached_cache(KEY_FUNCTION=hashed_key)
    for key in BAD_KEYS.values():
        cache.set(key, f"value of {key!r}")
    return all(cache.get(key) == f"value of {key!r}" for key in BAD_KEYS.values())


@dataclass(frozen=True)
class TooLargeResult:
    error: str  # what the failed write raised ("" when it did not raise)
    value_after: object  # what a read returns afterwards: None, never the stale old value


def too_large_value(size: int = 2 * 1024 * 1024) -> TooLargeResult:
    """Store a small value, then overwrite it with one above memcached's 1 MB item limit."""
    cache = memcached_cache()
    cache.set("report", "old, small value")
    error = ""
    try:
        cache.set("report", os.urandom(size))  # random: pickling cannot shrink it
    except Exception as exc:  # the class is what we want to show
        error = type(exc).__name__
    return TooLargeResult(error, cache.get("report"))


# --- Celery helpers: a producer for any broker, workers bound to a scenario ----------------------
class Producer:
    """Sends tasks to the broker at `url` (default: this namespace's) and reads their results.

    A separate Celery app configured like the sandbox (JSON only, 2 s connect timeouts) unless
    `conf` overrides it. The URL goes in an explicit connection and result backend: Celery
    lets the CELERY_BROKER_URL environment variable (set by the lab) win over any app setting.
    The sandbox's own app stays untouched, so nothing leaks into later cells.
    """

    def __init__(self, url: str | None = None, **conf):
        from celery.backends.redis import RedisBackend
        from django.conf import settings

        url = url or settings.CELERY_BROKER_URL
        self.app = Celery(f"producer-{uuid.uuid4().hex[:6]}", set_as_current=False)
        self.app.conf.update(
            {
                "task_serializer": "json",
                "accept_content": ["json"],
                "result_accept_content": ["json"],
                "broker_connection_timeout": settings.CELERY_BROKER_CONNECTION_TIMEOUT,
                "broker_transport_options": dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS),
                **conf,
            }
        )
        self.connection = self.app.connection_for_write(url)
        self.backend = RedisBackend(app=self.app, url=url)

    def send(self, name: str, args: tuple | list = (), **options):
        """Like `.apply_async()`: publish the task, return its AsyncResult."""
        sent = self.app.send_task(name, args, connection=self.connection, **options)
        return self.app.AsyncResult(sent.id, backend=self.backend)

    def close(self) -> None:
        self.connection.release()
        self.app.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def broker_env(server: ThrowawayRedis, db: int = 0) -> dict[str, str]:
    """Environment pointing a worker's broker and result backend at a throw-away Redis."""
    url = server.url(db)
    return {"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url}


def worker_config(**options) -> tuple[str, ...]:
    """Celery settings for a worker's command line (`-- key=(json)value`), e.g. transport options."""
    import json

    return ("--", *(f"{key}=(json){json.dumps(value)}" for key, value in options.items()))


def fast_redelivery(visibility_timeout: float) -> dict:
    """Transport options: redeliver unacked messages after `visibility_timeout` s, checked every 1 s."""
    return {
        "broker_transport_options": {
            "socket_connect_timeout": 2,
            "visibility_timeout": visibility_timeout,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        }
    }


def kill_worker(worker: BoundProcess) -> None:
    """SIGKILL the whole worker (main process and pool children) at once: a cold crash."""
    os.killpg(worker.pid, signal.SIGKILL)
    worker.popen.wait()
    worker.stop()


# --- 9. A pickle message offered to the JSON-only worker ---------------------------------------
class TouchOnUnpickle:
    """Unpickling this object creates a file: a stand-in for `os.system(...)` in a real attack."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


REFUSAL = r"ERROR.*Received invalid task message: Refusing to deserialize"


@dataclass(frozen=True)
class PickleResult:
    marker_created: bool  # the payload ran inside the worker
    task_runs: int  # the task body ran (ledger)
    refusals_logged: int  # "Refusing to deserialize" lines in the worker's log
    left_in_queue: int  # the message was dropped, not requeued in a loop

    def outcome(self) -> Outcome:
        protection = "accept_content json + pickle" if self.marker_created else "accept_content = ['json']"
        note = f"attacker's code ran: {self.marker_created}"
        return Outcome("pickle message to a worker", protection, 0, 0, not self.marker_created, note=note)


def pickle_message(lab, accept_pickle: bool = False, worker: BoundProcess | None = None) -> PickleResult:
    """Send a pickle-serialized task whose arguments run code when unpickled."""
    MARKER_DIR.mkdir(parents=True, exist_ok=True)
    run = new_run("pickle")
    marker = MARKER_DIR / f"{lab.namespace}-{run}"
    accept = ["json", "pickle"] if accept_pickle else ["json"]
    name = "pickle-accepting" if accept_pickle else "json-only"
    # Celery refuses to run a pickle-accepting worker as root unless forced: one more guard.
    env = {"C_FORCE_ROOT": "1"} if accept_pickle and os.geteuid() == 0 else {}
    queue = "celery" if worker else "pickle"  # its own queue unless a given worker should get it
    with contextlib.ExitStack() as stack:
        worker = worker or stack.enter_context(
            start_worker(name, queues=[queue], env=env, extra_args=worker_config(accept_content=accept))
        )
        refusals_before = len(worker.log_lines(REFUSAL))
        with Producer(task_serializer="pickle", accept_content=["json", "pickle"]) as sender:
            sender.send("faults.tasks.record", [run, TouchOnUnpickle(marker)], queue=queue)
        wait_until(lambda: counts(run) or len(worker.log_lines(REFUSAL)) > refusals_before, 10)
        time.sleep(1)  # long enough for a requeued message to come back and be refused again
        result = PickleResult(
            marker_created=marker.exists(),
            task_runs=counts(run).get("started", 0),
            refusals_logged=len(worker.log_lines(REFUSAL)) - refusals_before,
            left_in_queue=lab.redis().llen(queue),
        )
    marker.unlink(missing_ok=True)
    return result


# --- 7. The cache server goes down -------------------------------------------------------------
CACHE_BACKENDS = {
    "django-redis": "django_redis.cache.RedisCache",
    "Django RedisCache": "django.core.cache.backends.redis.RedisCache",
    "PyMemcacheCache": "django.core.cache.backends.memcached.PyMemcacheCache",
}


def cache_for(backend: str, location: str, tolerate_outage: bool):
    """A cache of `backend`, with its own switch for surviving an outage on or off."""
    from django.utils.module_loading import import_string

    if backend == "django-redis":
        options = {"IGNORE_EXCEPTIONS": tolerate_outage, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}
    elif backend == "PyMemcacheCache":
        options = {"ignore_exc": tolerate_outage, "connect_timeout": 1, "timeout": 1}
    else:  # Django's built-in RedisCache has no such switch
        options = {"socket_connect_timeout": 1, "socket_timeout": 1}
    return import_string(CACHE_BACKENDS[backend])(location, {"KEY_PREFIX": "faults", "OPTIONS": options})


CONNECTION_ERRORS = (redis.exceptions.ConnectionError, ConnectionError, MemcacheUnexpectedCloseError)


def serve_page(cache) -> dict:
    """The catalogue page's cache-aside read: the cache first, the (slow) database on a miss."""
    from catalog.queries import SUMMARY_KEY, product_summary

    summary = cache.get(SUMMARY_KEY)
    if summary is None:
        summary = product_summary()
        cache.set(SUMMARY_KEY, summary, 60)
    return summary


@dataclass(frozen=True)
class CacheDownResult:
    backend: str
    tolerate_outage: bool
    served: bool  # the page came back (from the database)
    error: str  # exception class when it did not
    connection_error: bool  # ... and it was a connection error (refused, reset or closed)
    seconds: float  # how long the request took

    def outcome(self) -> Outcome:
        switch = {"django-redis": "IGNORE_EXCEPTIONS", "PyMemcacheCache": "ignore_exc"}.get(self.backend)
        protection = switch if switch and self.tolerate_outage else "none"
        note = "page from the database" if self.served else f"raised {self.error}"
        return Outcome(
            f"cache down: {self.backend}", protection, int(not self.served), 0, self.served, note=note
        )


def cache_down(tolerate_outage: bool) -> list[CacheDownResult]:
    """Kill the cache servers (throw-away ones), then ask each backend for the page."""
    redis_server = ThrowawayRedis(PORTS["cache_down"])
    memcached_server = ThrowawayMemcached(PORTS["memcached_down"])
    locations = {
        "django-redis": redis_server.url(),
        "Django RedisCache": redis_server.url(),
        "PyMemcacheCache": f"{HOST}:{memcached_server.port}",
    }
    with redis_server, memcached_server:
        caches = {name: cache_for(name, location, tolerate_outage) for name, location in locations.items()}
        for cache in caches.values():
            serve_page(cache)  # warm: the page is cached while the servers are up
        redis_server.kill()
        memcached_server.kill()
        results = []
        for name, cache in caches.items():
            started = time.perf_counter()
            try:
                served, error = bool(serve_page(cache)), None
            except Exception as exc:  # the class is what we want to show
                served, error = False, exc
            # pymemcache raises a reset or a closed connection, depending on timing.
            connection_error = isinstance(error, CONNECTION_ERRORS)
            name_of_error = type(error).__name__ if error else ""
            seconds = time.perf_counter() - started
            results.append(
                CacheDownResult(name, tolerate_outage, served, name_of_error, connection_error, seconds)
            )
    return results


# --- 6. The broker is down ---------------------------------------------------------------------
@dataclass(frozen=True)
class BrokerDownResult:
    error: str  # what `.delay()` raised
    seconds: float  # how long it took to raise


def _time_a_send(sender: "Producer", run_name: str) -> BrokerDownResult:
    started = time.perf_counter()
    try:
        sender.send("faults.tasks.record", [new_run(run_name)])
        error = ""
    except Exception as exc:  # the class is what we want to show
        error = f"{type(exc).__module__}.{type(exc).__name__}"
    return BrokerDownResult(error, time.perf_counter() - started)


def delay_with_broker_down(port: int = PORTS["broker_down"]) -> BrokerDownResult:
    """`.delay()` when nothing listens on the broker's port (a crashed or stopped Redis)."""
    server = ThrowawayRedis(port)  # never started: only its URL and password are used
    with Producer(server.url()) as sender:
        return _time_a_send(sender, "broker-down")


def delay_with_broker_hung(port: int = PORTS["broker_down"]) -> BrokerDownResult:
    """`.delay()` when Redis accepts connections but never answers (SIGSTOP: a hung server).

    The connect succeeds (the kernel queues it), so only the sandbox's `socket_timeout`
    bounds the wait: without it the call blocks forever.
    """
    with ThrowawayRedis(port) as server, Producer(server.url()) as sender:
        hung = psutil.Process(server.process.pid).children()[0]  # redis-server, under its reaper
        hung.suspend()
        try:
            return _time_a_send(sender, "broker-hung")
        finally:
            hung.resume()


@dataclass(frozen=True)
class WaitingWorkerResult:
    retries_logged: int  # "Cannot connect ... Trying again" lines while the broker was down
    state: str  # a task sent once the broker is back


def worker_waits_for_broker(lab) -> WaitingWorkerResult:
    """Start a worker while its broker is down; start the broker; the worker connects and works."""
    server = ThrowawayRedis(PORTS["broker_down"])
    worker = BoundProcess(
        "waiting-worker",
        celery_command("worker", "-n", "waiting@lab", "-c", "1", "--loglevel=info", "--without-mingle"),
        LOG_DIR / f"{lab.namespace}-waiting-worker.log",
        env=broker_env(server),
    )
    try:
        with worker:
            worker.wait_for_log(r"Cannot connect to redis", 20)
            server.start()
            worker.wait_for_log(r"ready\.", 20)
            with Producer(server.url()) as sender:
                result = sender.send("faults.tasks.record", [new_run("waiting-worker")])
                result.get(timeout=10)
                state = result.state
    finally:
        server.stop()  # after the worker: a worker losing its broker retries while stopping
    return WaitingWorkerResult(len(worker.log_lines(r"Cannot connect to redis")), state)


# --- 1. A worker's pool child is killed mid-task -----------------------------------------------
CHARGE_TASKS = {
    "none": "faults.tasks.charge",
    "acks_late": "faults.tasks.charge_acks_late",
    "acks_late + reject_on_worker_lost": "faults.tasks.charge_requeued_on_loss",
}


def task_pid(run: str, timeout: float = 10.0) -> int:
    """The pid of the pool child running `run`, once its body has started."""
    from faults.tasks import ledger

    pid = wait_until(lambda: ledger().get(f"faults:pid:{run}"), timeout)
    if not pid:
        raise TimeoutError(f"task {run} did not start within {timeout} s")
    return int(pid)


def child_killed(lab, protection: str, guarded: bool, worker: BoundProcess | None = None) -> Outcome:
    """SIGKILL the pool child in the middle of a charge; count starts, effects, finishes."""
    run = new_run("child-killed")
    with contextlib.ExitStack() as stack:
        # Two children: while a killed one is being replaced, the other runs the requeued task.
        worker = worker or stack.enter_context(start_worker("child-killer", concurrency=2))
        sender = stack.enter_context(Producer())
        result = sender.send(CHARGE_TASKS[protection], [run, 0.5, guarded])
        os.kill(task_pid(run), signal.SIGKILL)
        # Either the task fails for good, or it is re-run from the queue and finishes.
        wait_until(lambda: result.state in ("FAILURE", "SUCCESS") and result.state, 15, 0.1)
        if result.state == "SUCCESS":
            wait_until(lambda: counts(run).get("finished"), 5)
        state, error = result.state, type(result.result).__name__ if result.failed() else ""
    ledger = counts(run)
    effects = ledger.get("effect", 0)
    return Outcome(
        "pool child killed mid-task",
        protection + (" + idempotency key" if guarded else ""),
        lost=int(ledger.get("finished", 0) == 0),
        doubled=max(effects - 1, 0),
        protected=guarded and "reject_on_worker_lost" in protection,
        counts={**ledger, "state": state, "error": error},
        note=f"task {state}" + (f" ({error})" if error else ""),
    )


# --- 2. The whole worker is stopped (SIGTERM) or killed (SIGKILL) mid-task ----------------------
VISIBILITY_TIMEOUT = 3  # seconds; the Redis transport's default is one hour


def broker_worker(name: str, server: ThrowawayRedis, pool: str = "solo") -> BoundProcess:
    """A worker on a throw-away broker that redelivers unacked messages after 3 s.

    The solo pool (tasks run in the worker's main process) stops in well under a second.
    """
    options = fast_redelivery(VISIBILITY_TIMEOUT)
    return start_worker(name, pool=pool, env=broker_env(server), extra_args=worker_config(**options))


def broker_leftovers(server: ThrowawayRedis) -> int:
    """Messages still queued or delivered-but-unacked on a throw-away broker."""
    client = server.client()
    return client.llen("celery") + client.hlen("unacked")


def worker_stopped(lab, signal_name: str, acks_late: bool, guarded: bool = False) -> Outcome:
    """Stop (SIGTERM) or kill (SIGKILL) the worker during a charge; a second worker takes over."""
    run = new_run(f"worker-{signal_name}")
    task = CHARGE_TASKS["acks_late" if acks_late else "none"]
    with ThrowawayRedis(PORTS["redelivery"]) as server, Producer(server.url()) as sender:
        # Killed: prefork, as in production (the solo pool acks even "early" messages only after
        # the task). Stopped: solo, which stops sooner and finishes its task just the same.
        first = broker_worker("first", server, pool="prefork" if signal_name == "SIGKILL" else "solo")
        sender.send(task, [run, 1.0, guarded])
        task_pid(run)
        if signal_name == "SIGTERM":
            first.stop()  # warm shutdown: returns once the running task has finished
        else:
            kill_worker(first)
            with broker_worker("second", server):
                # Redelivery takes VISIBILITY_TIMEOUT plus one 1 s restore sweep, then the body.
                wait_until(lambda: counts(run).get("finished"), VISIBILITY_TIMEOUT + 5)
        leftovers = broker_leftovers(server)
    ledger = counts(run)
    protection = ("acks_late" if acks_late else "early ack") + f", {signal_name}"
    protection += " + idempotency key" if guarded else ""
    return Outcome(
        "whole worker stopped mid-task",
        protection,
        lost=int(ledger.get("finished", 0) == 0),
        doubled=max(ledger.get("effect", 0) - 1, 0),
        protected=acks_late and (guarded or signal_name == "SIGTERM"),
        counts={**ledger, "left on broker": leftovers},
        note=f"body ran {ledger.get('started', 0)}×, {leftovers} left on the broker",
    )


# --- 4. Redis is killed with tasks queued and keys cached --------------------------------------
def redis_killed(lab, persistent: bool, tasks: int = 20) -> Outcome:
    """Queue `tasks` tasks and cache as many keys, SIGKILL Redis, restart it, then run a worker."""
    run = new_run("aof" if persistent else "no-persistence")
    runs = [f"{run}.{n}" for n in range(tasks)]
    with ThrowawayRedis(PORTS["durability"], persistent=persistent) as server:
        with Producer(server.url()) as sender:
            for each in runs:
                sender.send("faults.tasks.record", [each])
        cache = server.client(db=1)
        for n in range(tasks):
            cache.set(f"cached:{n}", "value", ex=300)
        server.restart(kill=True)
        queued_after, cached_after = server.client().llen("celery"), server.client(db=1).dbsize()
        if queued_after:
            with broker_worker("after-restart", server):
                wait_until(lambda: sum(bool(counts(each)) for each in runs) >= queued_after, 10)
                time.sleep(0.3)  # a duplicate would show up here
    ran = [counts(each).get("started", 0) for each in runs]
    return Outcome(
        "Redis killed (SIGKILL), restarted",
        "AOF, appendfsync everysec" if persistent else "none (no persistence)",
        lost=ran.count(0),
        doubled=sum(max(count - 1, 0) for count in ran),
        protected=persistent,
        note=f"{cached_after} of {tasks} cached keys survived",
        counts={"queued after restart": queued_after, "cached keys after restart": cached_after},
    )


# --- 12. maxmemory: evicting cache vs refusing broker ------------------------------------------
@dataclass(frozen=True)
class MaxmemoryResult:
    policy: str
    writes_accepted: int  # of the cache writes offered (10 KB each, four times maxmemory)
    writes_refused: int
    evicted_keys: int
    tasks_queued: int  # before the cache writes
    tasks_left: int  # still on the queue afterwards
    delay_error: str  # what one more `.delay()` raised on the full server ("" if accepted)

    def outcome(self) -> Outcome:
        lost = self.tasks_queued - self.tasks_left
        note = f"{self.writes_refused} cache writes refused, {self.evicted_keys} keys evicted"
        protected = self.policy == "noeviction"
        return Outcome("broker Redis reaches maxmemory", self.policy, lost, 0, protected, note=note)


def fill(client: redis.Redis, prefix: str, size: int, count: int) -> tuple[int, int]:
    """Write `count` random values of `size` bytes; return (accepted, refused)."""
    accepted = 0
    for n in range(count):
        with contextlib.suppress(redis.exceptions.OutOfMemoryError):
            client.set(f"{prefix}:{n}", os.urandom(size))
            accepted += 1
    return accepted, count - accepted


def maxmemory(policy: str, tasks: int = 50, writes: int = 900) -> MaxmemoryResult:
    """A 2 MB Redis holding queued tasks, then filled with cache writes: evict or refuse?"""
    conf = ("maxmemory 2mb", f"maxmemory-policy {policy}")
    with ThrowawayRedis(PORTS["maxmemory"], extra_conf=conf) as server:
        with Producer(server.url()) as sender:
            for _ in range(tasks):
                sender.send("faults.tasks.record", [new_run("maxmemory")])
        client = server.client()
        accepted, refused = fill(client, "cache", 10_000, writes)
        tasks_left = client.llen("celery")
        fill(client, "small", 100, 200)  # top up: full to the last bytes, whatever the buffers hold
        delay_error = ""
        with Producer(server.url()) as sender:
            try:
                sender.send("faults.tasks.record", [new_run("maxmemory")])
            except Exception as exc:  # the class and Redis's reason are what we want to show
                delay_error = f"{type(exc).__name__}: {str(exc).rsplit('caused error: ')[-1]}"
        evicted = client.info("stats")["evicted_keys"]
    return MaxmemoryResult(policy, accepted, refused, evicted, tasks, tasks_left, delay_error)


# --- 13. Cache stampede -------------------------------------------------------------------------
@dataclass(frozen=True)
class StampedeResult:
    guarded: bool
    requests: int
    recomputations: int  # how often the expensive value was computed
    served: int  # requests that got the value
    seconds: float

    def outcome(self) -> Outcome:
        protection = "lock (cache.add)" if self.guarded else "none"
        lost = self.requests - self.served
        note = f"{self.recomputations} recomputations, {self.served} requests served"
        return Outcome("stampede", protection, lost, self.recomputations - 1, self.guarded, note=note)


def stampede(guarded: bool, requests: int = 50, compute_seconds: float = 0.3) -> StampedeResult:
    """`requests` threads ask for one expired key at the same moment."""
    from django.core.cache import caches

    cache, key = caches["django_redis"], new_run("stampede")
    computed, lock = [], threading.Lock()

    def expensive() -> str:
        with lock:
            computed.append(1)
        time.sleep(compute_seconds)
        return "report"

    def unguarded_get() -> str:
        value = cache.get(key)
        if value is None:
            value = expensive()
            cache.set(key, value, 60)
        return value

    def guarded_get() -> str:
        value = cache.get(key)
        if value is None and cache.add(f"{key}:lock", 1, timeout=10):  # only one thread wins
            value = expensive()
            cache.set(key, value, 60)
            cache.delete(f"{key}:lock")
        # The others wait for the winner's value instead of recomputing it.
        return value or wait_until(lambda: cache.get(key), compute_seconds * 20, 0.02)

    start, values = threading.Barrier(requests), []

    def request() -> None:
        start.wait(timeout=10)
        values.append((guarded_get if guarded else unguarded_get)())

    threads = [threading.Thread(target=request) for _ in range(requests)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    seconds = time.perf_counter() - started
    return StampedeResult(guarded, requests, len(computed), values.count("report"), seconds)


# --- 15. Result expiry and time limits ---------------------------------------------------------
@dataclass(frozen=True)
class LimitsResult:
    state_at_once: str  # a finished task's state, read right away
    state_later: str  # ... read again after result_expires has passed
    soft_limit_result: str  # what the task returned after cleaning up
    soft_limit_cleanup_ran: bool
    hard_limit_state: str
    hard_limit_error: str
    hard_limit_body_finished: bool
    hard_limit_logged: bool  # the worker logged "Hard time limit (1s) exceeded" (and killed the child)


def limits_and_expiry(lab, result_expires: int | None = 1) -> LimitsResult:
    """One worker, three tasks: results that expire, a soft limit honoured, a hard limit enforced."""
    run = new_run("limits")
    config = {} if result_expires is None else {"result_expires": result_expires}
    # Its own queue: a worker already consuming the default one keeps results for a day.
    with (
        start_worker("limits", queues=["limits"], extra_args=worker_config(**config)) as worker,
        Producer() as sender,
    ):
        done = sender.send("faults.tasks.record", [run], queue="limits")
        done.get(timeout=10)
        state_at_once, expired_at = done.state, time.monotonic() + (result_expires or 0) + 1
        soft = sender.send("faults.tasks.with_cleanup", [f"{run}.soft", 3], queue="limits")
        soft_result = soft.get(timeout=10)
        hard = sender.send("faults.tasks.ignores_soft_limit", [f"{run}.hard", 5], queue="limits")
        hard.get(timeout=10, propagate=False)
        time.sleep(max(0.0, expired_at - time.monotonic()))
        # Read the backend, not the result cache it keeps of tasks already seen finished.
        state_later = sender.backend.get_task_meta(done.id, cache=False)["status"]
    return LimitsResult(
        state_at_once,
        state_later,
        soft_result,
        counts(f"{run}.soft").get("cleanup", 0) == 1,
        hard.state,
        type(hard.result).__name__,
        "finished" in counts(f"{run}.hard"),
        bool(worker.log_lines(r"Hard time limit \(1s\) exceeded for faults\.tasks\.ignores_soft_limit")),
    )


# --- 5. Redis restarts under a running worker --------------------------------------------------
@dataclass(frozen=True)
class RestartResult:
    before: str  # state of a task sent before the restart
    after: str  # state of a task sent right after it
    seconds_to_success: float  # from the restart to the second task's result
    reconnects_logged: int

    def outcome(self) -> Outcome:
        note = f"next task done {self.seconds_to_success:.1f} s after the restart"
        lost = [self.before, self.after].count("SUCCESS") - 2
        return Outcome("Redis restarted under a worker", "broker_connection_retry", -lost, 0, True, note=note)


def redis_restarted(lab) -> RestartResult:
    """Restart the broker (graceful stop, start) while a worker is connected; send a task."""
    run = new_run("restart")
    with ThrowawayRedis(PORTS["restart"]) as server, broker_worker("reconnecting", server) as worker:
        with Producer(server.url()) as sender:
            before = sender.send("faults.tasks.record", [f"{run}.before"])
            before.get(timeout=10)
        server.restart()
        started = time.perf_counter()
        with Producer(server.url()) as sender:
            after = sender.send("faults.tasks.record", [f"{run}.after"])
            after.get(timeout=30)
            seconds = time.perf_counter() - started
            after_state = after.state
        reconnects = len(worker.log_lines("Connection to broker lost"))
    return RestartResult(before.state, after_state, seconds, reconnects)


# --- 10. Cache poisoning: a cache backend unpickles what it reads ---------------------------------
POISONING_VARIANTS = {
    # variant: (server has a password, the cache's backend and serializer options)
    "no password, pickle": (False, "django.core.cache.backends.redis.RedisCache", {}),
    "password, pickle": (True, "django.core.cache.backends.redis.RedisCache", {}),
    "no password, JSON serializer": (
        False,
        "django_redis.cache.RedisCache",
        {"SERIALIZER": "django_redis.serializers.json.JSONSerializer"},
    ),
}


@dataclass(frozen=True)
class PoisoningResult:
    variant: str
    attacker_write: str  # "accepted", or the error Redis answered with
    victim_read: str  # what the application's cache.get() did
    marker_created: bool  # the attacker's code ran inside the application


def cache_poisoning(lab, variant: str) -> PoisoningResult:
    """Someone who can reach Redis writes a pickle under the key the application reads."""
    from django.utils.module_loading import import_string

    has_password, backend, options = POISONING_VARIANTS[variant]
    MARKER_DIR.mkdir(parents=True, exist_ok=True)
    marker = MARKER_DIR / f"{lab.namespace}-{new_run('poisoning')}"
    with ThrowawayRedis(PORTS["poisoning"], password=has_password) as server:
        cache = import_string(backend)(server.url(), {"KEY_PREFIX": "shop", "OPTIONS": options})
        cache.set("greeting", "hello")
        attacker = redis.Redis(
            host=HOST, port=server.port, protocol=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
        )
        try:
            attacker.set(cache.make_key("greeting"), pickle.dumps(TouchOnUnpickle(marker)))
            attacker_write = "accepted"
        except redis.RedisError as error:
            attacker_write = f"{type(error).__name__}: {error}"
        try:
            victim_read = f"returned {cache.get('greeting')!r}"
        except Exception as error:  # the class is what we want to show
            victim_read = f"raised {type(error).__name__}"
        created = marker.exists()
    marker.unlink(missing_ok=True)
    return PoisoningResult(variant, attacker_write, victim_read, created)


# --- 3. A countdown longer than the visibility timeout -----------------------------------------
def long_countdown(lab, guarded: bool, countdown: float = 5.5) -> Outcome:
    """A task due in `countdown` s on a broker that redelivers unacked messages after 3 s."""
    run = new_run("countdown")
    with (
        ThrowawayRedis(PORTS["countdown"]) as server,
        Producer(server.url()) as sender,
        broker_worker("eta", server),
    ):
        sender.send("faults.tasks.record", [run, guarded], countdown=countdown)
        wait_until(lambda: counts(run).get("finished"), countdown + 10)
        time.sleep(1.0)  # copies redelivered meanwhile are due at the same moment
    ledger = counts(run)
    return Outcome(
        "countdown > visibility_timeout",
        "idempotency key" if guarded else "none",
        lost=int(not ledger.get("effect")),
        doubled=max(ledger.get("effect", 0) - 1, 0),
        protected=guarded,
        counts=ledger,
        note=f"body ran {ledger.get('started', 0)}×",
    )


# --- 14. Two beat processes --------------------------------------------------------------------
@dataclass(frozen=True)
class TwoBeatsResult:
    beats: int
    sends: int  # "Sending due task" lines, all beats together
    runs: int  # daily_task runs the worker finished
    reports_created: int  # DailyReport rows created: the job's guard keeps this at one per day

    def outcome(self) -> Outcome:
        protection = "daily_task's per-day guard"
        note = f"{self.runs} runs of daily_task, {self.reports_created} report"
        return Outcome(
            f"{self.beats} beat processes", protection, 0, self.reports_created - 1, True, note=note
        )


def two_beats(
    lab, beats: int = 2, seconds: float = 3.0, worker: BoundProcess | None = None
) -> TwoBeatsResult:
    """Run the daily job every second from `beats` beat processes at once (a deploy mistake)."""
    from django.utils import timezone

    from reports.daily import release_daily_run
    from reports.models import DailyReport

    today = timezone.localdate()
    DailyReport.objects.filter(date=today).delete()
    release_daily_run(today)  # today's guard too, so this run starts from a day not yet done
    schedule = {"daily-task": {"task": "reports.tasks.daily_task", "schedule": 1.0}}
    done = r"Task reports\.tasks\.daily_task\[.*\] succeeded"
    with contextlib.ExitStack() as stack:
        worker = worker or stack.enter_context(start_worker("beat-worker"))
        runs_before = len(worker.log_lines(done))
        with contextlib.ExitStack() as beat_stack:
            processes = [
                beat_stack.enter_context(
                    start_beat_process(f"beat-{n}", extra_args=worker_config(beat_schedule=schedule))
                )
                for n in range(beats)
            ]
            time.sleep(seconds)
        sends = sum(len(beat.log_lines("Sending due task")) for beat in processes)
        wait_until(lambda: len(worker.log_lines(done)) - runs_before >= sends, 10)
        runs = len(worker.log_lines(done)) - runs_before
    created = DailyReport.objects.filter(date=today).count()
    return TwoBeatsResult(beats, sends, runs, created)
