"""The messaging core's shape, read from its source: services import one another without a
circle (function-level imports count: a late import is still a dependency), provider adapters
import no service, and the core never names a provider (it reads declared capabilities)."""

import ast
from pathlib import Path

from channels_app.providers import PROVIDERS

APP = Path(__file__).resolve().parents[2] / "channels_app"


def _module(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module this file imports, anywhere in it, as absolute dotted names."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def _files(*dirs: str) -> list[Path]:
    return [p for d in dirs for p in (APP / d).rglob("*.py")]


def test_services_import_one_another_without_a_circle():
    modules = {_module(p): p for p in _files("services")}
    graph = {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}
    done, path = set(), []

    def visit(m):
        if m in path:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(m) :] + [m]))
        if m in done:
            return
        path.append(m)
        for n in sorted(graph[m]):
            visit(n)
        path.pop()
        done.add(m)

    for m in sorted(graph):
        visit(m)


def test_provider_adapters_import_no_service():
    for path in _files("providers"):
        services = sorted(i for i in _imports(path) if i.startswith("channels_app.services"))
        assert not services, f"{path.relative_to(APP.parent)} imports {services}"


def test_the_core_never_names_a_provider():
    names = set(PROVIDERS)
    offenders = []
    for path in APP.rglob("*.py"):
        rel = path.relative_to(APP)
        if rel.parts[0] in ("providers", "migrations") or rel.name == "models.py":
            continue  # the adapters themselves; history; the column's default (the registry's first)
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            named = []
            if isinstance(node, ast.Compare):
                named = [n for n in [node.left, *node.comparators] if isinstance(n, ast.Constant)]
            elif isinstance(node, ast.keyword) and isinstance(node.value, ast.Constant):
                named = [node.value]
            elif isinstance(node, ast.BoolOp):
                named = [n for n in node.values if isinstance(n, ast.Constant)]
            offenders += [f"{rel}:{n.lineno} {n.value!r}" for n in named if n.value in names]
    assert not offenders, offenders
