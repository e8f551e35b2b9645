"""The sandbox project's behaviour that the notebooks build on, against live services."""

import time

from celery.schedules import crontab
from django.conf import settings
from django.test import Client

from catalog.models import Product
from cqlab.lessons.queues import wait_for_email


def timed_get(client: Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    assert response.status_code == 200
    return time.perf_counter() - started


def test_slow_view_is_much_faster_when_cached(lab):
    Product.objects.get_or_create(name="Kettle", defaults={"price": "19.90"})
    client = Client()
    uncached = timed_get(client, "/products/")
    timed_get(client, "/products/cached/")  # fills the cache
    cached = min(timed_get(client, "/products/cached/") for _ in range(3))
    assert uncached >= settings.SANDBOX_SLOW_QUERY_DELAY
    assert uncached / cached >= 4


def test_cached_summary_is_invalidated_when_a_product_changes(lab):
    client = Client()
    client.get("/products/cached/")
    Product.objects.create(name="Teapot", price="12.50")
    assert b"Teapot" in client.get("/products/cached/").content


def test_a_real_worker_sends_the_welcome_email(lab, worker):
    from accounts.tasks import send_welcome_email

    result = send_welcome_email.delay("learner@example.com")
    assert result.get(timeout=20) == 1
    mails = list(settings.EMAIL_FILE_PATH.glob("*.log"))
    assert any("learner@example.com" in mail.read_text() for mail in mails)
    # The worker logs "succeeded" just after storing the result: wait for the line, do not just read.
    assert worker.wait_for_log(rf"send_welcome_email\[{result.id}\] succeeded")


def test_signup_queues_the_email_and_rejects_bad_input(lab, worker):
    client = Client()
    response = client.post("/signup/", {"email": "new.user@example.com"})
    assert response.status_code == 201 and response.json()["welcome"] == "queued"
    assert client.post("/signup/", {"email": "new.user@example.com"}).status_code == 409
    assert client.post("/signup/", {"email": "not-an-email"}).status_code == 400
    wait_for_email(settings.EMAIL_FILE_PATH, "new.user@example.com")


def test_beat_schedule_runs_daily_task_at_midnight(lab):
    from sandbox.celery import app

    app.loader.import_default_modules()  # what a worker does at start: autodiscover tasks
    entry = app.conf.beat_schedule["daily-task"]
    assert entry["task"] == "reports.tasks.daily_task"
    assert entry["schedule"] == crontab(minute=0, hour=0)
    assert "reports.tasks.daily_task" in app.tasks
