"""The tasks of notebook 03 (`demos.tasks`), executed by a real worker process, and its helpers."""

import os
import signal
import time

import pytest
from celery import chord, group
from celery.exceptions import TimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from kombu.exceptions import EncodeError

from cqlab.infra import processes
from cqlab.lessons import queues
from demos import tasks
from demos.signup import signup_on_commit, signup_racy
from sandbox.celery import app as celery_app
from sandbox.env import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "03-celery-task-queues.ipynb"


@pytest.fixture(scope="module")
def worker(lab):
    """One real worker for this module (the shared per-test fixture would cost ~3 s a test)."""
    with processes.start_worker("t03-worker", concurrency=2) as process:
        yield process


def test_workflows_chain_group_chord(worker):
    assert (tasks.add.s(2, 2) | tasks.mul.s(10) | tasks.add.s(1))().get(timeout=10) == 41
    assert group(tasks.mul.s(n, n) for n in range(1, 6))().get(timeout=10) == [1, 4, 9, 16, 25]
    assert chord(tasks.mul.s(n, n) for n in range(1, 11))(tasks.tsum.s()).get(timeout=10) == 385


def test_flaky_call_retries_with_exponential_backoff(worker, lab):
    result = tasks.flaky_call.delay("test-backoff", 3)
    assert result.get(timeout=10) == "succeeded on attempt 4"
    gaps = queues.attempt_gaps(lab.redis(), "test-backoff")
    assert len(gaps) == 3
    assert all(gap >= tasks.BACKOFF_BASE_SECONDS * 2**n for n, gap in enumerate(gaps))


def test_states_started_only_when_tracked_and_retry_while_waiting(worker):
    assert "STARTED" not in queues.states_seen(tasks.nap.delay(0.4))
    assert "STARTED" in queues.states_seen(tasks.tracked_nap.delay(0.4))
    assert "RETRY" in queues.states_seen(tasks.flaky_call.delay("test-states", 2))


def test_soft_time_limit_lets_the_task_clean_up(worker):
    result = tasks.careful_job.apply_async((5,), soft_time_limit=0.3)
    assert result.get(timeout=5) == "interrupted by the soft time limit, cleaned up"


def test_hard_time_limit_kills_the_task(worker):
    result = tasks.nap.apply_async((5,), time_limit=0.3)
    result.get(timeout=5, propagate=False)
    assert result.state == "FAILURE"
    assert isinstance(result.result, TimeLimitExceeded)
    assert worker.wait_for_log("Hard time limit")


def test_progress_job_reports_progress(worker):
    job = tasks.progress_job.delay(5, 0.1)
    seen_progress = False
    deadline = time.monotonic() + 5
    while not job.ready() and time.monotonic() < deadline:
        seen_progress |= job.state == "PROGRESS" and job.info["total"] == 5
        time.sleep(0.02)
    assert seen_progress
    assert job.get(timeout=5) == {"done": 5, "total": 5}


def test_credit_once_is_idempotent(worker, lab):
    lab.redis().delete("balance", "credited:test-payment")
    results = [tasks.credit_once.delay("test-payment", 100) for _ in range(3)]
    assert sorted(result.get(timeout=5) for result in results) == ["already credited"] * 2 + ["credited"]
    assert int(lab.redis().get("balance")) == 100


def test_task_sent_inside_the_transaction_races_the_commit(worker):
    racy = signup_racy("test-racy@example.com")
    racy.get(timeout=5, propagate=False)
    assert racy.state == "FAILURE"
    assert isinstance(racy.result, User.DoesNotExist)
    assert signup_on_commit("test-on-commit@example.com").get(timeout=5) == "test-on-commit@example.com"


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


def test_unprefixed_setting_is_silently_ignored():
    broker = settings.CELERY_BROKER_URL
    assert queues.app_from_settings(CELERY_TASK_DEFAULT_QUEUE="x").conf.task_default_queue == "x"
    unprefixed = queues.app_from_settings(CELERY_BROKER_URL=broker, TASK_DEFAULT_QUEUE="x")
    assert unprefixed.conf.task_default_queue == "celery"


def test_the_sources_settings_give_no_result_backend():
    source_app = queues.app_from_settings(
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_ACCEPT_CONTENT=["json"],
        CELERY_TASK_SERIALIZER="json",
    )
    assert type(source_app.backend).__name__ == "DisabledBackend"
    assert os.environ["CELERY_RESULT_BACKEND"]  # the lab's variable is back for later workers


def test_two_workers_share_one_named_queue(lab):
    extra = ("--prefetch-multiplier=1",)
    first = lab.start_worker("t-io-a", concurrency=2, queues=["test-io"], extra_args=extra)
    second = lab.start_worker("t-io-b", concurrency=2, queues=["test-io"], extra_args=extra)
    try:
        batch = queues.run_batch(tasks.io_job, count=8, seconds=0.2, queue="test-io")
    finally:
        assert queues.stop_together(first, second)
    assert {run["worker"] for run in batch["runs"]} == {"t-io-a@lab", "t-io-b@lab"}
    assert batch["wall_s"] < 8 * 0.2 / 2  # at least twice as fast as one process


def test_requirement_chain_names_the_redis_client():
    assert any("redis<" in line or "redis>" in line for line in queues.requirement_chain("celery", "redis"))


def test_notebook_outputs_never_show_the_redis_password():
    if not NOTEBOOK.exists():
        pytest.skip("notebook not written yet")
    assert settings.REDIS_PASSWORD not in NOTEBOOK.read_text()
    assert settings.SECRET_KEY not in NOTEBOOK.read_text()


def test_killing_the_kernel_stops_the_worker_it_started(lab):
    """The notebook's own case: a worker started in a Jupyter kernel, the kernel SIGKILLed."""
    from jupyter_client.manager import start_new_kernel

    outputs: list[dict] = []
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(NOTEBOOK.parent))
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
    assert _wait_until_gone(group_id, timeout=15)
    manager.cleanup_resources()
    assert not any("kernel-kill-check@lab" in line for line in processes.leftovers())


def _wait_until_gone(group_id: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group_id, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
