"""Two ways a test run saves time: one execution per notebook, and the longest files first.

A mutation test of a notebook's self-checks runs inside the test run's execution of that notebook.

`try_answers` needs the notebook executed up to its cleanup cell. When nbval executes the same
notebook in this run, a test marked `@pytest.mark.notebook(path)` moves into that execution,
just before the cleanup cell, and its answers run in nbval's kernel: one execution of the
notebook instead of two. It keeps its name, prefixed by the notebook
(`notebooks/05b-….ipynb::test_exercises_05.test_…`), so xdist's `--dist loadfile` keeps it
on the notebook's worker, in order. When the notebook is not in the run, or some of its cells are
deselected, the test stays where it is and `try_answers` executes the notebook itself.

xdist (`--dist loadfile --no-loadscope-reorder`) hands whole files to its workers in collection
order, so the files are sorted by their measured seconds (FILE_SECONDS), longest first: the
run ends with short files on every worker instead of one worker finishing a long file alone.
A file not measured yet (a new notebook) goes first. Stale figures cost only time; refresh them
with a full run that adds `--record-file-seconds` to the Makefile's PYTEST_ARGS.
"""

import json
import math
from collections import Counter
from pathlib import Path

import pytest
from nbval.plugin import IPyNbCell, IPyNbFile

from cqlab.notebook.exercises import answers_run_in

FILE_SECONDS = Path(__file__).with_name("file_seconds.json")
_seconds_this_run: Counter[str] = Counter()


def pytest_addoption(parser):
    parser.addoption(
        "--record-file-seconds",
        action="store_true",
        help=f"write each test file's seconds into {FILE_SECONDS.name} (files run longest first)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "notebook(path): a mutation test of that notebook's self-checks (runs inside its nbval run if any)",
    )


class NotebookExerciseTest(pytest.Function):
    """A test function run inside a notebook's nbval run, with the notebook's kernel lent to it."""

    def runtest(self):
        with answers_run_in(self.parent.path, self.parent.kernel.kc):
            super().runtest()


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: move a test only into a whole notebook run
def pytest_collection_modifyitems(items):
    cells_by_notebook: dict[Path, list[IPyNbCell]] = {}
    for item in items:
        if isinstance(item, IPyNbCell):
            cells_by_notebook.setdefault(item.parent.path.resolve(), []).append(item)
    for test in [item for item in items if isinstance(item, pytest.Function)]:
        if not test.get_closest_marker("notebook"):
            continue
        cells = cells_by_notebook.get(Path(test.get_closest_marker("notebook").args[0]).resolve())
        if not cells or hasattr(test, "callspec") or not _whole(cells):
            continue
        notebook: IPyNbFile = cells[0].parent
        name = f"{test.path.stem}.{test.name}"
        moved = NotebookExerciseTest.from_parent(notebook, name=name, callobj=test.obj)
        items.remove(test)
        items.insert(items.index(cells[-1]), moved)  # just before the cleanup cell
    _longest_files_first(items)


def _file_of(nodeid: str) -> str:
    """The file part of a node id: xdist's `loadfile` unit (a moved mutation test has its notebook's)."""
    return nodeid.split("::", 1)[0]


def _measured() -> dict[str, int]:
    return json.loads(FILE_SECONDS.read_text()) if FILE_SECONDS.exists() else {}


def _longest_files_first(items: list[pytest.Item]) -> None:
    measured = _measured()
    not_measured = max(measured.values(), default=0) + 1
    # A stable sort: each file's items stay together and in their order.
    items.sort(key=lambda item: -measured.get(_file_of(item.nodeid), not_measured))


def _whole(cells: list[IPyNbCell]) -> bool:
    """Every code cell of the notebook is in the run (none deselected)."""
    return len(cells) == sum(cell.cell_type == "code" for cell in cells[0].parent.nb.cells)


def pytest_runtest_logreport(report):
    _seconds_this_run[_file_of(report.nodeid)] += report.duration


def pytest_sessionfinish(session):
    """Under xdist only the controller writes (it receives every worker's reports)."""
    if not session.config.getoption("record_file_seconds") or hasattr(session.config, "workerinput"):
        return
    measured = _measured()
    measured.update({path: math.ceil(seconds) for path, seconds in _seconds_this_run.items()})
    FILE_SECONDS.write_text(json.dumps(dict(sorted(measured.items())), indent=1) + "\n")
