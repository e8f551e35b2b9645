"""Start, find and stop the lab's Redis and Memcached.

By default: the local `redis-server` and `memcached` binaries (installed with apt/brew when
missing and allowed) on unix sockets in var/run/ (directory 700, sockets 600: no other user of the
machine can connect), TCP off. Asked for TCP (sandbox.env.uses_tcp): the same binaries on loopback,
or `docker compose up -d --wait` with a Docker engine. Redis always with a password and the
sandbox's memory limit, Memcached with UDP off. Only what this launcher started is stopped.
"""

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis
from pymemcache.client.base import Client as MemcacheClient

from cqlab.config import LabConfig
from cqlab.errors import LabError
from cqlab.infra.install import install_missing
from cqlab.infra.probes import anonymous_redis, listening, redis_client
from cqlab.infra.servers import memcached_command, redis_conf, terminate
from cqlab.paths import LOG_DIR, REPO_ROOT, RUN_DIR, VAR_DIR, make_private_dir, write_private
from cqlab.ports import free_port
from cqlab.waiting import wait_until

READY_TIMEOUT = 10.0  # seconds a freshly started server gets to answer


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # "up", "down" or "foreign"
    address: str
    version: str = ""
    mode: str = ""  # "local" or "docker" when the lab runs it
    detail: str = ""

    def line(self) -> str:
        return f"{self.name:<10} {self.state:<7} {self.address:<16} {self.version:<8} {self.mode}"


# --- probes -----------------------------------------------------------------------------------


def probe_redis(config: LabConfig) -> ServiceStatus:
    address = config.shown("redis")
    if not listening(config.redis_address):
        return ServiceStatus("redis", "down", address)
    try:
        anonymous_redis(config).ping()
    except redis.AuthenticationError:
        pass  # as it should be: the lab's Redis answers nobody without the password
    except redis.RedisError:
        return ServiceStatus("redis", "foreign", address, detail="something that is not Redis listens there")
    else:
        return ServiceStatus(
            "redis", "foreign", address, detail="a Redis without a password is listening there"
        )
    try:
        version = redis_client(config, socket_timeout=2).info("server")["redis_version"]
    except redis.AuthenticationError:
        return ServiceStatus(
            "redis",
            "foreign",
            address,
            detail="a Redis that does not accept the lab's password is listening there",
        )
    except redis.RedisError:
        return ServiceStatus("redis", "foreign", address, detail="something that is not Redis listens there")
    return ServiceStatus("redis", "up", address, version, _state(config).get("mode", "external"))


def probe_memcached(config: LabConfig) -> ServiceStatus:
    address = config.shown("memcached")
    if not listening(config.memcached_address):
        return ServiceStatus("memcached", "down", address)
    try:
        client = MemcacheClient(config.memcached_address, connect_timeout=2, timeout=2)
        stats = client.stats()
        client.close()
    except Exception:  # pymemcache raises several unrelated types for a non-memcached peer
        return ServiceStatus(
            "memcached", "foreign", address, detail="something that is not Memcached listens there"
        )
    state = _state(config)
    ours = state.get("mode") == "docker" or state.get("memcached") == stats.get(b"pid")
    if not ours:
        return ServiceStatus(
            "memcached",
            "foreign",
            address,
            detail="a Memcached that this launcher did not start is listening there",
        )
    return ServiceStatus("memcached", "up", address, stats[b"version"].decode(), state["mode"])


def status(config: LabConfig | None = None) -> list[ServiceStatus]:
    config = config or LabConfig.from_env()
    return [probe_redis(config), probe_memcached(config)]


# --- state of what this launcher started: one file per pair of servers (sockets, or ports) ------
def _state_file(config: LabConfig) -> Path:
    return config.run_dir / f"services-{config.key}.json"


