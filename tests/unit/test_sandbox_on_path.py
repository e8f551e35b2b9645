"""A notebook's folder cannot shadow the sandbox's apps (the Russian edition keeps its catalogs in
notebooks/ru/catalog/, the name of the sandbox's catalog app)."""

import subprocess
import sys

from cqlab.paths import NOTEBOOKS_DIR, SANDBOX_DIR

IMPORT_AS_A_KERNEL_DOES = """
import sys
sys.path.insert(0, "")  # a kernel's first entry: its notebook's folder
from cqlab.notebook.lab import sandbox_first_on_path
sandbox_first_on_path()
import catalog
print(catalog.__file__)
"""


def test_notebooks_in_ru_import_the_sandboxs_catalog_app_not_the_catalogs_folder():
    assert (NOTEBOOKS_DIR / "ru" / "catalog").is_dir()  # the folder that used to win
    found = subprocess.run(
        [sys.executable, "-c", IMPORT_AS_A_KERNEL_DOES],
        cwd=NOTEBOOKS_DIR / "ru",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert found.stdout.strip() == str(SANDBOX_DIR / "catalog" / "__init__.py")
