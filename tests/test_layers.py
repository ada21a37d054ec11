"""The apps import one way (docs/architecture.md): a lower app never imports a higher one.

cpaas <- contacts <- consent <- channels_app <- experiments <- journeys <- inbox <- analytics

Management commands that wire the whole product together (demo data, serve) and the
settings are allowed to name every app; nothing else is."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["cpaas", "contacts", "consent", "channels_app", "experiments", "journeys", "inbox", "analytics"]
WIRING = ("management/commands/", "settings/", "urls.py", "asgi.py", "wsgi.py")


def imported_apps(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(ORDER)


@pytest.mark.parametrize("app", ORDER)
def test_an_app_imports_only_apps_below_it(app):
    above = set(ORDER[ORDER.index(app) + 1 :])
    wrong = []
    for path in sorted((ROOT / app).rglob("*.py")):
        rel = path.relative_to(ROOT / app).as_posix()
        if "migrations/" in rel or (app == "cpaas" and rel.startswith(WIRING)):
            continue
        for name in sorted(imported_apps(path) & above):
            wrong.append(f"{app}/{rel} imports {name}")
    assert not wrong, "\n".join(wrong)
