"""Student editions: each notebook with its reference solutions replaced by a stub.

Built with nbconvert (already installed with JupyterLab): a `Preprocessor` that turns every cell
tagged `solution` into `STUB` with its outputs cleared, run by nbconvert's `NotebookExporter`,
so the notebook is read and written by nbformat, never edited as raw JSON. Self-check cells and
every other cell keep their source and their outputs. The removed solutions are collected into a
Markdown appendix per notebook. nbgrader does the same job but brings a database, its own
`### BEGIN SOLUTION` markers and a grading workflow the course does not use.

Both languages: the English notebooks → build/student/, the Russian edition (notebooks/ru/) →
build/student/ru/, each with its solutions/ appendix in its language.

    python -m cqlab.notebook.editions [NOTEBOOK ...]   (default: notebooks/*.ipynb and notebooks/ru/*.ipynb)
"""

import shutil
import sys
from pathlib import Path

from nbconvert.exporters import NotebookExporter
from nbconvert.preprocessors import Preprocessor

from cqlab.notebook.exercises import STUB
from cqlab.notebook.translations import RU_DIR
from cqlab.paths import NOTEBOOKS_DIR, REPO_ROOT

STUDENT_DIR = REPO_ROOT / "build" / "student"
SOLUTIONS_DIR = STUDENT_DIR / "solutions"
# The appendix's own words, per language of the edition (the solutions are code: never translated).
APPENDIX_WORDS = {
    "en": ("Solutions", "This notebook has no exercises."),
    "ru": ("Решения", "В этом ноутбуке нет упражнений."),
}


def is_solution(cell) -> bool:
    return cell.cell_type == "code" and "solution" in cell.metadata.get("tags", [])


class StubSolutions(Preprocessor):
    """Replace each solution cell by the stub; keep what it held in `resources["solutions"]`."""

    def preprocess_cell(self, cell, resources, index):
        if is_solution(cell):
            label = cell.metadata.get("exercise") or f"solution {len(resources['solutions']) + 1}"
            resources["solutions"].append((label, cell.source))
            cell.source = STUB
            cell.outputs = []
            cell.execution_count = None
        return cell, resources


def student_edition(path: Path) -> tuple[str, list[tuple[str, str]]]:
    """The student notebook's JSON text, and the (exercise, reference source) pairs it lost."""
    exporter = NotebookExporter()
    exporter.register_preprocessor(StubSolutions(), enabled=True)
    body, resources = exporter.from_filename(str(path), resources={"solutions": []})
    return body, resources["solutions"]


def solutions_appendix(notebook_name: str, solutions: list[tuple[str, str]], language: str = "en") -> str:
    title, no_exercises = APPENDIX_WORDS[language]
    parts = [f"# {title}: {notebook_name}\n"]
    if not solutions:
        parts.append(f"{no_exercises}\n")
    for label, source in solutions:
        parts.append(f"## {label}\n\n```python\n{source}\n```\n")
    return "\n".join(parts)


def language_of(path: Path) -> str:
    return "ru" if path.resolve().parent == RU_DIR.resolve() else "en"


def write_editions(paths: list[Path], out_dir: Path = STUDENT_DIR, language: str = "en") -> list[Path]:
    """Write out_dir/NAME.ipynb and out_dir/solutions/NAME.md for each notebook."""
    (out_dir / "solutions").mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        body, solutions = student_edition(path)
        student = out_dir / path.name
        student.write_text(body, encoding="utf-8")
        appendix = out_dir / "solutions" / f"{path.stem}.md"
        appendix.write_text(solutions_appendix(path.name, solutions, language), encoding="utf-8")
        written.append(student)
    return written


def main(argv: list[str]) -> None:
    paths = [Path(arg) for arg in argv]
    if not paths:  # all of them: no edition of a notebook since renamed or removed is left behind
        shutil.rmtree(STUDENT_DIR, ignore_errors=True)
        paths = sorted(NOTEBOOKS_DIR.glob("*.ipynb")) + sorted(RU_DIR.glob("*.ipynb"))
    for language, out_dir in (("en", STUDENT_DIR), ("ru", STUDENT_DIR / "ru")):
        chosen = [path for path in paths if language_of(path) == language]
        for student in write_editions(chosen, out_dir, language) if chosen else []:
            print(student.relative_to(REPO_ROOT))


if __name__ == "__main__":
    main(sys.argv[1:])
