"""Wire-level probes of Redis and Memcached: is a port open, a client that never hangs, one raw line."""

import socket

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cqlab.config import LabConfig


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def redis_client(config: LabConfig, db: int = 0, **options) -> redis.Redis:
    """A redis-py client for the lab's Redis that fails within seconds, never hangs."""
    options.setdefault("socket_connect_timeout", 2)
    options.setdefault("socket_timeout", 5)
    return redis.Redis(
        host=config.redis_host,
        port=config.redis_port,
        password=config.redis_password,
        db=db,
        **options,
    )


def anonymous_redis(host: str, port: int) -> redis.Redis:
    """A client without password that tries once: redis-py would otherwise retry a refused AUTH."""
    return redis.Redis(host=host, port=port, socket_timeout=2, retry=Retry(NoBackoff(), 0))


def memcached_text(
    address: tuple[str, int],
    line: bytes,
    ends: tuple[bytes, ...] = (b"END\r\n", b"ERROR\r\n"),
    timeout: float = 5.0,
) -> str:
    """Send one raw text-protocol line to Memcached; read until the reply ends with one of `ends`."""
    with socket.create_connection(address, timeout=timeout) as connection:
        connection.sendall(line + b"\r\n")
        reply = b""
        while not reply.endswith(ends):
            chunk = connection.recv(65536)
            if not chunk:  # the server closed the connection
                break
            reply += chunk
    return reply.decode()
