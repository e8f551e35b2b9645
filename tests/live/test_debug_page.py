"""No secret on any page: a real 500 page of the sandbox, served by runserver with DEBUG on."""

import os
import sys
import urllib.error
import urllib.request
import uuid

from django.views.debug import SafeExceptionReporterFilter

from cqlab.infra.probes import port_open
from cqlab.infra.processes import BoundProcess
from cqlab.paths import process_log
from cqlab.ports import free_port
from cqlab.waiting import wait_until


def test_the_debug_page_of_a_real_error_shows_no_password(lab):
    port = free_port()
    env = {"SANDBOX_NAMESPACE": f"unmigrated-{uuid.uuid4().hex[:8]}", "DJANGO_DEBUG": "1"}
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with BoundProcess("runserver", command, process_log("runserver"), env=env, grace=3):
        wait_until(lambda: port_open("127.0.0.1", port), 20, "runserver to listen")
        try:  # a database nobody migrated: the classic first 500 of a Django project
            urllib.request.urlopen(f"http://127.0.0.1:{port}/products/", timeout=20)
        except urllib.error.HTTPError as error:
            status, page = error.code, error.read().decode()
    assert status == 500 and "no such table" in page and "CELERY_BROKER_URL" in page
    assert os.environ["REDIS_PASSWORD"] not in page
    assert "redis+socket://********************@/" in page  # where the password was (the broker)
    assert "unix://********************@/" in page  # (the Redis caches)


def test_without_the_filter_django_would_show_the_password(lab):
    """Django's own filter hides settings by name; these names do not look secret."""
    shown = SafeExceptionReporterFilter().get_safe_settings()
    assert os.environ["REDIS_PASSWORD"] in shown["CELERY_BROKER_URL"]
    assert os.environ["REDIS_PASSWORD"] in shown["CACHES"]["django_redis"]["LOCATION"]
