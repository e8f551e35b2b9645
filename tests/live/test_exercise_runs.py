"""tests/conftest.py: a mutation test runs inside its notebook's nbval run, before the cleanup cell,
and stays in its own file when the notebook does not run whole; files run longest first."""

import json
import subprocess
import sys

from cqlab.paths import REPO_ROOT

NOTEBOOK = "notebooks/05b-lost-and-doubled-tasks.ipynb"
MUTATION_TEST = "tests/live/test_exercises_05.py"
MOVED = f"{NOTEBOOK}::test_exercises_05.test_self_checks_tell_right_from_wrong"


def collected(*args: str) -> list[str]:
    """Node ids in run order, as a separate pytest process collects them."""
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in listing.splitlines() if "::" in line]


def test_a_mutation_test_moves_into_its_notebooks_run_just_before_the_cleanup_cell_files_longest_first():
    ids = collected()  # the whole suite, as `make test` collects it
    cells = [nodeid for nodeid in ids if nodeid.startswith(f"{NOTEBOOK}::Cell ")]
    assert ids[ids.index(cells[-1]) - 1] == MOVED
    assert not any(nodeid.startswith(MUTATION_TEST) for nodeid in ids)
    measured = json.loads((REPO_ROOT / "tests" / "file_seconds.json").read_text())
    files = list(dict.fromkeys(nodeid.split("::")[0] for nodeid in ids))
    seconds = [measured.get(path, float("inf")) for path in files]
    assert seconds == sorted(seconds, reverse=True)


def test_a_mutation_test_stays_in_its_file_when_its_notebook_does_not_run_whole():
    ids = collected(MUTATION_TEST, f"{NOTEBOOK}::Cell 0", f"{NOTEBOOK}::Cell 28")
    assert f"{MUTATION_TEST}::test_self_checks_tell_right_from_wrong" in ids and MOVED not in ids
