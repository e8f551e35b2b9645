"""Workers and beat started by a notebook or a test die with it, even when it is killed."""

import signal
import subprocess
import sys
import uuid

from cqlab.infra import processes
from cqlab.paths import LOG_DIR
from cqlab.waiting import wait_until

# The child inherits the lab's environment (namespace, broker URL) from this pytest process.
ORPHAN_SCRIPT = """
import time
from cqlab.infra import processes
worker = processes.start_worker("orphan-check")
print(worker.pid, flush=True)
time.sleep(120)
"""


def test_worker_dies_when_its_parent_is_killed(lab):
    parent = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT], stdout=subprocess.PIPE, text=True)
    worker_group = int(parent.stdout.readline())
    assert processes.group_alive(worker_group)
    parent.send_signal(signal.SIGKILL)  # like a kernel killed from the Jupyter UI
    parent.wait()
    wait_until(lambda: not processes.group_alive(worker_group), 15, "the orphaned worker to die")


def test_stop_leaves_no_process_and_leftovers_sees_only_its_run(lab):
    run, other_run = uuid.uuid4().hex, uuid.uuid4().hex
    with processes.start_worker("other-run", env={processes.RUN_ID_VARIABLE: other_run}) as other:
        worker = processes.start_worker("stop-check", env={processes.RUN_ID_VARIABLE: run})
        assert any("stop-check@lab" in line for line in processes.leftovers(run, wait=0))
        group = worker.pid
        worker.stop()
        assert not processes.group_alive(group)
        assert processes.leftovers(run, wait=0) == []
        assert any("other-run@lab" in line for line in processes.leftovers(other_run, wait=0))
    assert other.popen.poll() is not None


def test_a_crashing_process_reports_its_log(lab):
    broken = processes.BoundProcess(
        "broken", [sys.executable, "-c", "raise SystemExit('boom')"], LOG_DIR / "tests-broken.log"
    )
    try:
        broken.wait_for_log("never printed", timeout=5)
    except processes.LabError as error:
        assert "broken exited" in str(error) and "boom" in str(error)
    else:
        raise AssertionError("wait_for_log should have failed")
