"""Several throw-away servers at once (notebook 06): a Memcached pool, Redis groups, Sentinels.

Plumbing only: start N real servers on free ports, wait until they are up (or until a group
of them agrees on something), stop them all. Every server runs under `cqlab.infra.reaper`,
so it dies with the kernel or test that started it. What the servers are told to do
(replication, sentinel monitoring, cluster mode) comes from the caller: it is the lesson.

    with MemcachedPool(3) as pool:          # three memcached on free ports
        HashClient(pool.addresses())
"""

import contextlib
import os
import shutil
import subprocess

import psutil
import redis
from pymemcache.client.base import Client as MemcacheClient

from cqlab.config import LabConfig
from cqlab.infra.probes import port_open
from cqlab.infra.processes import BoundProcess
from cqlab.infra.throwaway import HOST, ThrowawayMemcached, ThrowawayRedis
from cqlab.paths import THROWAWAY_DIR, write_private
from cqlab.ports import free_port
from cqlab.waiting import wait_until


class ServerGroup:
    """Servers started and stopped together; usable as a context manager."""

    def __init__(self, servers: list):
        self.servers = servers

    def start(self):
        """Start every server, each on a port it really owns (see `_start_owned`)."""
        self.servers = [server if server.process else self._start_owned(server) for server in self.servers]
        return self

    def _start_owned(self, server, attempts: int = 3):
        """Start `server`; if another process took its free port first, retry on a new one.

        A free port can be taken by someone else between `free_port()` and our bind: then
        our server exits, and the port answers with a stranger's server. The pid the server
        reports over its port tells them apart.
        """
        for _ in range(attempts):
            try:
                server.start()
                if self.reported_pid(server) == _server_pid(server):
                    return server
            except RuntimeError:  # the port was taken before our start, or ours never opened it
                pass
            server.stop()
            server = self.fresh(server)
        raise RuntimeError(f"no free port kept for {type(server).__name__} after {attempts} attempts")

    def fresh(self, server):
        """A new server like `server`, on a new free port."""
        raise NotImplementedError

    def reported_pid(self, server) -> int:
        raise NotImplementedError

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def addresses(self) -> list[tuple[str, int]]:
        return [(HOST, server.port) for server in self.servers]

    def locations(self) -> list[str]:
        """`host:port` of each server, as Django's cache LOCATION lists them."""
        return [f"{host}:{port}" for host, port in self.addresses()]

    def __getitem__(self, index):
        return self.servers[index]

    def __len__(self) -> int:
        return len(self.servers)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class MemcachedPool(ServerGroup):
    """`size` memcached servers, each on its own free port."""

    def __init__(self, size: int = 3, memory_mb: int = 16):
        super().__init__([ThrowawayMemcached(memory_mb=memory_mb) for _ in range(size)])

    def fresh(self, server):
        return ThrowawayMemcached(memory_mb=server.memory_mb)

    def reported_pid(self, server) -> int:
        client = MemcacheClient((HOST, server.port), connect_timeout=2, timeout=5)
        try:
            return int(client.stats()[b"pid"])
        finally:
            client.close()

    def items_per_node(self) -> list[int]:
        """Items each live node holds now (`stats curr_items`); 0 for a stopped node."""
        counts = []
        for server in self.servers:
            if server.process is None:
                counts.append(0)
                continue
            client = MemcacheClient((HOST, server.port), connect_timeout=2, timeout=5)
            counts.append(int(client.stats()[b"curr_items"]))
            client.close()
        return counts


class RedisGroup(ServerGroup):
    """`size` redis-server processes with the lab's password, each with `extra_conf` lines."""

    def __init__(self, size: int, extra_conf: tuple[str, ...] = ()):
        super().__init__([ThrowawayRedis(extra_conf=extra_conf) for _ in range(size)])

    def fresh(self, server):
        return ThrowawayRedis(extra_conf=server.extra_conf)

    def reported_pid(self, server) -> int:
        try:
            return int(server.client().info("server")["process_id"])
        except redis.RedisError:  # a stranger's Redis, with another password
            return -1

    @property
    def password(self) -> str:
        return self.servers[0].config.redis_password


class RedisClusterNodes(RedisGroup):
    """Redis nodes for a Redis Cluster: each gets its own cluster bus port and nodes file.

    The caller passes the cluster mode itself (`extra_conf`) and creates the cluster with
    `redis-cli --cluster create`; `wait_healthy` then waits until every node says so.
    """

    def __init__(self, size: int = 3, extra_conf: tuple[str, ...] = ()):
        self.node_conf = extra_conf
        ServerGroup.__init__(self, [self.fresh() for _ in range(size)])

    def fresh(self, server=None):
        # The bus port is normally port+10000, which may be taken: ask for a free one.
        conf = (*self.node_conf, f"cluster-port {free_port()}", "cluster-config-file nodes.conf")
        return ThrowawayRedis(extra_conf=conf)

    def cli_env(self) -> dict[str, str]:
        """Environment for redis-cli: the password through REDISCLI_AUTH, never on a command line."""
        return {**os.environ, "REDISCLI_AUTH": self.password}

    def wait_healthy(self, timeout: float = 20.0) -> None:
        def all_ok() -> bool:
            return all(server.client().cluster("info")["cluster_state"] == "ok" for server in self.servers)

        wait_until(all_ok, timeout, "every cluster node to report cluster_state:ok")


