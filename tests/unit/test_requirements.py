"""requirements.lock pins what requirements.txt asks for (run `make lock` after editing it)."""

import re

from cqlab.paths import REPO_ROOT

PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*(.+?))?\s*(?:#.*)?\\?$")


def pins(path) -> set[tuple[str, str, str]]:
    found = set()
    for line in path.read_text().splitlines():
        if match := PIN.match(line.strip()):
            name, version, marker = match.groups()
            found.add((name.lower().replace("_", "-"), version, (marker or "").replace('"', "'")))
    return found


def test_every_requirement_is_locked_at_its_version():
    locked = {(name, version) for name, version, _ in pins(REPO_ROOT / "requirements.lock")}
    wanted = {(name, version) for name, version, _ in pins(REPO_ROOT / "requirements.txt")}
    assert wanted, "requirements.txt pins nothing?"
    assert not wanted - locked, f"run `make lock`: not in requirements.lock: {sorted(wanted - locked)}"


def test_every_locked_package_has_hashes():
    text = (REPO_ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 1)[1] if text.startswith("#") else text)
    unhashed = [entry.split()[0] for entry in entries if "==" in entry and "--hash=sha256:" not in entry]
    assert not unhashed, unhashed
