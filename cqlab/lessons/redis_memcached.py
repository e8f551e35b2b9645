"""Plumbing of notebooks 01a and 01b: the side-by-side table's probes, and a stage that forces a race.

What notebooks 01a and 01b teach (cache-aside, a blocking queue consumer, Pub/Sub, sessions, persistence
settings) is written in its cells; this module only probes servers and sets up situations.
"""

import json

import redis
from pymemcache.client.base import Client as MemcacheClient

from cqlab.infra.probes import memcached_text


# --- a forced interleaving, for the compare-and-set exercise -------------------------------------
class Interloper:
    """A Memcached client whose every read is followed by another client's write to the same key.

    The worst interleaving of two shoppers, every time instead of once in a while: code that
    reads, then writes without checking (`set` instead of `cas`/`add`), loses the other write.
    The other client appends `other-1`, `other-2`, ... to the JSON list under the key (or
    creates it), `interruptions` times in all; later reads go through undisturbed.
    """

    def __init__(self, client: MemcacheClient, other: MemcacheClient, interruptions: int = 3):
        self.client, self.other, self.left = client, other, interruptions
        self.written: list[str] = []

    def __getattr__(self, name: str):  # set, add, cas, ... go straight to the real client
        return getattr(self.client, name)

    def get(self, key, *args, **kwargs):
        result = self.client.get(key, *args, **kwargs)
        self._interrupt(key)
        return result

    def gets(self, key, *args, **kwargs):
        result = self.client.gets(key, *args, **kwargs)
        self._interrupt(key)
        return result

    def _interrupt(self, key) -> None:
        if self.left > 0:
            self.left -= 1
            item = f"other-{len(self.written) + 1}"
            current = self.other.get(key)
            items = json.loads(current) if current is not None else []
            self.other.set(key, json.dumps([*items, item]), noreply=False)
            self.written.append(item)


# --- the probes behind the side-by-side table (claim C3) ---------------------------------------
def memcached_reply(address: tuple[str, int] | str, line: bytes, timeout_s: float = 2.0) -> str:
    """Send one raw text-protocol line to Memcached; return its first reply line."""
    return memcached_text(address, line, ends=(b"\r\n",), timeout=timeout_s).strip()


def _size(n_bytes: int) -> str:
    return f"{n_bytes // 2**20} MiB" if n_bytes >= 2**20 else f"{n_bytes} bytes"


def _survival(clean: bool, killed: bool) -> str:
    """'kept/lost': the key after a clean restart / after kill -9."""
    return "/".join("kept" if survived else "lost" for survived in (clean, killed))


def feature_table(
    r: redis.Redis,
    mc: MemcacheClient,
    survived: dict[str, tuple[bool, bool]],
    pubsub_receivers: int,
    largest_value: int,
    eviction: dict[str, str],
) -> list[tuple[str, str, str]]:
    """(feature, Redis, Memcached) rows, each cell derived from a probe of the live servers.

    `r` must decode responses. `survived` ({setup: (clean restart, kill -9)}; Memcached's
    setup named "Memcached"), `pubsub_receivers`, `largest_value` (bytes, one-byte key) and
    `eviction` (Redis's memory limit and eviction policy, read in the cell) come from the cells.
    """
    prefix = mc.key_prefix.decode()

    def raw(line: str) -> str:
        return memcached_reply(mc.server, line.encode())

    types = sorted({r.type(key) for key in r.scan_iter(count=1000)})
    mc.set("probe:list", [1, 2], noreply=False)  # pymemcache stores str([1, 2]) as bytes
    list_back = mc.get("probe:list")
    r.set("probe:ttl", "x", px=1500)
    redis_ttl = "milliseconds" if 0 < r.pttl("probe:ttl") <= 1500 else "?"
    memcached_ttl = raw(f"touch {prefix}probe:list 1.5")
    settings = mc.stats("settings")
    redis_limit = int(r.config_get("proto-max-bulk-len")["proto-max-bulk-len"])
    long_key = raw(f"get {prefix}{'k' * (251 - len(prefix))}")
    transaction = r.pipeline(transaction=True).incr("probe:tx").incr("probe:tx").execute()
    r.delete("probe:ttl", "probe:tx")
    mc.delete("probe:list", noreply=False)
    redis_survival = ", ".join(
        f"{name.removeprefix('Redis, ')}: {_survival(*outcome)}"
        for name, outcome in survived.items()
        if name != "Memcached"
    )
    return [
        ("data types", ", ".join(types), f"bytes only: [1, 2] came back as {list_back!r}"),
        ("TTL precision", f"{redis_ttl} (PEXPIRE/PTTL)", f"whole seconds: a 1.5 s TTL → {memcached_ttl}"),
        (
            "key kept: clean restart/kill -9",
            redis_survival,
            _survival(*survived["Memcached"]),
        ),
        (
            "Pub/Sub",
            f"PUBLISH reached {pubsub_receivers} subscribers",
            f"`publish` → {raw('publish news hi')}",
        ),
        (
            "max value size",
            _size(redis_limit),
            f"{largest_value:,} bytes (-I {_size(int(settings[b'item_size_max']))}, item header included)",
        ),
        ("max key size", _size(redis_limit), f"250 bytes: a 251-byte key → {long_key}"),
        (
            "eviction when full",
            "configurable: " + ", ".join(f"{name} {value}" for name, value in sorted(eviction.items())),
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
