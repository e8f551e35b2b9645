"""`make test` beside `make lab`: a test run leaves an open notebook and its worker unharmed.

A kernel-like process sets up notebook 00's namespace on this run's servers (the "lab") and keeps
a worker running, with a key and a database row of its own. Beside it, a nested `python -m cqlab
check -- pytest notebooks/00-setup-check.ipynb` runs the same notebook, which resets namespace nb00
and starts and stops workers of its own. Afterwards the learner's worker still answers and runs
tasks, its key and row are still there, and the nested run reports no leftover of its own.
"""

import subprocess
import sys

from cqlab.paths import REPO_ROOT

LEARNER = """
import sys
from cqlab.notebook import setup

lab = setup("00")
worker = lab.start_worker("learner")
lab.redis().set("learner:draft", "my notes")
from django.contrib.auth.models import User  # a row in nb00's SQLite

User.objects.create_user("learner")
print("ready", flush=True)
sys.stdin.readline()
from demos.tasks import add

print(add.delay(20, 22).get(timeout=20), lab.redis().get("learner:draft").decode(),
      User.objects.filter(username="learner").count(), worker.alive(), flush=True)
lab.cleanup()
"""


def test_a_test_run_beside_an_open_lab_leaves_it_unharmed(lab):
    learner = subprocess.Popen(
        [sys.executable, "-c", LEARNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert learner.stdout.readline().startswith("Lab ready")
        assert learner.stdout.readline().strip() == "ready"
        nested = subprocess.run(
            [
                sys.executable,
                "-m",
                "cqlab",
                "check",
                "--",
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:xdist",
                "notebooks/00-setup-check.ipynb",
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert nested.returncode == 0, nested.stdout[-3000:] + nested.stderr[-2000:]
        assert "no lab process left running" in nested.stdout
        report, _ = learner.communicate("check\n", timeout=60)
    finally:
        learner.kill()
    assert report.split("\n")[-2].split() == ["42", "my", "notes", "1", "True"]
