"""What every committed notebook must be, read from the .ipynb files (nbval runs them)."""

import json
import re
from pathlib import Path

import pytest

from sandbox.env import ENV_FILE, REPO_ROOT, read_env_file

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]*.ipynb"))
CLAIMS_OF = {  # the source's claims each core notebook settles (see shared/source/claims.md)
    "01": range(1, 11),
    "02": range(11, 20),
    "03": range(20, 30),
    "04": range(30, 36),
}


def load(path):
    return json.loads(path.read_text())


def code_cells(notebook):
    return [
        cell for cell in notebook["cells"] if cell["cell_type"] == "code" and "".join(cell["source"]).strip()
    ]


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_executed_in_order_without_unexpected_errors(path):
    cells = code_cells(load(path))
    assert all(cell["execution_count"] is not None for cell in cells), (
        "re-execute: make notebooks NB=" + path.name
    )
    counts = [cell["execution_count"] for cell in cells]
    assert counts == sorted(counts), "executed out of order: re-execute top to bottom"
    for cell in cells:
        errors = [output for output in cell["outputs"] if output["output_type"] == "error"]
        assert not errors or "raises-exception" in tags(cell), "".join(cell["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_no_secret_in_any_output(path):
    text = path.read_text()
    for name, value in read_env_file(ENV_FILE).items():
        if len(value) >= 8:
            assert value not in text, f"{path.name} shows the value of {name}"
    assert not re.search(r"redis://:[^@\s\"*]{6,}@", text), "a Redis URL with its password is shown"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_no_output_shows_this_machines_paths(path):
    text = json.dumps([cell.get("outputs", []) for cell in load(path)["cells"]])
    for private in (str(REPO_ROOT), str(Path.home()), "/.venv/", "site-packages"):
        assert private not in text, f"{path.name} shows {private!r} in an output"


# The kernel ipykernel installs in .venv: JupyterLab writes its spec into a notebook that names
# another, which marks the notebook changed the moment a learner opens it (and saves it on close).
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


@pytest.mark.parametrize("path", [*NOTEBOOKS, *sorted((REPO_ROOT / "notebooks" / "ru").glob("*.ipynb"))])
def test_names_the_kernel_jupyterlab_starts(path):
    assert load(path)["metadata"]["kernelspec"] == KERNELSPEC


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_starts_with_the_lab_setup_and_ends_with_cleanup(path):
    cells = code_cells(load(path))
    assert "lab = setup(" in "".join(cells[0]["source"])
    assert "cleanup()" in "".join(cells[-1]["source"])


@pytest.mark.parametrize("number", sorted(CLAIMS_OF))
def test_every_claim_of_the_section_is_settled_in_its_notebook(number):
    paths = [path for path in NOTEBOOKS if path.name.startswith(number)]  # 03a, 03b: both parts
    markdown = "".join(
        "".join(cell["source"])
        for path in paths
        for cell in load(path)["cells"]
        if cell["cell_type"] == "markdown"
    )
    missing = [f"C{n}" for n in CLAIMS_OF[number] if not re.search(rf"Claim C{n}\b", markdown)]
    assert not missing, f"notebook {number} does not quote: {', '.join(missing)}"
