"""The student edition of one course notebook, run for real: each stub fails its self-check,
each reference solution from the appendix's source passes it (one notebook run).

The notebook is the course notebook with exercises that has the fewest code cells (the cheapest
run); the stubs are read from its generated student edition. Until a course notebook carries
self-check cells, the small notebook of tests/unit/test_student.py stands in.
"""

from pathlib import Path

import nbformat

from cqlab.notebook import editions
from cqlab.notebook.exercises import exercise_cells, try_answers
from cqlab.paths import NOTEBOOKS_DIR
from tests.unit.test_student import small_course_notebook


def cheapest_notebook_with_exercises(tmp_path: Path) -> Path:
    def code_cells(path: Path) -> int:
        return sum(cell.cell_type == "code" for cell in nbformat.read(path, as_version=4).cells)

    with_checks = [
        path
        for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
        if exercise_cells(nbformat.read(path, as_version=4), "self-check")
    ]
    if not with_checks:
        return small_course_notebook(tmp_path / "99-small.ipynb")
    return min(with_checks, key=code_cells)


def test_every_stub_fails_and_every_reference_passes(tmp_path):
    original = cheapest_notebook_with_exercises(tmp_path)
    (student_path,) = editions.write_editions([original], tmp_path / "student")
    stubs = exercise_cells(nbformat.read(student_path, as_version=4), "solution")
    references = exercise_cells(nbformat.read(original, as_version=4), "solution")
    checked = set(exercise_cells(nbformat.read(original, as_version=4), "self-check"))
    answers = {exercise: [stubs[exercise].source, references[exercise].source] for exercise in checked}
    results = try_answers(original, answers)
    assert results == {exercise: [False, True] for exercise in checked}, original.name
