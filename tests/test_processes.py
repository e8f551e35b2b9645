"""Workers and beat started by a notebook or a test die with it, even when it is killed."""

import os
import signal
import subprocess
import sys
import time

from cqlab import processes

# The child inherits the lab's environment (namespace, broker URL) from this pytest process.
ORPHAN_SCRIPT = """
import time
from cqlab import processes
worker = processes.start_worker("orphan-check")
print(worker.pid, flush=True)
time.sleep(120)
"""


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_worker_dies_when_its_parent_is_killed(lab):
    parent = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT], stdout=subprocess.PIPE, text=True)
    worker_group = int(parent.stdout.readline())
    assert group_alive(worker_group)
    parent.send_signal(signal.SIGKILL)  # like a kernel killed from the Jupyter UI
    parent.wait()
    assert wait_until(lambda: not group_alive(worker_group), timeout=15)


def test_stop_leaves_no_process(lab):
    worker = processes.start_worker("stop-check")
    group = worker.pid
    worker.stop()
    assert not group_alive(group)
    assert not any("stop-check@lab" in line for line in processes.leftovers())


def test_a_crashing_process_reports_its_log(lab):
    broken = processes.BoundProcess(
        "broken", [sys.executable, "-c", "raise SystemExit('boom')"], processes.LOG_DIR / "tests-broken.log"
    )
    try:
        broken.wait_for_log("never printed", timeout=5)
    except processes.LabError as error:
        assert "broken exited" in str(error) and "boom" in str(error)
    else:
        raise AssertionError("wait_for_log should have failed")
