"""The longer pieces of notebook 01's live demos: Redis and Memcached with their raw clients."""

import json
import threading
import uuid
from collections.abc import Callable

import redis
from pymemcache.client.base import Client as MemcacheClient

from cqlab.infra.probes import memcached_text
from cqlab.infra.throwaway import ThrowawayMemcached, ThrowawayServer

KeyValueClient = redis.Redis | MemcacheClient


# --- cache-aside, for either server ---------------------------------------------------------
def count_primes_below(limit: int) -> int:
    """A deliberately slow, pure-Python computation (trial division) to put a cache in front of."""
    return sum(all(n % d for d in range(2, int(n**0.5) + 1)) for n in range(2, limit))


def cache_aside(client: KeyValueClient, key: str, compute: Callable[[], object], ttl_s: int):
    """Return (value, was_hit): read the cache; on a miss compute, store with a TTL, return.

    Values travel as JSON, so both servers give back what was put in (they store bytes).
    """
    cached = client.get(key)
    if cached is not None:
        return json.loads(cached), True
    value = compute()
    if isinstance(client, MemcacheClient):
        client.set(key, json.dumps(value), expire=ttl_s, noreply=False)
    else:
        client.set(key, json.dumps(value), ex=ttl_s)
    return value, False


# --- sessions with sliding expiry ---------------------------------------------------------------
class SessionStore:
    """Sessions as Redis hashes; every load pushes the expiry back (a sliding timeout)."""

    def __init__(self, client: redis.Redis, ttl_ms: int, prefix: str = "session:"):
        self.client, self.ttl_ms, self.prefix = client, ttl_ms, prefix

    def create(self, **data: str) -> str:
        session_id = uuid.uuid4().hex
        key = self.prefix + session_id
        self.client.pipeline().hset(key, mapping=data).pexpire(key, self.ttl_ms).execute()
        return session_id

    def load(self, session_id: str) -> dict | None:
        """The session's data, or None once it has expired; a hit restarts its clock."""
        key = self.prefix + session_id
        data, _ = self.client.pipeline().hgetall(key).pexpire(key, self.ttl_ms).execute()
        return data or None


# --- a list as a queue: consumers in threads ----------------------------------------------------
def consume(
    client_factory: Callable[[], redis.Redis], queue: str, consumers: int, idle_timeout_s: float = 1.0
) -> tuple[list[threading.Thread], list[tuple[int, str]]]:
    """Start `consumers` threads that BRPOP `queue` until it stays empty for idle_timeout_s.

    Returns the threads (join them) and the shared list of (consumer number, message)
    they fill. Each thread has its own connection: a blocked BRPOP holds one.
    """
    received: list[tuple[int, str]] = []

    def work(number: int) -> None:
        client = client_factory()
        while item := client.brpop([queue], timeout=idle_timeout_s):
            received.append((number, item[1]))
        client.close()

    threads = [threading.Thread(target=work, args=(number,), daemon=True) for number in range(consumers)]
    for thread in threads:
        thread.start()
    return threads, received


# --- Pub/Sub ----------------------------------------------------------------------------------
def subscribe(client: redis.Redis, channel: str, timeout_s: float = 2.0):
    """A PubSub subscribed to `channel`, returned once Redis has confirmed the subscription.

    Without waiting, a PUBLISH sent right after on another connection could arrive first
    and reach nobody. The PubSub borrows a connection from `client`'s pool: keep `client`
    referenced (redis-py closes the pool, subscriptions included, when a client is collected).
    """
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    confirmation = pubsub.get_message(timeout=timeout_s)
    if not confirmation or confirmation["type"] != "subscribe":
        raise RuntimeError(f"no subscribe confirmation for {channel!r} within {timeout_s} s")
    return pubsub


def next_message(pubsub, timeout_s: float = 1.0) -> str | None:
    """The next published message's data, or None when nothing arrives within timeout_s."""
    message = pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout_s)
    return message["data"] if message else None


# --- restarts and eviction on throw-away servers --------------------------------------------------
def key_survives_restart(server: ThrowawayServer, key: str = "order:1") -> bool:
    """Write `key` on a fresh throw-away server, restart it gracefully, read it back."""
    client = server.client()
    if isinstance(server, ThrowawayMemcached):
        client.set(key, b"paid", noreply=False)
    else:
        client.set(key, b"paid")
    client.close()
    server.restart()
    client = server.client()
    survived = client.get(key) == b"paid"
    client.close()
    return survived


