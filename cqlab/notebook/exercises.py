"""Check the self-checks: run a notebook's exercises with other answers than the reference.

An exercise is a solution cell (tag `solution`) and a check cell (tag `self-check`), both with
`"exercise": "NN-exK"` in their metadata. `try_answers` needs the notebook executed (all cells
but the final cleanup); then for each exercise it runs each answer in place of the solution,
followed by the exercise's check cell, and reports which answers passed.
A mutation test of the self-checks then says: this wrong answer fails, that correct one passes.

Where the notebook is executed: a full test run already executes every notebook under nbval, so
`tests/conftest.py` runs a mutation test marked `@pytest.mark.notebook(path)` inside that run,
just before the cleanup cell, and lends it the kernel (`answers_run_in`): the notebook then runs
once per test run, not twice. On its own (`pytest tests/live/test_exercises_05.py`),
`try_answers` executes the notebook in a kernel of its own.
"""

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
from jupyter_client import KernelClient, KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

STUB = "# YOUR CODE HERE\nraise NotImplementedError"

# Notebooks whose kernel a test run lends (executed up to the cleanup cell), by resolved path.
_lent_kernels: dict[Path, KernelClient] = {}


def exercise_cells(notebook, tag: str) -> dict[str, nbformat.NotebookNode]:
    """Cells tagged `tag` (`solution` or `self-check`), by their exercise id."""
    return {
        cell.metadata["exercise"]: cell
        for cell in notebook.cells
        if tag in cell.metadata.get("tags", []) and "exercise" in cell.metadata
    }


@contextlib.contextmanager
def answers_run_in(path: Path, kernel: KernelClient) -> Iterator[None]:
    """Inside this block, `try_answers(path, ...)` runs in `kernel`, which executed all but the cleanup."""
    key = Path(path).resolve()
    _lent_kernels[key] = kernel
    try:
        yield
    finally:
        del _lent_kernels[key]


def try_answers(path: Path, answers: dict[str, list[str]], timeout: float = 300) -> dict[str, list[bool]]:
    """For each exercise id, whether each answer (cell source) passes the exercise's self-check."""
    notebook = nbformat.read(path, as_version=4)
    checks = exercise_cells(notebook, "self-check")
    if missing := set(answers) - set(checks):
        raise KeyError(f"{path.name} has no self-check cell for {sorted(missing)}")
    if (kernel := _lent_kernels.get(Path(path).resolve())) is not None:
        return _check_answers(answers, checks, lambda source: _succeeds_in(kernel, source, timeout))
    return _check_answers_in_own_run(path, notebook, answers, checks, timeout)


def _check_answers(
    answers: dict[str, list[str]],
    checks: dict[str, nbformat.NotebookNode],
    succeeds: Callable[[str], bool],
) -> dict[str, list[bool]]:
    """Each answer, then its exercise's check cell: did both run without an error?"""
    return {
        exercise: [succeeds(source) and succeeds(checks[exercise].source) for source in sources]
        for exercise, sources in answers.items()
    }


def _succeeds_in(kernel: KernelClient, source: str, timeout: float) -> bool:
    """Run `source` in a lent kernel, its output discarded (the test run compares no output here)."""
    reply = kernel.execute_interactive(source, timeout=timeout, allow_stdin=False, output_hook=lambda _: None)
    return reply["content"]["status"] == "ok"


def _check_answers_in_own_run(path, notebook, answers, checks, timeout) -> dict[str, list[bool]]:
    """Execute the notebook in a kernel of its own (all cells but the cleanup), check, then clean up."""
    # The kernel on unix sockets of its own: a TCP port picked as free can be taken by another
    # process before the kernel binds it (a soak saw one die of "Address already in use").
    sockets = tempfile.TemporaryDirectory(prefix="kernel-")
    kernel = KernelManager(kernel_name="python3", transport="ipc", ip=f"{sockets.name}/kernel")
    client = NotebookClient(
        notebook, km=kernel, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}
    )
    code = [(index, cell) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    *body, (cleanup_index, cleanup) = code

    def succeeds(source: str) -> bool:
        try:
            client.execute_cell(nbformat.v4.new_code_cell(source), cleanup_index)
        except CellExecutionError:
            return False
        return True

    with sockets, client.setup_kernel():
        for index, cell in body:
            client.execute_cell(cell, index)
        results = _check_answers(answers, checks, succeeds)
        client.execute_cell(cleanup, cleanup_index)
    return results