def _state(config: LabConfig) -> dict:
    try:
        return json.loads(_state_file(config).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _save_state(config: LabConfig, **changes) -> None:
    make_private_dir(config.run_dir)
    _state_file(config).write_text(json.dumps({**_state(config), **changes}))


# --- starting ---------------------------------------------------------------------------------
PORT_VARIABLE = {"redis": "REDIS_PORT", "memcached": "MEMCACHED_PORT"}


def _refuse_foreign(service: ServiceStatus) -> None:
    if service.address.endswith(".sock"):
        raise LabError(
            f"The socket {service.address} is taken: {service.detail}. The lab will not use or stop "
            "it. Stop that server (or delete the socket file if nothing runs there), then try again."
        )
    variable = PORT_VARIABLE[service.name]
    raise LabError(
        f"Port {service.address} ({variable}) is taken: {service.detail}. The lab will not "
        f"use or stop it. Stop that server, or give the lab another port, e.g. "
        f"`{variable}={int(service.address.rsplit(':', 1)[1]) + 10} make lab`."
    )


def docker_engine_available() -> bool:
    """True when `docker compose` can reach an engine (checked within a few seconds)."""
    if os.environ.get("LAB_SERVICES", "auto") == "local" or not shutil.which("docker"):
        return False
    try:
        for command in (["docker", "info"], ["docker", "compose", "version"]):
            subprocess.run(command, capture_output=True, timeout=5, check=True)
    except (subprocess.SubprocessError, OSError):
        return False
    return True


def up(config: LabConfig | None = None, *, bound: bool = False) -> list[str]:
    """Make sure Redis and Memcached answer; return the names of the services started now.

    `bound`: start them as processes that die with this one (a test run's private servers),
    rather than as daemons that outlive it (the lab's shared servers).
    """
    config = config or LabConfig.from_env()
    services = status(config)
    for service in services:
        if service.state == "foreign":
            _refuse_foreign(service)
    down = [service.name for service in services if service.state == "down"]
    if not down:
        return []
    if (
        config.tcp  # containers publish ports; the lab's sockets are for local binaries
        and not bound
        and (
            os.environ.get("LAB_SERVICES") == "docker"
            or (_state(config).get("mode") != "local" and docker_engine_available())
        )
    ):
        _compose("up", "-d", "--wait", *down)
        _save_state(config, mode="docker")
    else:
        _start_local(config, down, bound)
    _wait_until_up(config, down)
    return down


def _compose(*args: str) -> None:
    result = subprocess.run(
        ["docker", "compose", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    if result.returncode:
        raise LabError(f"`docker compose {' '.join(args)}` failed:\n{result.stderr.strip()[-800:]}")


def _start_local(config: LabConfig, names: list[str], bound: bool) -> None:
    binaries = {"redis": "redis-server", "memcached": "memcached"}
    install_missing([binaries[name] for name in names if not shutil.which(binaries[name])])
    data_dir = (VAR_DIR / "redis" / config.key) if config.tcp else (config.run_dir / "redis-data")
    for directory in {RUN_DIR, config.run_dir}:  # 700: the sockets, and configs holding the password
        make_private_dir(directory)
    for directory in (LOG_DIR, data_dir):
        directory.mkdir(parents=True, exist_ok=True)
    spawn = _spawn_bound if bound else _spawn_daemon
    if "redis" in names:
        conf = config.run_dir / f"redis-{config.key}.conf"
        write_private(conf, redis_conf(config, data_dir=data_dir, lab=True))  # it holds the password
        pid = spawn(["redis-server", str(conf)], f"redis-{config.key}")
        _save_state(config, mode="local", redis=pid)
    if "memcached" in names:
        if config.tcp:
            command = memcached_command(config.memcached_host, config.memcached_port)
        else:
            command = memcached_command(socket=config.memcached_socket)
        _save_state(config, mode="local", memcached=spawn(command, f"memcached-{config.key}"))


def _spawn_bound(command: list[str], name: str) -> int:
    """Start a server that dies with this process (through the reaper); return the server's pid."""
    from cqlab.infra.processes import BoundProcess

    reaper = BoundProcess(name, command, LOG_DIR / f"{name}.log", grace=3.0, tracked=False)
    children = wait_until(lambda: psutil.Process(reaper.pid).children(), 5.0, f"{name} to start")
    return children[0].pid


def _spawn_daemon(command: list[str], name: str) -> int:
    """Start a server detached from this process (it outlives `make services`); return its pid."""
    with open(LOG_DIR / f"{name}.log", "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid


def _wait_until_up(config: LabConfig, names: list[str]) -> None:
    probes = {"redis": probe_redis, "memcached": probe_memcached}
    for name in names:
        try:
            wait_until(lambda name=name: probes[name](config).state == "up", READY_TIMEOUT, name)
        except TimeoutError:
            log = LOG_DIR / f"{name}-{config.key}.log"
            tail = log.read_text().strip().splitlines()[-5:] if log.exists() else []
            raise LabError(
                f"{name} did not answer on {config.shown(name)} within {READY_TIMEOUT:.0f} s. "
                f"Last lines of {log}:\n  " + "\n  ".join(tail)
            ) from None


# --- stopping ---------------------------------------------------------------------------------
def stop(names: list[str] | None = None, config: LabConfig | None = None) -> list[str]:
    """Stop what this launcher started (all, or `names`); return the names stopped."""
    config = config or LabConfig.from_env()
    state = _state(config)
    names = [
        name
        for name in (["redis", "memcached"] if names is None else names)
        if name in state or state.get("mode") == "docker"
    ]
    if not names:
        return []
    if state.get("mode") == "docker":
        _compose("stop", *names)
        _compose("rm", "-f", *names)
    else:
        for name in names:
            terminate(state[name])
            if not config.tcp:  # memcached leaves its socket file behind; Redis removes its own
                Path(getattr(config, f"{name}_socket")).unlink(missing_ok=True)
    remaining = {key: value for key, value in state.items() if key not in names}
    if set(remaining) <= {"mode", "started_for"}:
        _state_file(config).unlink(missing_ok=True)
    else:
        _state_file(config).write_text(json.dumps(remaining))
    return names


# --- sharing: several commands use the same servers, the last one out stops them --------------
def _leases(config: LabConfig) -> Path:
    return config.run_dir / f"users-{config.key}"


@contextlib.contextmanager
def shared(config: LabConfig | None = None):
    """Redis and Memcached up for the life of the block (`make lab`, `make notebooks`).

    Each user holds a lease (a file named by its pid). Servers started for a block are stopped
    when the last user's block ends, so `make test` or a second lab never pulls them from
    under an open JupyterLab. Servers started by `make services` stay until `make stop`.
    """
    config = config or LabConfig.from_env()
    leases = _leases(config)
    lease = leases / str(os.getpid())
    with _exclusive(config):  # two commands starting at once must not both start servers
        if up(config):
            _save_state(config, started_for="run")
        leases.mkdir(parents=True, exist_ok=True)
        lease.touch()
    try:
        yield config
    finally:
        with _exclusive(config):
            lease.unlink(missing_ok=True)
            users = [path for path in leases.iterdir() if psutil.pid_exists(int(path.name))]
            if not users and _state(config).get("started_for") == "run":
                print(f"stopped the services (last user gone): {', '.join(stop(config=config))}")


@contextlib.contextmanager
def _exclusive(config: LabConfig):
    """One launcher at a time for this pair of servers (a lock file; released if we die)."""
    make_private_dir(config.run_dir)
    with open(config.run_dir / f"lock-{config.key}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def private():
    """Own Redis and Memcached for this process and its children (a test run).

    On sockets in var/private-PID/run/ (LAB_SOCKET_DIR, inherited by the children), or, when TCP is
    asked for, on free loopback ports. With the lab's password, they die with this process and are
    stopped at the end of the block: a test run and an open lab never see each other's keys or queues.
    """
    if not LabConfig.from_env().tcp:
        directory = REPO_ROOT / "var" / f"private-{os.getpid()}" / "run"
        created = not directory.parent.exists()
        previous = os.environ.get("LAB_SOCKET_DIR")
        os.environ["LAB_SOCKET_DIR"] = str(directory)
        config = LabConfig.from_env()
        try:
            up(config, bound=True)
            yield config
        finally:
            stop(config=config)
            if previous is None:
                os.environ.pop("LAB_SOCKET_DIR", None)
            else:
                os.environ["LAB_SOCKET_DIR"] = previous
            if created:
                shutil.rmtree(directory.parent, ignore_errors=True)
        return
    for attempt in range(3):  # a stranger may take a free port before our server binds it
        os.environ.update(REDIS_PORT=str(free_port()), MEMCACHED_PORT=str(free_port()))
        config = LabConfig.from_env()
        try:
            up(config, bound=True)
            break
        except LabError:
            stop(config=config)
            if attempt == 2:
                raise
    try:
        yield config
    finally:
        stop(config=config)


def require_up(config: LabConfig | None = None) -> list[ServiceStatus]:
    """Statuses of both services, or a LabError naming the fix (answers within seconds)."""
    statuses = status(config)
    for service in statuses:
        if service.state == "foreign":
            _refuse_foreign(service)
        if service.state == "down":
            raise LabError(
                f"{service.name} is not answering on {service.address}. Start the services with "
                "`make services` (or `docker compose up -d --wait`), then run this cell again."
            )
    return statuses
