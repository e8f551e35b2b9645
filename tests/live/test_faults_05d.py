"""Notebook 05d's faults against real processes: each with its protection off and on.

Each test asserts different counts with and without the protection, so removing the protection
(the bound of `BoundedDeliveries`, a visibility timeout above the task, the guard key of
`daily_task`, the outbox in the signup view, the transaction around `relay()`) fails it. The
faults are written here as the notebook writes them in its cells; `cqlab.lessons` only starts,
waits and counts.
"""

import json
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django import db
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import OutboxMessage
from accounts.outbox import relay
from accounts.tasks import relay_outbox, send_welcome_email
from cqlab.infra.throwaway import ThrowawayRedis
from cqlab.lessons import beat as beats
from cqlab.lessons import faults, faults_05d
from cqlab.lessons.queues import wait_for_email
from cqlab.waiting import wait_until
from faults.redelivery import DEAD_LETTER_QUEUE
from faults.tasks import charge_acks_late, counts, poison, poison_bounded
from sandbox.celery import app


@pytest.fixture
def broker():
    """A throw-away broker for one test: killed, restarted or filled as the test likes."""
    with ThrowawayRedis() as server:
        yield server


def on(broker: ThrowawayRedis) -> dict:
    """A worker's environment for a throw-away broker; results and the ledger stay in the lab's Redis."""
    return {"CELERY_BROKER_URL": broker.url()}


# --- 1. A poison message ------------------------------------------------------------------------
def test_a_poison_message_loops_without_a_bound(lab, broker):
    run = faults.new_run("poison")
    with (
        lab.start_worker("poison", env=on(broker)) as worker,
        app.connection_for_write(broker.url()) as conn,
    ):
        poison.apply_async([run], connection=conn)
        faults.counts_when(run, lambda ledger: ledger.get("started", 0) >= 4, timeout=60)
        os.killpg(worker.pid, signal.SIGKILL)
    assert "finished" not in counts(run)
    assert faults.on_broker(broker.client()) == 1  # still there: the next worker loops again


def test_a_bounded_poison_message_is_dead_lettered_after_three_deliveries(lab, broker):
    run = faults.new_run("bounded")
    client = broker.client()
    with (
        lab.start_worker("bounded", env=on(broker)) as worker,
        app.connection_for_write(broker.url()) as conn,
    ):
        poison_bounded.apply_async([run], connection=conn)
        wait_until(
            lambda: client.llen(DEAD_LETTER_QUEUE) == 1 and faults.on_broker(client) == 0, 60, "a dead letter"
        )
        assert worker.alive()
    assert counts(run) == {"started": 3}
    (parked,) = client.lrange(DEAD_LETTER_QUEUE, 0, -1)
    assert json.loads(parked)["headers"]["task"] == poison_bounded.name


