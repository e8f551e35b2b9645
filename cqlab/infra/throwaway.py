"""Throw-away Redis and Memcached servers for demos that restart, kill or misconfigure one.

The shared servers stay untouched: these run on their own port, with their own data
directory under var/throwaway/, bound to the life of the process that started them.

    with ThrowawayRedis(persistent=True) as server:   # on a free port (cqlab.ports)
        server.client().set("k", "v")
        server.restart()            # graceful: with AOF the key survives
        server.restart(kill=True)   # SIGKILL: a crash
"""

import os
import shutil
import signal
from collections.abc import Callable

import psutil
import redis
from pymemcache.client.base import Client as MemcacheClient

from cqlab.config import LabConfig
from cqlab.infra.probes import port_open
from cqlab.infra.processes import BoundProcess
from cqlab.infra.servers import memcached_command, redis_conf
from cqlab.paths import THROWAWAY_DIR, write_private
from cqlab.ports import DEFAULT_HOST, free_port
from cqlab.waiting import wait_until

HOST = DEFAULT_HOST


class ThrowawayServer:
    """A server process on `port` that can be started, restarted, killed and stopped."""

    def __init__(self, kind: str, port: int | None):
        self.port = port or free_port()
        self.name = f"{kind}-{self.port}"
        # A port picked for us may be taken by someone else before our server binds it: then the
        # first start moves to another free port. A restart keeps its port (clients point at it).
        self.may_move = port is None
        self.process: BoundProcess | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 5.0) -> "ThrowawayServer":
        for _attempt in range(3):
            if not port_open(HOST, self.port):
                log_path = THROWAWAY_DIR / f"{self.name}.log"
                self.process = BoundProcess(self.name, self.command(), log_path, grace=3.0)
                self._wait_until(lambda: self.ready() or not self.process.alive(), timeout)
                if self._listening_itself():
                    self.may_move = False
                    return self
                self.process.stop()
            if not self.may_move:
                raise RuntimeError(f"port {self.port} is taken by another process")
            self.port = free_port()
        raise RuntimeError(f"{self.name}: no free port held after 3 tries")

    def _listening_itself(self) -> bool:
        """Our own server answers on the port, not a stranger that took it first."""
        try:
            servers = psutil.Process(self.process.pid).children()
            return any(
                connection.status == psutil.CONN_LISTEN and connection.laddr.port == self.port
                for server in servers
                for connection in server.net_connections(kind="inet")
            )
        except psutil.Error:  # our server exited: it could not bind
            return False

    def ready(self) -> bool:
        """The server answers (a listening port is not enough for every server)."""
        return port_open(HOST, self.port, timeout=0.1)

    def stop(self) -> None:
        """Graceful stop (SIGTERM): Redis flushes its append-only file; Memcached just exits."""
        if self.process:
            self.process.stop()
            self.process = None

    def kill(self) -> None:
        """SIGKILL to the server and its reaper at once: a crash, nothing flushed."""
        if self.process:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.popen.wait()
            self.process.stop()
            self.process = None
            self._wait_until(lambda: not port_open(HOST, self.port, timeout=0.1), 5.0)

    def restart(self, kill: bool = False) -> "ThrowawayServer":
        self.kill() if kill else self.stop()
        self._wait_until(lambda: not port_open(HOST, self.port, timeout=0.1), 5.0)  # after a stop too
        return self.start()

    def _wait_until(self, condition: Callable[[], bool], timeout: float) -> None:
        try:
            wait_until(condition, timeout, f"{self.name}")
        except TimeoutError:
            log = self.process.log()[-600:] if self.process else ""
            raise RuntimeError(f"{self.name} on port {self.port}: not ready in {timeout} s\n{log}") from None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class ThrowawayRedis(ThrowawayServer):
    """redis-server with the lab's password (unless `password=False`), fresh data dir."""

    def __init__(
        self,
        port: int | None = None,
        *,
        persistent: bool = False,
        password: bool = True,
        extra_conf: tuple[str, ...] = (),
    ):
        super().__init__("redis", port)
        self.config = LabConfig.from_env()
        self.persistent, self.password, self.extra_conf = persistent, password, extra_conf
        self.data_dir = THROWAWAY_DIR / self.name
        shutil.rmtree(self.data_dir, ignore_errors=True)  # fresh data on every new instance
        self.data_dir.mkdir(parents=True)

    def command(self) -> list[str]:
        conf = redis_conf(self.config, self.data_dir, port=self.port, persistent=self.persistent)
        if not self.password:
            conf = conf.replace(f"requirepass {self.config.redis_password}\n", "")
        conf_path = self.data_dir / "redis.conf"
        write_private(conf_path, conf + "".join(f"{line}\n" for line in self.extra_conf))
        return ["redis-server", str(conf_path)]

    def ready(self) -> bool:
        """Redis answers PING: until it has loaded its RDB/AOF files it replies LOADING."""
        try:
            return self.client(socket_connect_timeout=0.2, socket_timeout=0.5).ping()
        except redis.RedisError:  # refused, or BusyLoadingError
            return False

    def url(self, db: int = 0) -> str:
        """redis:// URL of this server, password included when it has one: never print it."""
        return self.config.redis_url(db, port=self.port, password=self.password)

    def client(self, **options) -> redis.Redis:
        options.setdefault("socket_connect_timeout", 2)
        options.setdefault("socket_timeout", 5)
        password = self.config.redis_password if self.password else None
        return redis.Redis(host=HOST, port=self.port, password=password, **options)


class ThrowawayMemcached(ThrowawayServer):
    """memcached on loopback, UDP off, with `memory_mb` of cache (small to show eviction)."""

    def __init__(self, port: int | None = None, *, memory_mb: int = 64, extra_args: tuple[str, ...] = ()):
        super().__init__("memcached", port)
        self.memory_mb, self.extra_args = memory_mb, extra_args

    def command(self) -> list[str]:
        return [*memcached_command(HOST, self.port, self.memory_mb), *self.extra_args]

    def client(self, **options) -> MemcacheClient:
        options.setdefault("connect_timeout", 2)
        options.setdefault("timeout", 5)
        return MemcacheClient((HOST, self.port), **options)
