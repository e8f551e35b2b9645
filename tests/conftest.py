"""Shared fixtures: every test runs against the live services, in the `tests` namespace."""

import os

import pytest

from cqlab import lab as lab_module
from cqlab import processes


@pytest.fixture(scope="session")
def lab():
    """Services up, Django set up on the tests namespace (Redis DB 9, var/db/tests.sqlite3)."""
    lab = lab_module.setup(os.environ.get("LAB_TEST_NAMESPACE", "tests"))
    yield lab
    lab.cleanup()


@pytest.fixture
def worker(lab):
    """A real `celery worker` process for one test; stopped afterwards."""
    with processes.start_worker("test-worker", concurrency=2) as process:
        yield process