def _server_pid(server_or_process) -> int:
    """Pid of the server process itself (its BoundProcess is a reaper, the server's parent)."""
    process = getattr(server_or_process, "process", server_or_process)
    children = wait_until(lambda: psutil.Process(process.pid).children(), 5.0, f"{process.name} to start")
    return children[0].pid


def run_cli(args: list[str], env: dict[str, str], timeout: float = 30.0) -> subprocess.CompletedProcess:
    """Run redis-cli (`args` after the program name); raise with its output when it fails."""
    done = subprocess.run(["redis-cli", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"redis-cli {args[:2]} failed:\n{done.stdout[-800:]}{done.stderr[-800:]}")
    return done


def wait_replica_synced(replica: ThrowawayRedis, timeout: float = 15.0) -> None:
    """Until the replica's link to its primary is up and the first full sync is done."""

    def synced() -> bool:
        info = replica.client().info("replication")
        return info.get("master_link_status") == "up" and not info.get("master_sync_in_progress")

    wait_until(synced, timeout, f"replica on port {replica.port} to sync")


class SentinelGroup:
    """`size` `redis-server --sentinel` processes, each with a config file made of `conf_lines`.

    A sentinel rewrites its own config file (what it learns), so each has its own copy, in
    its own directory. They require the lab's password from their clients, and use it with
    each other, as the primary's does.
    """

    def __init__(self, conf_lines: tuple[str, ...], size: int = 3):
        self.config = LabConfig.from_env()
        self.conf_lines = conf_lines
        self.ports = [free_port() for _ in range(size)]
        self.processes: list[BoundProcess] = []

    def start(self, timeout: float = 10.0) -> "SentinelGroup":
        for index in range(len(self.ports)):
            for _ in range(3):  # a new free port if someone else took this one first
                process = self._start_one(self.ports[index], timeout)
                if process:
                    self.processes.append(process)
                    break
                self.ports[index] = free_port()
            else:
                raise RuntimeError("no free port kept for a sentinel after 3 attempts")
        return self

    def _start_one(self, port: int, timeout: float) -> BoundProcess | None:
        """A sentinel on `port`, or None if the port answers with someone else's process."""
        if port_open(HOST, port):
            return None
        directory = THROWAWAY_DIR / f"sentinel-{port}"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        conf = [f"bind {HOST}", f"port {port}", f"dir {directory}", f"requirepass {self.password}"]
        conf_path = directory / "sentinel.conf"
        write_private(conf_path, "\n".join([*conf, *self.conf_lines]) + "\n")
        log = THROWAWAY_DIR / f"sentinel-{port}.log"
        process = BoundProcess(
            f"sentinel-{port}", ["redis-server", str(conf_path), "--sentinel"], log, grace=3.0
        )
        try:
            wait_until(lambda: port_open(HOST, port, timeout=0.1), timeout, f"sentinel on port {port}")
            own_pid = _server_pid(process)
            reported = int(self.client_on(port).info("server")["process_id"])
        except (TimeoutError, redis.RedisError):
            reported, own_pid = -1, 0
        if reported != own_pid:
            process.stop()
            return None
        return process

    @property
    def password(self) -> str:
        return self.config.redis_password

    def addresses(self) -> list[tuple[str, int]]:
        return [(HOST, port) for port in self.ports]

    def client(self, index: int = 0) -> redis.Redis:
        """A plain client to one sentinel (for SENTINEL commands)."""
        return self.client_on(self.ports[index])

    def client_on(self, port: int) -> redis.Redis:
        return redis.Redis(
            host=HOST, port=port, password=self.password, socket_timeout=5, decode_responses=True
        )

    def wait_ready(self, master_name: str, replicas: int, timeout: float = 30.0) -> None:
        """Until every sentinel knows the others and the primary's replicas: a failover can start."""
        others = len(self.ports) - 1

        def ready() -> bool:
            with contextlib.ExitStack() as stack:
                for index in range(len(self.ports)):
                    client = stack.enter_context(self.client(index))
                    if len(client.sentinel_sentinels(master_name)) < others:
                        return False
                    if len(client.sentinel_slaves(master_name)) < replicas:
                        return False
            return True

        wait_until(ready, timeout, f"sentinels to agree on {master_name!r}")

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
