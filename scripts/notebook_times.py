"""`make times`: docs/teaching.md's table, measured: each notebook's run, reading time and exercises.

Each notebook runs alone, one after the other, under strict nbval (as `make test` checks it), so the
run time is the notebook's own, not shared with other runs. Reading time is the words of its markdown
cells at 200 words a minute. Usage: python scripts/notebook_times.py [NOTEBOOK ...]   (every notebook
by default); --no-run counts reading and exercises only.
"""

import subprocess
import sys
import time
from pathlib import Path

import nbformat

from cqlab.paths import NOTEBOOKS_DIR, REPO_ROOT

WORDS_PER_MINUTE = 200


def reading_minutes(notebook: nbformat.NotebookNode) -> int:
    words = sum(len(cell.source.split()) for cell in notebook.cells if cell.cell_type == "markdown")
    return max(1, round(words / WORDS_PER_MINUTE))


def exercise_count(notebook: nbformat.NotebookNode) -> int:
    return len({cell.metadata["exercise"] for cell in notebook.cells if "exercise" in cell.metadata})


def run_seconds(path: Path) -> float | str:
    """Wall time of the notebook's strict nbval run, or why it did not pass."""
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:xdist", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    return seconds if run.returncode == 0 else f"failed (pytest exit status {run.returncode})"


def as_text(seconds: float | str) -> str:
    if isinstance(seconds, str):
        return seconds
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def main() -> int:
    measure = "--no-run" not in sys.argv
    named = [Path(argument) for argument in sys.argv[1:] if argument != "--no-run"]
    paths = [path.resolve() for path in named] or sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    print("| Notebook | Run (measured) | Reading (estimate) | Exercises |\n|---|---|---|---|")
    failed = False
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        seconds = run_seconds(path) if measure else "not run"
        failed |= isinstance(seconds, str) and measure
        reading = f"{reading_minutes(notebook)} min"
        row = [f"`{path.stem}`", as_text(seconds), reading, str(exercise_count(notebook))]
        print(f"| {' | '.join(row)} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
