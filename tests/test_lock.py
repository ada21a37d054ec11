"""The hashed lock files install what pyproject.toml pins (`make lock` refreshes them).

A pin changed in pyproject.toml without `make lock` would leave a fresh install (CI, the
Dockerfile) without the new version: this fails first, naming the package."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REQUIREMENT = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;#]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        match = REQUIREMENT.match(line.strip())
        if match:
            found[canonical(match[1])] = match[2]
    return found


def locked(name: str) -> tuple[dict[str, str], list[str]]:
    text = (ROOT / name).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text)
    unhashed = [e.split()[0] for e in entries if REQUIREMENT.match(e) and "--hash=sha256:" not in e]
    return pins(text.splitlines()), unhashed


@pytest.mark.parametrize(
    "lock_file, declared",
    [
        ("requirements.lock", PROJECT["dependencies"]),
        ("requirements-dev.lock", PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"]),
    ],
)
def test_the_lock_file_holds_every_pin_of_pyproject_with_hashes(lock_file, declared):
    wanted = pins(declared)
    assert len(wanted) == len(declared), "every dependency in pyproject.toml is pinned with =="
    have, unhashed = locked(lock_file)
    wrong = {name: (version, have.get(name)) for name, version in wanted.items() if have.get(name) != version}
    assert not wrong, f"{lock_file} disagrees with pyproject.toml (pinned, locked): {wrong}; run `make lock`"
    assert not unhashed, f"{lock_file} has entries without hashes: {unhashed}"


def test_the_production_lock_leaves_out_the_test_tools():
    have, _ = locked("requirements.lock")
    assert not set(pins(PROJECT["optional-dependencies"]["dev"])) & set(have)