# --- 2. A task longer than the visibility timeout -------------------------------------------------
def long_charge(lab, broker, visibility_timeout: float, guarded: bool) -> tuple[bool, dict]:
    """A 6 s acks_late charge; (a second copy started while the first ran, the settled ledger)."""
    options = {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
    args = ("--", "broker_transport_options=(json)" + json.dumps(options))
    run = faults.new_run("long")
    with (
        lab.start_worker("long", concurrency=2, env=on(broker), extra_args=args) as worker,
        app.connection_for_write(broker.url()) as conn,
    ):
        charge_acks_late.apply_async([run, 6, guarded], connection=conn)
        first = faults.counts_when(
            run, lambda ledger: ledger.get("finished") or ledger.get("started", 0) >= 2
        )
        faults.counts_when(run, lambda ledger: ledger.get("finished"))
        os.killpg(worker.pid, signal.SIGKILL)
    return first["started"] >= 2 and not first.get("finished"), counts(run)


@pytest.mark.parametrize(
    ("visibility_timeout", "guarded", "overlap", "charges_at_least", "charges_at_most"),
    [(2, False, True, 2, 99), (2, True, True, 1, 1), (30, False, False, 1, 1)],
    ids=["timeout-below-the-task", "below-with-idempotency-key", "timeout-above-the-task"],
)
def test_a_task_longer_than_the_visibility_timeout(
    lab, broker, visibility_timeout, guarded, overlap, charges_at_least, charges_at_most
):
    seen_overlap, ledger = long_charge(lab, broker, visibility_timeout, guarded)
    assert seen_overlap is overlap
    assert charges_at_least <= ledger["effect"] <= charges_at_most
    assert (ledger["started"] == 1) is (visibility_timeout == 30)


# --- 3. Beat killed right after sending -----------------------------------------------------------
def sends_of_the_midnight_slot(
    broker: ThrowawayRedis, kill_after: str | None = None, extra_args=(), clean_stop: bool = False
) -> int:
    """Beat sends the midnight daily-task, is killed (SIGKILL, or SIGTERM with `clean_stop`) once
    the message is in the broker (or its log has `kill_after`), restarts two seconds later on its
    clock; how many messages of that slot are in the broker."""
    beats.remove_schedule_files()
    options = {"env": on(broker), "loglevel": "debug", "extra_args": extra_args}
    killed = beats.start_beat_at("beat-05d", "2026-12-31T23:59:58+00:00", **options)
    if kill_after:
        killed.wait_for_log(kill_after)
    else:  # not its "Sending due task" line: beat writes it before it publishes
        killed.wait_for(lambda: broker.client().llen("celery"), "the message in the broker")
    if not clean_stop:
        os.killpg(killed.pid, signal.SIGKILL)
    killed.stop()  # SIGTERM, when it is still running
    assert beats.sent(killed)[0][1] == "daily-task"
    with beats.start_beat_at("beat-05d", "2027-01-01T00:00:02+00:00", **options) as again:
        beats.wait_until_asleep(again)
    return broker.client().llen("celery")


def test_beat_killed_after_sending_sends_the_slot_again_and_the_guard_key_keeps_one_report(lab, broker):
    from reports.models import DailyReport

    assert sends_of_the_midnight_slot(broker) == 2
    DailyReport.objects.all().delete()
    with lab.start_worker("daily", env=on(broker)) as worker:
        results = beats.wait_for_results(worker, 2)
    assert sorted(result["duplicate"] for result in results) == [False, True]
    assert DailyReport.objects.count() == 1


def test_beat_sync_every_1_writes_the_file_right_after_each_send(lab, broker):
    after_the_write = r"daily_task sent\. id->"  # beat logs it after its file is written
    assert sends_of_the_midnight_slot(broker, after_the_write, ("--", "beat_sync_every=1")) == 1


# --- 4. The broker down at signup: the outbox -----------------------------------------------------
def welcomed() -> set[str]:
    return faults_05d.welcomed(settings.EMAIL_FILE_PATH)


def test_signup_keeps_the_email_in_the_outbox_while_the_broker_is_down(lab, broker):
    browser = Client(raise_request_exception=False)
    broker.kill()
    with faults_05d.publishing_to(app, broker.url()), faults_05d.logs_silenced():
        without = browser.post("/signup/without-outbox/", {"email": "lost-t@example.com"})
        kept = browser.post("/signup/", {"email": "kept-t@example.com"})
    assert without.status_code == 500 and kept.status_code == 201
    assert User.objects.filter(username__in=["lost-t@example.com", "kept-t@example.com"]).count() == 2
    (pending,) = OutboxMessage.objects.filter(sent_at=None)
    assert pending.args == ["kept-t@example.com"]
    broker.start()
    with lab.start_worker("mail", env=on(broker)), faults_05d.publishing_to(app, broker.url()):
        assert relay_outbox.delay().get(timeout=30) == 1  # what the beat sweep sends every few seconds
        assert relay() == 0  # sent once: the row is marked
        wait_for_email(settings.EMAIL_FILE_PATH, "kept-t@example.com")
        wait_until(lambda: faults.on_broker(broker.client()) == 0, 30, "the broker to empty")
    assert "lost-t@example.com" not in welcomed()


def test_signup_with_the_broker_up_sends_through_the_outbox_at_commit(lab, worker):
    response = Client().post("/signup/", {"email": "outbox-up@example.com"})
    assert response.status_code == 201 and response.json()["welcome"] == "queued"
    row = OutboxMessage.objects.get(args=["outbox-up@example.com"])
    assert row.sent_at is not None  # relayed right after COMMIT, no relay call needed
    wait_for_email(settings.EMAIL_FILE_PATH, "outbox-up@example.com")


def test_an_outbox_row_rolls_back_with_the_user(lab):
    from django.db import transaction

    from accounts.outbox import enqueue
    from accounts.tasks import send_welcome_email

    with pytest.raises(RuntimeError), transaction.atomic():
        User.objects.create_user(username="rolled-back@example.com")
        enqueue(send_welcome_email, "rolled-back@example.com")
        raise RuntimeError("the rest of the request failed")
    assert not OutboxMessage.objects.filter(args=["rolled-back@example.com"]).exists()
    assert not User.objects.filter(username="rolled-back@example.com").exists()


def test_the_sweep_is_a_named_schedule_that_notebook_04s_beats_do_not_take(lab):
    (entry,) = settings.BEAT_SCHEDULES["outbox-sweep"].values()
    assert entry["task"] == relay_outbox.name and entry["schedule"] <= 10  # every few seconds
    assert relay_outbox.name not in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def test_a_beat_with_the_sweep_schedule_sends_rows_left_pending_each_once(lab, broker):
    OutboxMessage.objects.filter(sent_at=None).delete()  # only this test's rows wait
    broker.kill()
    browser = Client()
    with faults_05d.publishing_to(app, broker.url()), faults_05d.logs_silenced():
        for n in (1, 2):
            assert browser.post("/signup/", {"email": f"swept-t{n}@example.com"}).status_code == 201
    assert OutboxMessage.objects.filter(sent_at=None).count() == 2
    broker.start()
    sweep_env = {**on(broker), "SANDBOX_BEAT_SCHEDULE": "outbox-sweep"}
    with lab.start_worker("swept", env=on(broker)), lab.start_beat("sweep", env=sweep_env) as sweeper:
        wait_until(lambda: not OutboxMessage.objects.filter(sent_at=None).exists(), 60, "the outbox to empty")
        for n in (1, 2):
            wait_for_email(settings.EMAIL_FILE_PATH, f"swept-t{n}@example.com", timeout=60)
        wait_until(lambda: faults.on_broker(broker.client()) == 0, 30, "the broker to empty")
        assert beats.sent(sweeper, "relay-outbox")
    received = faults_05d.welcomes(settings.EMAIL_FILE_PATH)
    assert [received[f"swept-t{n}@example.com"] for n in (1, 2)] == [1, 1]


def test_two_relays_at_once_send_each_row_once(lab, broker):
    """The notebook's race: one relay with the rows' ids (their on-commit hooks), one sweep."""
    OutboxMessage.objects.filter(sent_at=None).delete()  # only this test's rows wait
    pending = [
        OutboxMessage.objects.create(task=send_welcome_email.name, args=[f"raced-t{n}@example.com"])
        for n in range(20)
    ]
    both_ready = threading.Barrier(2)

    def relay_together(pks):
        both_ready.wait()
        try:
            return relay(pks=pks)
        finally:
            db.connection.close()

    with faults_05d.publishing_to(app, broker.url()), ThreadPoolExecutor(2) as threads:
        sent_by_each = sorted(threads.map(relay_together, [[row.pk for row in pending], None]))
    assert sent_by_each == [0, 20]
    queued = faults_05d.queued_task_ids(broker.client())
    assert sorted(queued) == sorted(str(row.task_id) for row in pending)
    assert not OutboxMessage.objects.filter(sent_at=None).exists()


def test_beat_stopped_cleanly_after_sending_writes_the_file_and_sends_the_slot_once(lab, broker):
    assert sends_of_the_midnight_slot(broker, clean_stop=True) == 1
