"""Shared set-up: the live tests (tests/live, notebooks/) run against servers of their own.

tests/unit needs no server. Each pytest process (each xdist worker, when run with `-n`) starts
a private Redis and Memcached on free ports (`services.private`) and writes its files under
var/private-PID/, so a test run never touches an open lab's servers, keys, files or workers, and
two workers never see each other's. The notebooks nbval runs inherit them. The lab is set up
when pytest starts (before test modules are imported), so tests can import the sandbox's models
at module level, as Django code usually does.
"""

import contextlib
import os
import shutil
from pathlib import Path

# Files too (SQLite, mailboxes, file cache, logs): each pytest process writes under its own
# var/private-PID/, set before the sandbox and cqlab read SANDBOX_VAR_DIR at import.
PRIVATE_VAR_DIR = Path(__file__).resolve().parent / "var" / f"private-{os.getpid()}"
os.environ["SANDBOX_VAR_DIR"] = str(PRIVATE_VAR_DIR)

import pytest  # noqa: E402

from cqlab.infra import processes, services  # noqa: E402
from cqlab.notebook import lab as lab_module  # noqa: E402

_session_lab: lab_module.Lab | None = None
_servers = contextlib.ExitStack()


def _unit_tests_only(config) -> bool:
    """`pytest tests/unit`: the fast tier needs no server, so none is started."""
    return bool(config.args) and all(arg.startswith("tests/unit") for arg in config.args)


def _is_xdist_controller(config) -> bool:
    """The process that hands tests to xdist workers runs none itself: it needs no servers."""
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None))


def pytest_configure(config):
    """Private servers up, Django set up on the tests namespace (its own Redis DB and SQLite file)."""
    global _session_lab
    if _is_xdist_controller(config) or _unit_tests_only(config):
        return
    _servers.enter_context(services.private())
    _session_lab = lab_module.setup("tests")


def pytest_unconfigure(config):
    """Clean the namespace, stop the private servers."""
    if _session_lab is not None:
        _session_lab.cleanup()
    _servers.close()
    shutil.rmtree(PRIVATE_VAR_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def lab() -> lab_module.Lab:
    return _session_lab


@pytest.fixture(scope="module")
def worker(lab):
    """A real `celery worker` process shared by a test module; stopped after it."""
    with processes.start_worker("test-worker", concurrency=2) as process:
        yield process


@pytest.fixture
def catalog_client(lab):
    """Django's test client, with a product in the catalogue for its pages to list."""
    from django.test import Client

    from catalog.models import Product

    Product.objects.get_or_create(name="Kettle", defaults={"price": "20.00"})
    return Client()
