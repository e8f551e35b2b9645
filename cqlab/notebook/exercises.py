"""Check the self-checks: run a notebook's exercises with other answers than the reference.

An exercise is a solution cell (tag `solution`) and a check cell (tag `self-check`), both with
`"exercise": "NN-exK"` in their metadata. `try_answers` executes the notebook once in a real
kernel (all cells but the final cleanup), then for each exercise runs each answer in place of
the solution, followed by the exercise's check cell, and reports which answers passed.
A mutation test of the self-checks then says: this wrong answer fails, that correct one passes.
"""

from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

STUB = "# YOUR CODE HERE\nraise NotImplementedError"


def exercise_cells(notebook, tag: str) -> dict[str, nbformat.NotebookNode]:
    """Cells tagged `tag` (`solution` or `self-check`), by their exercise id."""
    return {
        cell.metadata["exercise"]: cell
        for cell in notebook.cells
        if tag in cell.metadata.get("tags", []) and "exercise" in cell.metadata
    }


def try_answers(path: Path, answers: dict[str, list[str]], timeout: float = 300) -> dict[str, list[bool]]:
    """For each exercise id, whether each answer (cell source) passes the exercise's self-check."""
    notebook = nbformat.read(path, as_version=4)
    checks = exercise_cells(notebook, "self-check")
    if missing := set(answers) - set(checks):
        raise KeyError(f"{path.name} has no self-check cell for {sorted(missing)}")
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    code = [(index, cell) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    *body, (cleanup_index, cleanup) = code
    results: dict[str, list[bool]] = {}
    with client.setup_kernel():
        for index, cell in body:
            client.execute_cell(cell, index)
        for exercise, sources in answers.items():
            results[exercise] = []
            for source in sources:
                try:
                    client.execute_cell(nbformat.v4.new_code_cell(source), cleanup_index)
                    client.execute_cell(nbformat.v4.new_code_cell(checks[exercise].source), cleanup_index)
                except CellExecutionError:
                    results[exercise].append(False)
                else:
                    results[exercise].append(True)
        client.execute_cell(cleanup, cleanup_index)
    return results
