"""The first cell of every notebook: `lab = setup("03")` (from cqlab.notebook import setup).

It starts the services if needed, gives the notebook its own namespace (a Redis database,
a key prefix, a SQLite file, a mailbox), sets up Django and prints one stable status line.
"""

import os
import shutil
import sys
from dataclasses import dataclass, field
from urllib.parse import unquote

from pymemcache.client.base import Client as MemcacheClient

from cqlab.config import LabConfig
from cqlab.errors import LabError
from cqlab.infra import probes, processes, services
from cqlab.paths import DB_DIR, PER_NAMESPACE_DIRS, SANDBOX_DIR, sqlite_file

# Redis database of each namespace: the notebooks never see each other's keys or queues.
# 0-2 stay for the sandbox run by hand (broker, results, cache). A test run gets servers of its
# own (`services.private`), so it uses the same namespaces beside an open lab without a clash.
# A notebook split in parts ("03a", "03b") gets one namespace per part; "03a" keeps 03's database.
NAMESPACE_DB = {
    "tests": 9,
    **{f"{n:02d}": 10 + n for n in range(8)},
    **{f"{n:02d}a": 10 + n for n in range(8)},
    **{f"{n:02d}b": 18 + n for n in range(8)},
    "site": 26,  # the sandbox as a website (`make sandbox`, `make flower`)
    "05c": 27,
    "05d": 28,
}  # the lab's redis.conf has `databases 32`


@dataclass
class Lab:
    namespace: str
    redis_db: int
    config: LabConfig = field(repr=False)

    @property
    def key_prefix(self) -> str:
        """Prefix for keys this notebook writes to shared servers (Memcached has no databases)."""
        return f"{self.namespace}:"

    def redis(self, **options):
        """redis-py client on this namespace's database."""
        return probes.redis_client(self.config, db=self.redis_db, **options)

    def memcached(self, **options) -> MemcacheClient:
        """pymemcache client whose keys all carry this namespace's prefix."""
        options.setdefault("connect_timeout", 2)
        options.setdefault("timeout", 5)
        return MemcacheClient(
            self.config.memcached_address,
            key_prefix=self.key_prefix.encode(),
            **options,
        )

    def start_worker(self, name: str = "worker", **options) -> processes.BoundProcess:
        return processes.start_worker(name, **options)

    def start_beat(self, name: str = "beat", **options) -> processes.BoundProcess:
        return processes.start_beat(name, **options)

    def cleanup(self) -> str:
        """Stop this notebook's workers and beat, drop its keys; return a status line."""
        processes.stop_all()
        self.redis().flushdb()
        _forget_memcached_keys(self)
        return f"cleaned up: processes stopped, Redis DB {self.redis_db} empty, Memcached keys gone"


def setup(namespace: str, *, migrate: bool = True) -> Lab:
    """Get services, Django and a fresh namespace ready; print a short, stable status."""
    _show_lab_errors_briefly()
    if namespace not in NAMESPACE_DB:
        raise LabError(
            f"Unknown namespace {namespace!r}: use the notebook's number, 00 to 07, "
            "with its part letter (03a, 05c)."
        )
    config = LabConfig.from_env()
    services.up(config)
    name = f"nb{namespace}" if namespace[0].isdigit() else namespace
    db = NAMESPACE_DB[namespace]
    _point_sandbox_at(name, config, db)
    lab = Lab(name, db, config)
    _reset_namespace(lab)
    _setup_django(migrate)
    print(f"Lab ready: namespace {name}, Redis DB {db}, redis up, memcached up")
    return lab


def _point_sandbox_at(name: str, config: LabConfig, db: int) -> None:
    """Environment read by the sandbox's settings, here and in every worker started later."""
    current = os.environ.get("SANDBOX_NAMESPACE")
    if "django" in sys.modules and current and current != name and _django_configured():
        raise LabError(
            f"This kernel is already set up for namespace {current}. Restart the kernel "
            f"(Kernel → Restart) to switch to {name}."
        )
    os.environ.update(
        SANDBOX_NAMESPACE=name,
        CELERY_BROKER_URL=config.celery_url(db),
        CELERY_RESULT_BACKEND=config.celery_url(db),
        REDIS_CACHE_URL=config.redis_url(db),
        DJANGO_SETTINGS_MODULE="sandbox.settings",
        # Jupyter runs cells inside an event loop; the ORM is safe here (one thread per cell).
        DJANGO_ALLOW_ASYNC_UNSAFE="true",
    )


def _django_configured() -> bool:
    from django.conf import settings

    return settings.configured


def _reset_namespace(lab: Lab) -> None:
    """Start from a clean slate (Redis DB, files, SQLite), so every run gives the same outputs."""
    processes.stop_all()
    lab.redis().flushdb()
    _forget_memcached_keys(lab)
    for directory in PER_NAMESPACE_DIRS:
        shutil.rmtree(directory / lab.namespace, ignore_errors=True)
    if "django.db" in sys.modules:  # set up before in this kernel: let go of the old file
        from django.db import connections

        connections.close_all()
    sqlite_file(lab.namespace).unlink(missing_ok=True)


def _forget_memcached_keys(lab: Lab) -> None:
    """Delete this namespace's keys from the shared Memcached (others' keys stay).

    Memcached has no databases and no "delete by prefix": list the keys with
    `lru_crawler metadump all` and delete those with the namespace's prefixes
    (`nb03:` for raw clients, `nb03.<alias>:` for Django's cache).
    """
    address = lab.config.memcached_address
    dump = probes.memcached_text(address, b"lru_crawler metadump all")
    keys = [unquote(field[4:]) for field in dump.split() if field.startswith("key=")]
    ours = [key for key in keys if key.startswith((lab.key_prefix, f"{lab.namespace}."))]
    if ours:
        client = MemcacheClient(address, connect_timeout=2, timeout=5)
        client.delete_many(ours)
        client.close()


def sandbox_first_on_path() -> None:
    """Put the sandbox's apps ahead of the notebook's own folder on `sys.path`.

    A kernel imports from its notebook's folder first, and the editable install maps the sandbox's
    packages in only after every path entry has been searched, so a plain folder there named like
    an app (notebooks/ru/catalog/, the translations) would become that app, as a namespace package.
    """
    if sys.path[:1] != [str(SANDBOX_DIR)]:
        sys.path.insert(0, str(SANDBOX_DIR))


def _setup_django(migrate: bool) -> None:
    import django
    from django.core.management import call_command

    sandbox_first_on_path()
    django.setup()
    if migrate:
        DB_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", verbosity=0)


def _show_lab_errors_briefly() -> None:
    """In IPython, show errors briefly: a LabError as its fix, others as type and message.

    A full stack is dozens of lines of Celery or Django internals (and this machine's paths,
    which must not end up in committed outputs); `%xmode Context` brings it back when debugging.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def show(shell, exc_type, exc, tb, tb_offset=None):
        # An error output carrying the one-line fix: the learner reads it, and nbval reports it.
        shell._showtraceback(exc_type, exc, [f"LabError: {exc}"])

    shell.set_custom_exc((LabError,), show)
    shell.InteractiveTB.set_mode(mode="Minimal")
