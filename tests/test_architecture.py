"""The package's architecture, checked from its source: imports flow one way, modules keep their
private names to themselves, no module grows past 600 lines, and the type stub of the lazy
``__init__`` lists exactly what it exports.

Every module is parsed with :mod:`ast`, so imports inside functions and under ``TYPE_CHECKING``
count too. (That the core and ``--help`` never import matplotlib is checked in
``test_cli_batch.py`` and ``test_workflow.py``.)
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import kmeans_compress

PACKAGE = "kmeans_compress"
ROOT = Path(kmeans_compress.__file__).parent
MAX_LINES = 600


def _module_name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in MODULES.items()}


def _resolve(module, level, current):
    """The absolute name of ``from <level dots><module> import ...`` written in module ``current``."""
    if level == 0:
        return module or ""
    is_package = MODULES[current].name == "__init__.py"
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _in_package(name):
    """The package module ``name`` is, or is inside (``kmeans_compress._io.load_image`` -> ``kmeans_compress._io``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _exports():
    """``_EXPORTS`` of ``__init__.py``, read from its source: the lazy imports it makes."""
    for node in ast.walk(TREES[PACKAGE]):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("__init__.py has no _EXPORTS")


def imports_of(current):
    """Package modules that ``current`` imports, anywhere in its body: ``{module: first line}``."""
    found = {}

    def add(target, line):
        module = _in_package(target)
        if module is not None and module != current:
            found.setdefault(module, line)

    for node in ast.walk(TREES[current]):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, current)
            for alias in node.names:  # ``from . import _io`` imports the module _io
                add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base, node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            text = node.args[0].value
            level = len(text) - len(text.lstrip("."))
            add(_resolve(text.lstrip(".") or None, level, current) if level else text, node.lineno)
    if current == PACKAGE:  # the lazy __getattr__ imports each module named in _EXPORTS
        for module in sorted(set(_exports().values())):
            add(f"{PACKAGE}.{module}", 0)
    return found


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_import_graph_sees_relative_function_level_and_dynamic_imports():
    # the checker itself, on what it must find: a relative import, one inside a function, and
    # the lazy __init__'s import_module of every exported module
    assert "kmeans_compress._validation" in imports_of("kmeans_compress._metrics")
    assert "kmeans_compress.plotting" in imports_of("kmeans_compress.cli")  # inside a function
    assert set(imports_of(PACKAGE)) >= {f"{PACKAGE}.{m}" for m in _exports().values()}
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_circle_inside_the_package():
    graph = {name: set(imports_of(name)) for name in MODULES}
    circles = _cycles(graph)
    details = [
        " <-> ".join(c) + ": " + "; ".join(
            f"{a} imports {b} (line {imports_of(a)[b]})" for a in c for b in sorted(graph[a] & set(c))
        )
        for c in circles
    ]
    assert not circles, "import circles:\n" + "\n".join(details)


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_getattr_of_a_private_name():
    found = []
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr", "setattr", "delattr")
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
                and _is_private(node.args[1].value)
            ):
                found.append(f"{module}:{node.lineno} {node.func.id}(..., {node.args[1].value!r})")
    assert not found, "private attributes read by name (make them public fitted state or arguments):\n" + "\n".join(
        found
    )


def test_no_private_name_imported_from_another_module():
    found = []
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _in_package(_resolve(node.module, node.level, module)):
                source = _resolve(node.module, node.level, module)
                for alias in node.names:
                    if _is_private(alias.name) and f"{source}.{alias.name}" not in MODULES:
                        found.append(f"{module}:{node.lineno} imports {alias.name} from {source}")
    assert not found, "private names imported across modules (make them public in their module):\n" + "\n".join(
        found
    )


def _own_private_names(tree):
    """Private names a module defines: functions, classes, assignments (``self._x = ...`` included)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.rpartition(".")[2])
    return {n for n in names if _is_private(n)}


def _foreign_private_attributes(tree):
    """Lines reading ``obj._name`` where ``_name`` is not the module's own (not defined or assigned in it)."""
    own = _own_private_names(tree)
    return [
        (node.lineno, node.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and _is_private(node.attr)
        and node.attr not in own
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]


def test_private_attribute_checker_flags_a_foreign_read():
    source = """
class A:
    def __init__(self):
        self._mine = 1

def f(a, q):
    return a._mine, q._theirs
"""
    assert _foreign_private_attributes(ast.parse(source)) == [(7, "_theirs")]


def test_no_private_attribute_of_another_modules_object():
    # ``obj._name`` is allowed only where ``_name`` is the module's own (it defines or assigns it):
    # a private attribute read from elsewhere is a hidden protocol between two modules
    found = [
        f"{module}:{line} .{attr}" for module, tree in TREES.items() for line, attr in _foreign_private_attributes(tree)
    ]
    assert not found, "private attributes of other modules' objects:\n" + "\n".join(found)


@pytest.mark.parametrize("module", sorted(MODULES), ids=sorted(MODULES))
def test_no_module_over_600_lines(module):
    n_lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert n_lines <= MAX_LINES, f"{module} has {n_lines} lines: split it by concern"


def _stub():
    """``__init__.pyi``: ``({name: module}, __all__)``."""
    tree = ast.parse((ROOT / "__init__.pyi").read_text(encoding="utf-8"))
    names, listed, annotated = {}, None, set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            assert node.level == 1, f"stub line {node.lineno}: import from the package's own modules (from .x)"
            for alias in node.names:
                assert alias.asname in (None, alias.name), f"stub line {node.lineno}: {alias.name} renamed"
                names[alias.name] = node.module
        elif isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            listed = ast.literal_eval(node.value)
        elif isinstance(node, ast.AnnAssign):
            annotated.add(node.target.id)
    return names, listed, annotated


def test_stub_lists_every_export_from_its_module():
    names, listed, annotated = _stub()
    assert names == kmeans_compress._EXPORTS
    assert listed == kmeans_compress.__all__
    assert "__version__" in annotated


def test_all_is_the_exports():
    assert sorted(kmeans_compress.__all__) == kmeans_compress.__all__
    assert set(kmeans_compress.__all__) == {"__version__", *kmeans_compress._EXPORTS}
    assert len(kmeans_compress.__all__) == len(set(kmeans_compress.__all__))


@pytest.mark.parametrize("name", sorted(kmeans_compress._EXPORTS))
def test_each_export_is_defined_in_its_module(name):
    module = importlib.import_module(f"{PACKAGE}.{kmeans_compress._EXPORTS[name]}")
    value = getattr(kmeans_compress, name)
    assert value is getattr(module, name)
    assert value.__module__ == module.__name__, f"{name} is defined in {value.__module__}, not {module.__name__}"


def test_package_ships_its_types():
    # PEP 561: the marker and the stub go into the wheel (package-data in pyproject.toml)
    assert (ROOT / "py.typed").is_file()
    assert (ROOT / "__init__.pyi").is_file()
