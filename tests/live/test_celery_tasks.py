"""The tasks of notebooks 03a and 03b (`demos.tasks`), run by real worker processes, and their helpers."""

import os
import signal

import psutil
import pytest
from celery import Celery, chord, group, states
from celery.exceptions import TimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from kombu.exceptions import EncodeError

from cqlab.infra import processes
from cqlab.lessons import queues
from cqlab.waiting import wait_until
from demos import tasks
from demos.signup import signup_on_commit, signup_racy
from sandbox.celery import app as celery_app
from sandbox.env import REPO_ROOT

NOTEBOOKS = [
    REPO_ROOT / "notebooks" / "03a-celery-with-django.ipynb",
    REPO_ROOT / "notebooks" / "03b-celery-in-production.ipynb",
]


@pytest.fixture(scope="module")
def worker(lab):
    """One real worker for this module (the shared per-test fixture would cost ~3 s a test)."""
    with processes.start_worker("t03-worker", concurrency=2) as process:
        yield process


def test_workflows_chain_group_chord(worker):
    assert (tasks.add.s(2, 2) | tasks.mul.s(10) | tasks.add.s(1))().get(timeout=10) == 41
    assert group(tasks.mul.s(n, n) for n in range(1, 6))().get(timeout=10) == [1, 4, 9, 16, 25]
    assert chord(tasks.mul.s(n, n) for n in range(1, 11))(tasks.tsum.s()).get(timeout=10) == 385


def states_seen(result) -> list[str]:
    """The distinct states of a task, one backend read per poll (as notebook 03a does)."""
    seen: list[str] = []

    def ready():
        state = result.state
        if not seen or seen[-1] != state:
            seen.append(state)
        return state in states.READY_STATES

    wait_until(ready, 30, f"task {result.id} to be ready")
    return seen


def test_flaky_call_retries_with_exponential_backoff(worker, lab):
    result = tasks.flaky_call.delay("test-backoff", 2)
    assert result.get(timeout=20) == "succeeded on attempt 3"
    attempts = [float(stamp) for stamp in lab.redis().lrange("attempts:test-backoff", 0, -1)]
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert len(gaps) == 2
    assert all(gap >= 0.9 * 2**n for n, gap in enumerate(gaps))  # retry_backoff=1: 1 s, 2 s


def test_states_started_only_when_tracked_and_retry_while_waiting(worker):
    assert "STARTED" not in states_seen(tasks.nap.delay(0.4))
    assert "STARTED" in states_seen(tasks.tracked_nap.delay(1))
    seen = states_seen(tasks.flaky_call.delay("test-states", 1))
    assert "RETRY" in seen and seen[-1] == "SUCCESS"


def test_soft_time_limit_lets_the_task_clean_up(worker):
    run = tasks.limited_job.delay(3).get(timeout=10)
    assert run["outcome"] == "interrupted by the soft limit, cleaned up"


def test_hard_time_limit_kills_a_cleanup_that_overstays(worker):
    result = tasks.limited_job.delay(3, cleanup_seconds=3)
    result.get(timeout=10, propagate=False)
    assert result.state == "FAILURE"
    assert isinstance(result.result, TimeLimitExceeded)


@pytest.mark.parametrize("pool", ["solo", "threads"])
def test_solo_and_threads_pools_enforce_no_time_limit(lab, pool):
    with processes.start_worker(f"t-{pool}", pool=pool, queues=[f"t-{pool}"]):
        run = tasks.limited_job.apply_async((2,), queue=f"t-{pool}").get(timeout=15)
    assert run["outcome"] == "finished"
    assert run["seconds"] > 1.5  # past the hard limit


def test_progress_job_reports_progress(worker):
    job = tasks.progress_job.delay(5, 0.1)
    seen = []

    def finished():
        meta = job.backend.get_task_meta(job.id)  # state and info from one read
        seen.append((meta["status"], meta["result"]))
        return meta["status"] in states.READY_STATES

    wait_until(finished, 10, "progress_job to finish")
    assert any(status == "PROGRESS" and info["total"] == 5 for status, info in seen)
    assert job.get(timeout=5) == {"done": 5, "total": 5}


def test_credit_once_is_idempotent(worker, lab):
    lab.redis().delete("balance", "credited:test-payment")
    results = [tasks.credit_once.delay("test-payment", 100) for _ in range(3)]
    assert sorted(result.get(timeout=5) for result in results) == ["already credited"] * 2 + ["credited"]
    assert int(lab.redis().get("balance")) == 100


def test_task_sent_inside_the_transaction_races_the_commit(worker):
    from django.db import transaction

    with transaction.atomic():  # the rest of a slow request keeps the transaction open
        racy = signup_racy("test-racy@example.com")
        racy.get(timeout=10, propagate=False)
    assert racy.state == "FAILURE"
    assert isinstance(racy.result, User.DoesNotExist)
    with transaction.atomic():
        safe = signup_on_commit("test-on-commit@example.com")
        assert safe.state == "PENDING"  # not sent before COMMIT
    assert safe.get(timeout=10) == "test-on-commit@example.com"


