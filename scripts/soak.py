"""`make soak`: every notebook under strict nbval N times quiet and N times with both cores busy,
then the tests in tests/ 3 times; a pass count per notebook and per failing test.

No rerun or retry plugin runs here: a failure counts. Exit status 1 on any failure.
Usage: python scripts/soak.py [N [NOTEBOOK ...]]   (N=5; every notebook and the tests by default;
naming notebooks soaks just those, without the tests)
"""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

from cqlab.infra.processes import BoundProcess
from cqlab.paths import LOG_DIR, NOTEBOOKS_DIR, REPO_ROOT

# Whole files to workers, longest first (tests/conftest.py orders them), as `make test` does.
PYTEST = [sys.executable, "-m", "pytest", "-q", "-n", "3", "--dist", "loadfile", "--no-loadscope-reorder"]
PYTEST += ["-p", "no:randomly"]
BUSY_LOOP = [sys.executable, "-c", "while True: pass"]
ALL_NOTEBOOKS = [str(path.relative_to(REPO_ROOT)) for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb"))]


def run_pytest(targets: list[str]) -> tuple[Counter, Counter, list[str]]:
    """One pytest run; per file: (files whose every item passed, files seen), and failing items."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "junit.xml"
        run = subprocess.run(
            [*PYTEST, f"--junitxml={report}", *targets], cwd=REPO_ROOT, capture_output=True, text=True
        )
        cases = ElementTree.parse(report).getroot().iter("testcase")
        seen, failed_files, failures = Counter(), set(), []
        for case in cases:
            # "notebooks.03-x.ipynb" for a notebook's cells, "tests.live.test_x[.Class]" for a test
            path = case.get("classname", "")
            seen[path] = 1
            if case.find("failure") is not None or case.find("error") is not None:
                failed_files.add(path)
                failures.append(f"{case.get('classname')}::{case.get('name')}")
    nothing_ran = run.returncode and not failures  # e.g. a collection error: nothing passed
    if nothing_ran:
        failures.append(f"pytest exited {run.returncode}")
    passed = Counter({path: 1 for path in seen if path not in failed_files and not nothing_ran})
    if failures:  # keep what pytest said, to find out why
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        saved = LOG_DIR / f"soak-failure-{os.getpid()}-{len(list(LOG_DIR.glob('soak-failure-*')))}.log"
        saved.write_text(run.stdout[-20000:] + run.stderr[-20000:])
        failures.append(f"(pytest's output: {saved.relative_to(REPO_ROOT)})")
    return passed, seen, failures


def soak_notebooks(notebooks: list[str], rounds: int, loaded: bool) -> tuple[Counter, Counter]:
    passed, total = Counter(), Counter()
    burners = (
        [BoundProcess(f"busy-{n}", BUSY_LOOP, LOG_DIR / f"soak-busy-{n}.log") for n in range(2)]
        if loaded
        else []
    )
    try:
        for round_number in range(1, rounds + 1):
            ok, _, failures = run_pytest(notebooks)
            passed.update(ok)
            # Every notebook asked for counts as a run, whether pytest got to it or not.
            total.update(f"notebooks.{Path(notebook).name}" for notebook in notebooks)
            label = "loaded" if loaded else "quiet"
            print(
                f"notebooks, {label}, round {round_number}: {len(failures)} failing cells {failures[:5]}",
                flush=True,
            )
    finally:
        for burner in burners:
            burner.stop()
    return passed, total


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    notebooks = sys.argv[2:] or ALL_NOTEBOOKS
    quiet = soak_notebooks(notebooks, rounds, loaded=False)
    loaded = soak_notebooks(notebooks, rounds, loaded=True)
    test_failures: Counter = Counter()
    for round_number in range(1, 4 if notebooks == ALL_NOTEBOOKS else 1):
        _, _, failures = run_pytest(["tests"])
        test_failures.update(failures)
        print(f"tests, round {round_number}: {len(failures)} failing {failures[:5]}", flush=True)

    print("\n| notebook | quiet | loaded (2 cores busy) |\n|---|---|---|")
    for notebook in sorted(quiet[1]):
        counts = [f"{passed[notebook]}/{total[notebook]}" for passed, total in (quiet, loaded)]
        print(f"| {notebook.removeprefix('notebooks.')} | {' | '.join(counts)} |")
    if notebooks == ALL_NOTEBOOKS:
        print(f"\ntests/: 3 runs, {len(test_failures)} distinct failing tests")
    for test, count in test_failures.most_common():
        print(f"  {test}: passed {3 - count}/3")
    all_passed = not test_failures and quiet[0] == quiet[1] and loaded[0] == loaded[1]
    print("soak: PASS" if all_passed else "soak: FAIL")
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(main())
