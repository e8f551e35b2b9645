"""Notebook 05d's faults against real processes: each protection on and off, different counts."""

import json
import os
import signal

from cqlab.infra.throwaway import ThrowawayRedis
from cqlab.lessons import faults
from cqlab.waiting import wait_until
from faults.redelivery import DEAD_LETTER_QUEUE
from faults.tasks import charge_acks_late, counts, poison, poison_bounded
from sandbox.celery import app


def redelivery_args(visibility_timeout: float) -> tuple[str, ...]:
    options = {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
    return ("--", "broker_transport_options=(json)" + json.dumps(options))


def test_a_poison_message_loops_until_bounded(lab):
    with ThrowawayRedis() as broker, app.connection_for_write(broker.url()) as connection:
        env = {"CELERY_BROKER_URL": broker.url()}
        run = faults.new_run("poison")
        with lab.start_worker("poison", env=env) as worker:
            poison.apply_async([run], connection=connection)
            faults.counts_when(run, lambda ledger: ledger.get("started", 0) >= 5)
            os.killpg(worker.pid, signal.SIGKILL)
        print(counts(run), faults.on_broker(broker.client()))
        broker.client().flushdb()
        run = faults.new_run("bounded")
        with lab.start_worker("bounded", env=env):
            poison_bounded.apply_async([run], connection=connection)
            client = broker.client()
            wait_until(lambda: client.llen(DEAD_LETTER_QUEUE) == 1 and faults.on_broker(client) == 0, 30)
        print(counts(run), client.llen(DEAD_LETTER_QUEUE))


def test_a_task_longer_than_the_visibility_timeout(lab):
    for vt, guarded in ((2, False), (2, True), (30, False)):
        with ThrowawayRedis() as broker, app.connection_for_write(broker.url()) as connection:
            env = {"CELERY_BROKER_URL": broker.url()}
            run = faults.new_run("long")
            with lab.start_worker("long", concurrency=2, env=env, extra_args=redelivery_args(vt)) as worker:
                charge_acks_late.apply_async([run, 6, guarded], connection=connection)
                if vt == 30:
                    got = faults.counts_when(run, lambda ledger: ledger.get("finished"))
                elif guarded:
                    got = faults.counts_when(run, lambda ledger: ledger.get("finished", 0) >= 2)
                else:
                    got = faults.counts_when(run, lambda ledger: ledger.get("effect", 0) >= 2)
                os.killpg(worker.pid, signal.SIGKILL)
            print(vt, guarded, got, counts(run))


def test_beat_killed_after_sending_sends_the_slot_again(lab):
    from cqlab.lessons import beat as beats

    beats.remove_schedule_files()
    with ThrowawayRedis() as broker:
        env = {"CELERY_BROKER_URL": broker.url()}
        client = broker.client()
        first = beats.start_beat_at("killed", "2026-12-31T23:59:58+00:00", env=env, loglevel="debug")
        wait_until(lambda: client.llen("celery") >= 1, 30)
        os.killpg(first.pid, signal.SIGKILL)
        first.stop()
        print(beats.last_runs("killed"), beats.sent(first))
        second = beats.start_beat_at("killed", "2027-01-01T00:00:02+00:00", env=env, loglevel="debug")
        beats.wait_until_asleep(second)
        print(client.llen("celery"), beats.sent(second))
        second.stop()
        print(first.log()[-3000:])
        with lab.start_worker("daily", env=env) as worker:
            print(beats.wait_for_results(worker, 2))


def test_signup_with_the_broker_down(lab):
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client
    from accounts.models import OutboxMessage
    from accounts.outbox import relay

    from cqlab.lessons import faults_05d
    from cqlab.lessons.queues import wait_for_email

    broker = ThrowawayRedis().start()
    env = {"CELERY_BROKER_URL": broker.url()}
    with faults_05d.publishing_to(app, broker.url()):
        client = Client(raise_request_exception=False)
        print(client.post("/signup/", {"email": "up@example.com"}).json(), broker.client().llen("celery"))
        broker.kill()
        import time

        t = time.perf_counter()
        r1 = client.post("/signup/without-outbox/", {"email": "lost@example.com"})
        t1 = time.perf_counter() - t
        t = time.perf_counter()
        r2 = client.post("/signup/", {"email": "kept@example.com"})
        t2 = time.perf_counter() - t
        print(r1.status_code, r2.status_code, r2.json(), t1, t2)
        print(
            list(User.objects.values_list("username", flat=True)),
            [str(m) for m in OutboxMessage.objects.all()],
        )
        broker.start()
        t = time.perf_counter()
        print("relayed", relay(), time.perf_counter() - t)
        with lab.start_worker("mail", env=env):
            wait_for_email(settings.EMAIL_FILE_PATH, "kept@example.com")
            wait_for_email(settings.EMAIL_FILE_PATH, "up@example.com")
        print(sorted(p.read_text().count("To:") for p in settings.EMAIL_FILE_PATH.glob("*.log")))
    broker.stop()
