"""Student editions: solutions become the stub, nothing else changes, the appendix keeps them.

A kernel, no server: the mutation check runs a small notebook made here, so this tier stays
service-free. On the course notebooks themselves, nbval runs each reference solution and its
self-check, and tests/live/test_exercises_NN.py runs each self-check against this same stub: with the
stub-equality checked here, every student stub is known to fail and every reference to pass.
"""

from pathlib import Path

import nbformat
import pytest

from cqlab.notebook import editions
from cqlab.notebook.exercises import STUB, exercise_cells, try_answers
from cqlab.paths import NOTEBOOKS_DIR

REFERENCE = "def double(n):\n    return 2 * n"
CHECK = "assert double(21) == 42, 'double(21) should be 42'\nprint('ex1: correct')"


def small_course_notebook(path: Path) -> Path:
    """Shaped like a course notebook: intro, a cell with output, one exercise, cleanup."""
    notebook = nbformat.v4.new_notebook()
    solution = nbformat.v4.new_code_cell(REFERENCE, metadata={"tags": ["solution"], "exercise": "99-ex1"})
    solution.outputs = [nbformat.v4.new_output("stream", text="defined\n")]
    check = nbformat.v4.new_code_cell(CHECK, metadata={"tags": ["self-check"], "exercise": "99-ex1"})
    check.outputs = [nbformat.v4.new_output("stream", text="ex1: correct\n")]
    shown = nbformat.v4.new_code_cell("print(6 * 7)")
    shown.outputs = [nbformat.v4.new_output("stream", text="42\n")]
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# 99 · A small notebook\n\nTime to read and run: 1 min."),
        shown,
        solution,
        check,
        nbformat.v4.new_code_cell("print('cleaned up')"),
    ]
    nbformat.write(notebook, path)
    return path


def assert_student_edition(original_path: Path, student_path: Path) -> None:
    original = nbformat.read(original_path, as_version=4)
    student = nbformat.read(student_path, as_version=4)
    for before, after in zip(original.cells, student.cells, strict=True):
        if editions.is_solution(before):
            assert after.source == STUB
            assert after.outputs == []
            assert after.metadata == before.metadata  # tags and exercise id kept: the self-check finds it
        else:
            assert after == before


def test_small_notebook_stub_fails_and_reference_passes_its_self_check(tmp_path):
    original = small_course_notebook(tmp_path / "99-small.ipynb")
    (student_path,) = editions.write_editions([original], tmp_path / "student")
    assert_student_edition(original, student_path)
    appendix = (tmp_path / "student" / "solutions" / "99-small.md").read_text()
    assert f"## 99-ex1\n\n```python\n{REFERENCE}\n```" in appendix

    stub = exercise_cells(nbformat.read(student_path, as_version=4), "solution")["99-ex1"].source
    assert try_answers(original, {"99-ex1": [stub, REFERENCE]}, timeout=120) == {"99-ex1": [False, True]}


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda path: path.stem)
def test_course_notebook_student_edition(notebook, tmp_path):
    (student_path,) = editions.write_editions([notebook], tmp_path)
    assert_student_edition(notebook, student_path)
    cells = nbformat.read(notebook, as_version=4).cells
    solutions = [cell.source for cell in cells if editions.is_solution(cell)]
    appendix = (tmp_path / "solutions" / f"{notebook.stem}.md").read_text()
    assert all(f"```python\n{source}\n```" in appendix for source in solutions)
