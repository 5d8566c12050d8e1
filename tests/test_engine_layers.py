"""The engine package keeps its layers: no import cycle inside it, nothing private used from outside.

Imports are read from the source with :mod:`ast`, at module level and inside functions alike
(an import in a function body runs too), leaving out what sits under ``if TYPE_CHECKING:``
(never run). See the layer rule in ``distancing_bn/engine/__init__.py``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import distancing_bn.engine

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = "distancing_bn.engine"
ENGINE_DIR = SRC / "distancing_bn" / "engine"


def module_name(path: Path) -> str:
    """``src/distancing_bn/engine/plan.py`` -> ``distancing_bn.engine.plan`` (a package: its name)."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.AST, *, runtime: bool) -> Iterator[ast.AST]:
    """Every node, skipping the bodies of ``if TYPE_CHECKING:`` when ``runtime`` (their ``else`` runs)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if runtime and isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def imports(source: str, name: str, *, is_package: bool, runtime: bool = True) -> list[tuple[str, tuple[str, ...]]]:
    """The imports of a module's source: (absolute module, names imported from it; () for ``import m``)."""
    base = name.split(".") if is_package else name.split(".")[:-1]
    out: list[tuple[str, tuple[str, ...]]] = []
    for node in _nodes(ast.parse(source), runtime=runtime):
        if isinstance(node, ast.Import):
            out.extend((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                head = base[: len(base) - (node.level - 1)]
                target = ".".join([*head, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            out.append((target, tuple(alias.name for alias in node.names)))
    return out


def engine_graph(sources: Mapping[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports at run time (``sources``: name -> (text, is package))."""
    known = set(sources)
    graph: dict[str, set[str]] = {m: set() for m in sources}
    for name, (text, is_package) in sources.items():
        for target, names in imports(text, name, is_package=is_package):
            if target in known:
                # ``from . import plan`` imports the submodule; ``from .plan import x`` the module itself
                subs = {f"{target}.{n}" for n in names} & known
                graph[name] |= subs or {target}
                if subs and names and len(subs) < len(names):
                    graph[name].add(target)
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a list of modules (the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def engine_sources() -> dict[str, tuple[str, bool]]:
    return {module_name(p): (p.read_text(), p.name == "__init__.py") for p in sorted(ENGINE_DIR.glob("*.py"))}


def outside_modules() -> list[Path]:
    return [p for p in sorted((SRC / "distancing_bn").rglob("*.py")) if ENGINE_DIR not in p.parents]


def private_engine_members() -> set[str]:
    """Names with one leading underscore that engine classes define (methods and ``self._x`` attributes)."""
    names: set[str] = set()
    for path in ENGINE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                        names.add(sub.name)
                    elif isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store):
                        names.add(sub.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def names_defined(tree: ast.AST) -> set[str]:
    """Functions, classes, attributes and variables a module defines itself."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            out.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
    return out


# ----------------------------------------------------------------------------- the package itself
def test_the_engine_package_has_no_import_cycle() -> None:
    graph = engine_graph(engine_sources())
    assert {"distancing_bn.engine", "distancing_bn.engine.kernels", "distancing_bn.engine.compiled"} <= set(graph)
    assert graph["distancing_bn.engine.kernels"] == set()  # the bottom layer imports nothing of the engine
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in the engine: " + " -> ".join(cycle or [])


def test_no_module_outside_the_engine_imports_a_private_or_inner_engine_name() -> None:
    public = set(distancing_bn.engine.__all__)
    bad = []
    for path in outside_modules():
        name = module_name(path)
        for target, names in imports(path.read_text(), name, is_package=path.name == "__init__.py", runtime=False):
            if target != PKG and not target.startswith(PKG + "."):
                continue
            if target != PKG:
                bad.append(f"{name} imports the inner module {target}")
            for n in names:
                if n.startswith("_") or n not in public:
                    bad.append(f"{name} imports {n!r} from {target} (public: {sorted(public)})")
    assert not bad, "\n".join(bad)


def test_no_module_outside_the_engine_uses_a_private_engine_member() -> None:
    private = private_engine_members()
    assert {"_collect_cliques", "_prior_pass"} <= private  # the scan sees the tree's private methods
    bad = []
    for path in outside_modules():
        tree = ast.parse(path.read_text())
        own = names_defined(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in private and node.attr not in own:
                bad.append(f"{module_name(path)}:{node.lineno} uses .{node.attr}")
    assert not bad, "\n".join(bad)


def test_the_public_names_are_importable() -> None:
    for n in distancing_bn.engine.__all__:
        assert hasattr(distancing_bn.engine, n), n


# ----------------------------------------------------------------------------- the checks can fail
def test_the_import_walk_sees_function_imports_and_skips_type_checking_blocks() -> None:
    text = (
        "from typing import TYPE_CHECKING\n"
        "from .a import x\n"
        "if TYPE_CHECKING:\n    from .b import y\nelse:\n    from .c import z\n"
        "def f():\n    from .d import w\n    return w\n"
    )
    found = [t for t, _ in imports(text, "pkg.m", is_package=False)]
    assert sorted(found) == ["pkg.a", "pkg.c", "pkg.d", "typing"]
    assert "pkg.b" in [t for t, _ in imports(text, "pkg.m", is_package=False, runtime=False)]


@pytest.mark.parametrize(
    ("sources", "cycle"),
    [
        ({"p": ("from .a import x", True), "p.a": ("from .b import y", False), "p.b": ("", False)}, False),
        (
            {
                "p": ("from .a import x", True),
                "p.a": ("from .b import y", False),
                "p.b": ("def g():\n    from .a import x\n", False),
            },
            True,
        ),
        ({"p": ("from .a import x", True), "p.a": ("from . import b", False), "p.b": ("from p import a", False)}, True),
        (
            {
                "p": ("from .a import x", True),
                "p.a": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import y\n", False),
                "p.b": ("from .a import x", False),
            },
            False,
        ),
        ({"p": ("from .a import x", True), "p.a": ("from . import x", False)}, True),  # a submodule importing __init__
    ],
)
def test_the_cycle_finder_on_small_packages(sources: dict[str, tuple[str, bool]], cycle: bool) -> None:
    found = find_cycle(engine_graph(sources))
    assert (found is not None) == cycle, found
    if found:
        assert found[0] == found[-1] and len(found) >= 2
