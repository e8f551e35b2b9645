"""Wire-level probes of Redis and Memcached: is a port or socket open, a never-hanging client, a raw line.

An address is (host, port) for TCP, or a unix socket's path (str) — pymemcache's own convention.
"""

import socket

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cqlab.config import LabConfig


def connect(address: tuple[str, int] | str, timeout: float) -> socket.socket:
    """A connected socket to `address` (TCP or unix), or OSError (PermissionError on a socket not ours)."""
    if isinstance(address, tuple):
        return socket.create_connection(address, timeout=timeout)
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout)
    try:
        connection.connect(address)
    except OSError:
        connection.close()
        raise
    return connection


def listening(address: tuple[str, int] | str, timeout: float = 0.5) -> bool:
    """True when something accepts connections at `address`."""
    try:
        with connect(address, timeout):
            return True
    except OSError:
        return False


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    return listening((host, port), timeout)


def redis_client(config: LabConfig, db: int = 0, **options) -> redis.Redis:
    """A redis-py client for the lab's Redis that fails within seconds, never hangs."""
    options.setdefault("socket_connect_timeout", 2)
    options.setdefault("socket_timeout", 5)
    return redis.Redis(**config.redis_connection, password=config.redis_password, db=db, **options)


def anonymous_redis(config: LabConfig) -> redis.Redis:
    """A client without password that tries once: redis-py would otherwise retry a refused AUTH."""
    return redis.Redis(**config.redis_connection, socket_timeout=2, retry=Retry(NoBackoff(), 0))


def memcached_text(
    address: tuple[str, int] | str,
    line: bytes,
    ends: tuple[bytes, ...] = (b"END\r\n", b"ERROR\r\n"),
    timeout: float = 5.0,
) -> str:
    """Send one raw text-protocol line to Memcached; read until the reply ends with one of `ends`."""
    with connect(address, timeout) as connection:
        connection.sendall(line + b"\r\n")
        reply = b""
        while not reply.endswith(ends):
            chunk = connection.recv(65536)
            if not chunk:  # the server closed the connection
                break
            reply += chunk
    return reply.decode()
