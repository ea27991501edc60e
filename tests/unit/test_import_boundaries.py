"""Imports point inward: the domain is pure, and Callbridge and the built-in CRM never import each other."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def imported_modules(package: str) -> dict[Path, set[str]]:
    found: dict[Path, set[str]] = {}
    for path in (SRC / package.replace(".", "/")).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[path] = names
    return found


def test_the_domain_imports_only_the_standard_library_and_itself() -> None:
    for path, names in imported_modules("callbridge.domain").items():
        for name in names:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or name.startswith("callbridge.domain") or top == "__future__", (
                f"{path.relative_to(SRC)} imports {name}: the domain must stay pure"
            )
            assert top not in {"asyncio", "datetime", "time", "socket", "sqlite3"}, (
                f"{path} reads the clock or does I/O"
            )


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("callbridge", "callbridge_crm"),
        ("callbridge_crm", "callbridge"),
        # the rate-limit layer both use is a library to each: it imports neither
        ("callbridge_ratelimit", "callbridge"),
        ("callbridge_ratelimit", "callbridge_crm"),
    ],
)
def test_callbridge_and_the_builtin_crm_never_import_each_other(package: str, forbidden: str) -> None:
    for path, names in imported_modules(package).items():
        for name in names:
            assert name.split(".")[0] != forbidden, f"{path.relative_to(SRC)} imports {name}"


def test_connectors_and_the_domain_know_nothing_of_the_web_layer() -> None:
    for package in ("callbridge.connectors", "callbridge.domain", "callbridge.store"):
        for path, names in imported_modules(package).items():
            assert not any(n.startswith(("callbridge.web", "fastapi", "starlette")) for n in names), path


def builds_sql(path: Path) -> list[str]:
    """The SQL-building names a module imports: sqlalchemy's query builders, or the store's table objects."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "sqlalchemy" or node.module.startswith("sqlalchemy."):
                found += [f"{node.module}.{a.name}" for a in node.names if a.name not in {"Engine", "Connection"}]
            elif node.module == "callbridge.store.tables" or node.module.endswith("_tables"):
                found += [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
    return found


def test_the_web_layer_builds_no_sql() -> None:
    building = {}
    for path in (SRC / "callbridge" / "web").rglob("*.py"):
        names = builds_sql(path)
        if names:
            building[str(path.relative_to(SRC))] = names
    # routes call services and the store; they build no SQL
    assert not building, "".join(
        f"{name} builds SQL ({', '.join(names)}): add a query or command function to store/ and call it. "
        for name, names in building.items()
    )


def test_realtime_knows_the_domain_and_the_wire_but_no_service_store_or_web() -> None:
    for path, names in imported_modules("callbridge.realtime").items():
        for name in names:
            assert not name.startswith(
                ("callbridge.services", "callbridge.store", "callbridge.web", "callbridge.channels")
            ), f"{path.relative_to(SRC)} imports {name}: realtime turns domain events into wire events, nothing more"
