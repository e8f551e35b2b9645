"""One-click environments (.devcontainer/, binder/): what can be checked without building them.

The files parse, every path they name exists, the commands they run are real `make` targets or
scripts, the dev container runs the README's command, and the apt packages are the launcher's.
"""

import json
import os
import re
import shlex

import yaml

from cqlab.infra.install import PACKAGES
from cqlab.paths import REPO_ROOT

DEVCONTAINER = REPO_ROOT / ".devcontainer"
BINDER = REPO_ROOT / "binder"


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (REPO_ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def readme_first_command() -> str:
    """The first command of the README's first code block: what a learner types."""
    block = re.search(r"```sh\n(.*?)```", (REPO_ROOT / "README.md").read_text(), flags=re.DOTALL).group(1)
    return block.splitlines()[0].split("#")[0].strip()


def test_devcontainer_runs_the_readme_command_in_a_buildable_compose_service():
    config = json.loads((DEVCONTAINER / "devcontainer.json").read_text())
    compose = yaml.safe_load((DEVCONTAINER / config["dockerComposeFile"]).read_text())
    service = compose["services"][config["service"]]
    build_context = (DEVCONTAINER / service["build"]["context"]).resolve()
    assert build_context == REPO_ROOT
    assert (build_context / service["build"]["dockerfile"]).is_file()
    assert service["volumes"][0].split(":")[:2] == ["..", config["workspaceFolder"]]
    assert shlex.join(service["command"]) == readme_first_command() == "make lab"
    assert service["command"][1] in make_targets()


def test_devcontainer_image_installs_the_launchers_server_packages():
    dockerfile = (DEVCONTAINER / "Dockerfile").read_text()
    assert all(package in dockerfile for package in PACKAGES["apt"].values())
    assert "make" in dockerfile.split()


def test_binder_files_name_real_packages_scripts_and_commands():
    assert (BINDER / "apt.txt").read_text().split() == list(PACKAGES["apt"].values())
    included = (BINDER / "requirements.txt").read_text().split()
    assert included[0] == "-r" and (BINDER / included[1]).resolve() == REPO_ROOT / "requirements.txt"
    for script in ("postBuild", "start"):
        path = BINDER / script
        assert os.access(path, os.X_OK), f"binder/{script} must be executable"
        assert path.read_text().startswith("#!/bin/sh\n")
    post_build = (BINDER / "postBuild").read_text()
    for named in re.findall(r"python (scripts/\S+\.py)", post_build):
        assert (REPO_ROOT / named).is_file(), named
    assert 'exec python -m cqlab run -- "$@"' in (BINDER / "start").read_text()
