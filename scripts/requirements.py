"""Print the pinned requirements from pyproject.toml (dependencies + optional groups named on
the command line), so `make` installs exactly those without building the project."""

import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
lines = list(project["dependencies"])
for group in sys.argv[1:]:
    lines += project["optional-dependencies"][group]
print("\n".join(lines))