def fill_memcached(client: MemcacheClient, count: int, size: int) -> list[int]:
    """Store `count` values of `size` bytes as photo:0..count-1; return the numbers still there."""
    for number in range(count):
        client.set(f"photo:{number}", b"x" * size, noreply=False)
    return [number for number in range(count) if client.get(f"photo:{number}") is not None]


# --- the probes behind the side-by-side table (claim C3) ---------------------------------------
def memcached_reply(host: str, port: int, line: bytes, timeout_s: float = 2.0) -> str:
    """Send one raw text-protocol line to Memcached; return its first reply line."""
    return memcached_text((host, port), line, ends=(b"\r\n",), timeout=timeout_s).strip()


def _size(n_bytes: int) -> str:
    return f"{n_bytes // 2**20} MB" if n_bytes >= 2**20 else f"{n_bytes} bytes"


def feature_table(
    r: redis.Redis, mc: MemcacheClient, survived_restart: dict[str, bool], pubsub_receivers: int
) -> list[tuple[str, str, str]]:
    """(feature, Redis, Memcached) rows, each cell derived from a probe of the live servers.

    `r` must decode responses. `survived_restart` and `pubsub_receivers` come from the
    restart and Pub/Sub cells run before.
    """
    host, port = mc.server
    prefix = mc.key_prefix.decode()

    def raw(line: str) -> str:
        return memcached_reply(host, port, line.encode())

    types = sorted({r.type(key) for key in r.scan_iter(count=1000)})
    mc.set("probe:list", [1, 2], noreply=False)  # pymemcache stores str([1, 2]) as bytes
    list_back = mc.get("probe:list")
    r.set("probe:ttl", "x", px=1500)
    redis_ttl = "milliseconds" if 0 < r.pttl("probe:ttl") <= 1500 else "?"
    memcached_ttl = raw(f"touch {prefix}probe:list 1.5")
    settings = mc.stats("settings")
    redis_limit = int(r.config_get("proto-max-bulk-len")["proto-max-bulk-len"])
    memory = r.config_get("maxmemory", "maxmemory-policy")
    long_key = raw(f"get {prefix}{'k' * (251 - len(prefix))}")
    transaction = r.pipeline(transaction=True).incr("probe:tx").incr("probe:tx").execute()
    r.delete("probe:ttl", "probe:tx")
    mc.delete("probe:list", noreply=False)
    return [
        ("data types", ", ".join(types), f"bytes only: [1, 2] came back as {list_back!r}"),
        ("TTL precision", f"{redis_ttl} (PEXPIRE/PTTL)", f"whole seconds: a 1.5 s TTL → {memcached_ttl}"),
        (
            "survives a restart",
            f"with AOF: {survived_restart['Redis with AOF']}, without: "
            f"{survived_restart['Redis without persistence']}",
            str(survived_restart["Memcached"]),
        ),
        (
            "Pub/Sub",
            f"PUBLISH reached {pubsub_receivers} subscribers",
            f"`publish` → {raw('publish news hi')}",
        ),
        ("max value size", _size(redis_limit), _size(int(settings[b"item_size_max"]))),
        ("max key size", _size(redis_limit), f"250 bytes: a 251-byte key → {long_key}"),
        (
            "eviction when full",
            f"configurable: policy {memory['maxmemory-policy']}, maxmemory {memory['maxmemory']}",
            f"LRU, evictions {settings[b'evictions'].decode()}",
        ),
        (
            "multi-key / atomic ops",
            f"MGET, pipelines, MULTI/EXEC (INCR twice → {transaction})",
            f"get_many; CAS; no transactions: `multi` → {raw('multi')}",
        ),
        (
            "threads serving commands",
            f"1 (io-threads {r.config_get('io-threads')['io-threads']})",
            str(int(settings[b"num_threads"])),
        ),
    ]


def format_table(rows: list[tuple[str, str, str]]) -> str:
    lines = [("", "Redis", "Memcached"), *rows]
    widths = [max(len(line[column]) for line in lines) for column in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
