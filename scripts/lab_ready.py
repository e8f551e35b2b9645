"""Before `make lab` opens JupyterLab: open on notebook 00, no news pop-up, notebooks trusted.

- JupyterLab asks on first start whether to fetch Jupyter news (a pop-up over the first notebook):
  an `overrides.d` file in this virtualenv's JupyterLab settings answers "no" for the course
  (`fetchNews`), and turns off the check for a newer JupyterLab (the versions are pinned).
- Opened on notebook 00 (`LabApp.default_url`), the one to run first.
- `jupyter trust`: the committed notebooks' stored outputs (HTML tables, widgets) are shown as
  executed, not sanitized as from an unknown source. Signed again each time, as outputs change.
  The Russian edition (notebooks/ru/) too; where it is, is printed.
"""

import json
import subprocess
import sys
from pathlib import Path

from cqlab.notebook.translations import RU_DIR
from cqlab.paths import NOTEBOOKS_DIR

LAB_SETTINGS = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "cqlab.json"
LAB_CONFIG = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_lab_config.json"
FIRST_NOTEBOOK = "00-setup-check.ipynb"
NO_NEWS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def main(folder_in_server_root: str = "") -> None:
    """`folder_in_server_root`: where the notebooks are as the server sees them: nothing for
    `make lab` (it serves notebooks/), `notebooks/` where the server serves the repository (Binder)."""
    open_first = {"LabApp": {"default_url": f"/lab/tree/{folder_in_server_root}{FIRST_NOTEBOOK}"}}
    for path, settings in ((LAB_SETTINGS, NO_NEWS), (LAB_CONFIG, open_first)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2) + "\n")
    notebooks = sorted(str(path) for path in NOTEBOOKS_DIR.glob("*.ipynb"))
    russian = sorted(str(path) for path in RU_DIR.glob("*.ipynb"))
    subprocess.run(
        [sys.executable, "-m", "jupyter", "trust", *notebooks, *russian], check=True, capture_output=True
    )
    print(f"JupyterLab: opens on {FIRST_NOTEBOOK}, no news pop-up, {len(notebooks)} notebooks trusted")
    start = Path(russian[0]).name if russian else FIRST_NOTEBOOK
    print(
        f"Русская версия курса (Russian edition): папка {folder_in_server_root}ru/ в JupyterLab "
        f"(notebooks/ru/, ноутбуков: {len(russian)}); начните с {folder_in_server_root}ru/{start}"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
