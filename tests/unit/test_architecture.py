"""The shape of the code base: what a newcomer relies on when finding their way around it.

The import contracts themselves (layers, no cycles between sibling packages) are checked by
``lint-imports`` in ``nox -s lint`` (see ``.importlinter``); these tests state the same rules
in the suite, so that a change which breaks them fails where it is written.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "otelkit"
MAX_LINES = 400


def _import_graph() -> grimp.ImportGraph:
    return grimp.build_graph("otelkit", exclude_type_checking_imports=True, cache_dir=None)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles_counting_imports_inside_functions() -> None:
    """A cycle, even through a deferred import, means two modules cannot be understood (or
    changed) one without the other."""
    assert _cycles(_import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(module)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.d")
    graph.add_import(importer="a.d", imported="a.b")
    assert _cycles(graph) == [["a.b", "a.c", "a.d"]]


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_over_400_lines(path: Path) -> None:
    """A module longer than this has, in this code base, always turned out to hold two jobs."""
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)} has {lines} lines"


def test_every_package_says_what_lives_in_it() -> None:
    """Each package's ``__init__`` opens with a docstring: the map a newcomer reads first."""
    missing = [
        str(init.relative_to(SRC))
        for init in SRC.rglob("__init__.py")
        if not init.read_text().lstrip().startswith('"""')
    ]
    assert missing == []