def test_signup_view_queues_the_email_and_the_worker_sends_it(worker):
    response = Client().post("/signup/", {"email": "test-queued@example.com"})
    assert response.status_code == 201
    assert response.json()["welcome"] == "queued"
    message = queues.wait_for_email(settings.EMAIL_FILE_PATH, "test-queued@example.com")
    assert "thanks for signing up" in message.get_payload()


def test_json_travels_datetime_but_not_models_or_sets(worker):
    assert tasks.describe.delay((1, 2)).get(timeout=5)["type"] == "list"
    with pytest.raises(EncodeError, match="User is not JSON serializable"):
        tasks.describe.delay(User(username="nobody"))
    with pytest.raises(EncodeError, match="set is not JSON serializable"):
        tasks.describe.delay({1, 2})


def test_json_only_worker_refuses_a_pickle_message(worker, tmp_path):
    proof = tmp_path / "pickle-was-executed"
    task_id = queues.send_pickled_task(celery_app, "demos.tasks.describe", proof)
    assert "Refusing to deserialize untrusted content of type pickle" in worker.wait_for_log(
        "Received invalid task message"
    )
    assert not proof.exists()
    assert celery_app.AsyncResult(task_id).state == "PENDING"


def test_unregistered_task_is_recorded_as_not_registered(worker):
    result = celery_app.send_task("demos.tasks.no_such_task", args=(1,))
    result.get(timeout=5, propagate=False)
    assert type(result.result).__name__ == "NotRegistered"
    assert worker.wait_for_log("Received unregistered task of type 'demos.tasks.no_such_task'")


def test_expired_task_is_revoked(worker):
    result = tasks.add.apply_async((2, 2), countdown=1, expires=0.5)
    result.get(timeout=5, propagate=False)
    assert result.state == "REVOKED"


def recipe_app(**django_settings) -> Celery:
    """An app configured as notebook 03a does, from a settings object holding just these names."""
    from types import SimpleNamespace

    app = Celery("recipe", set_as_current=False)
    app.config_from_object(SimpleNamespace(**django_settings), namespace="CELERY")
    return app


def test_unprefixed_setting_is_silently_ignored():
    broker = settings.CELERY_BROKER_URL
    assert recipe_app(CELERY_TASK_DEFAULT_QUEUE="x").conf.task_default_queue == "x"
    assert recipe_app(CELERY_BROKER_URL=broker, TASK_DEFAULT_QUEUE="x").conf.task_default_queue == "celery"


def test_the_sources_settings_give_no_result_backend(monkeypatch):
    monkeypatch.delenv("CELERY_RESULT_BACKEND")
    source_app = recipe_app(
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_ACCEPT_CONTENT=["json"],
        CELERY_TASK_SERIALIZER="json",
    )
    assert type(source_app.backend).__name__ == "DisabledBackend"


def test_two_workers_share_one_named_queue(lab):
    extra = ("--prefetch-multiplier=1",)
    first = lab.start_worker("t-io-a", concurrency=2, queues=["test-io"], extra_args=extra)
    second = lab.start_worker("t-io-b", concurrency=2, queues=["test-io"], extra_args=extra)
    try:
        batch = queues.run_batch(lambda: tasks.io_job.apply_async((0.2,), queue="test-io"), count=8)
    finally:
        assert queues.stop_together(first, second)
    assert {run["worker"] for run in batch["runs"]} == {"t-io-a@lab", "t-io-b@lab"}
    assert batch["wall_s"] < 8 * 0.2 / 2  # at least twice as fast as one process


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_outputs_never_show_the_redis_password(notebook):
    assert settings.REDIS_PASSWORD not in notebook.read_text()
    assert settings.SECRET_KEY not in notebook.read_text()


def test_killing_the_kernel_stops_the_worker_it_started(lab):
    """The notebook's own case: a worker started in a Jupyter kernel, the kernel SIGKILLed."""
    from jupyter_client.manager import start_new_kernel

    outputs: list[dict] = []
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(NOTEBOOKS[0].parent))
    try:
        # Same call as the notebook's `lab.start_worker`; the kernel inherits this lab's environment.
        reply = client.execute_interactive(
            "from cqlab.infra import processes\n"
            "worker = processes.start_worker('kernel-kill-check', pool='solo')\n"
            "print(worker.pid)",
            timeout=60,
            output_hook=lambda message: outputs.append(message),
        )
    except Exception:
        manager.shutdown_kernel(now=True)
        raise
    assert reply["content"]["status"] == "ok"
    group_id = int(next(m["content"]["text"] for m in outputs if m["msg_type"] == "stream"))
    os.killpg(group_id, 0)  # alive
    os.kill(manager.provisioner.process.pid, signal.SIGKILL)
    client.stop_channels()
    wait_until(lambda: not processes.group_alive(group_id), 15, "the worker's process group to end")
    manager.cleanup_resources()
    named = [
        proc
        for proc in psutil.process_iter(["cmdline"])
        if "kernel-kill-check@lab" in (proc.info["cmdline"] or [])
    ]
    assert not named
