"""Shared set-up: every test runs against the live services, in the `tests` namespace.

The lab is set up when pytest starts (before test modules are imported), so tests can import
the sandbox's models at module level, as Django code usually does.
"""

import os

import pytest

from cqlab import lab as lab_module
from cqlab import processes, services

_session_lab: lab_module.Lab | None = None
_started_services: list[str] = []


def pytest_configure(config):
    """Services up, Django set up on the tests namespace (its own Redis DB and SQLite file)."""
    global _session_lab
    _started_services.extend(services.up())
    _session_lab = lab_module.setup(os.environ.get("LAB_TEST_NAMESPACE", "tests"))


def pytest_unconfigure(config):
    """Clean the namespace; stop the services if this pytest run started them."""
    if _session_lab is not None:
        _session_lab.cleanup()
    services.stop(_started_services)


@pytest.fixture(scope="session")
def lab() -> lab_module.Lab:
    return _session_lab


@pytest.fixture
def worker(lab):
    """A real `celery worker` process for one test; stopped afterwards."""
    with processes.start_worker("test-worker", concurrency=2) as process:
        yield process
