"""The store owns SQL: connections are opened, and statements built, in `store/` only (and the node's writer
opens its batch's transactions). Services and channels call the store's query and command functions; routes call
services. Any module elsewhere that opens a connection or builds a statement fails here, named with its count.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "callbridge"

# The node's writer commits every batch of the live state in one transaction of its own (ADR 0008), and loads
# the tenants at start: its connections are the store's unit of work, held by the node.
THE_NODE_WRITER = "callbridge/services/node.py"

# What sqlalchemy names a module may import outside the store without building SQL: types for annotations.
NOT_BUILDERS = {"Engine", "Connection", "Row", "RowMapping", "Result", "CursorResult", "Select"}
TABLE_METHODS = {"select", "insert", "update", "delete"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "store" not in p.relative_to(PACKAGE).parts[:1])


def _name(path: Path) -> str:
    return str(path.relative_to(SRC))


def _last_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _root(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def connections_opened(tree: ast.Module) -> int:
    """`engine.connect()`, `self.engine.begin()`, `svc.engine.connect()` …: any engine, by its name."""
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"connect", "begin"}
        and "engine" in _last_name(node.func.value).lower()
    )


def statements_built(tree: ast.Module) -> int:
    """Calls of sqlalchemy's builders (`select(…)`, `func.count(…)`, `postgresql.insert(…)`) and of a store
    table's own (`tables.agents.update()`), found through what the module imports."""
    builders: set[str] = set()
    tables: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "sqlalchemy":
                builders |= {a.asname or a.name for a in node.names if a.name not in NOT_BUILDERS}
            elif node.module.startswith("callbridge.store"):
                every = node.module.endswith("tables")  # a table module's names are tables
                tables |= {a.asname or a.name for a in node.names if every or a.name.endswith("tables")}
        elif isinstance(node, ast.Import):
            builders |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("sqlalchemy")}
    return sum(1 for node in ast.walk(tree) if isinstance(node, ast.Call) and _builds(node.func, builders, tables))


def _builds(func: ast.expr, builders: set[str], tables: set[str]) -> bool:
    if isinstance(func, ast.Name):
        return func.id in builders
    if not isinstance(func, ast.Attribute):
        return False
    if isinstance(func.value, ast.Name) and func.value.id in builders:
        return True
    return func.attr in TABLE_METHODS and _root(func.value) in tables


def _found() -> tuple[Counter[str], Counter[str]]:
    connections: Counter[str] = Counter()
    statements: Counter[str] = Counter()
    for path in _modules():
        tree = ast.parse(path.read_text(), str(path))
        name = _name(path)
        if name != THE_NODE_WRITER:
            connections[name] = connections_opened(tree)
        statements[name] = statements_built(tree)
    return +connections, +statements


HINT = "add a query or command function to the store/ module of the aggregate (sync: call it from a worker thread)"


def test_connections_are_opened_only_in_the_store_and_the_node_writer() -> None:
    found, _ = _found()
    assert not found, "\n".join(f"{name} opens a connection {n} time(s): {HINT}" for name, n in sorted(found.items()))


def test_statements_are_built_only_in_the_store() -> None:
    _, found = _found()
    assert not found, "\n".join(f"{name} builds SQL {n} time(s): {HINT}" for name, n in sorted(found.items()))


def test_the_counters_see_what_they_count() -> None:
    """The detectors themselves: a checker that finds nothing would let everything through."""
    tree = ast.parse(
        "from sqlalchemy import select, func, Engine\n"
        "from callbridge.store import tables\n"
        "from callbridge.store.greeting_tables import agent_greetings\n"
        "def f(engine: Engine, svc):\n"
        "    with engine.begin() as c, svc.engine.connect() as d:\n"
        "        c.execute(select(func.count()).select_from(agent_greetings))\n"
        "        d.execute(tables.agents.update().values(x=1))\n"
        "        d.execute(agent_greetings.delete())\n"
        "    other.connect()\n"
    )
    assert connections_opened(tree) == 2
    assert statements_built(tree) == 4  # select, func.count, tables.agents.update, agent_greetings.delete
