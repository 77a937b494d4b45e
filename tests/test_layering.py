"""The layers stay layered: every module's imports are read (statically, with ``ast``, function
bodies included) and held to three rules (docs/architecture.md, "The layering rule"):

1. ``timeseries/``, ``ingest/`` and ``metrics/`` import no framework (Django, DRF, Celery) and
   none of Fleetwatch's Django apps: storage and parsers know nothing of Django.
2. No import circle: none between modules, and none between packages (the graph whose nodes
   are packages, with an edge wherever a module of one imports a module of the other). Each
   module directly under ``fleetwatch/`` (settings, urls, cli, celery …) is a node of its own:
   they are the composition root, not a package.
3. No module imports a private (``_``-prefixed) module or name of another package, nor reads
   a private attribute of another package's module.

The last tests feed the same functions small synthetic trees, to show each rule can fail.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest

import fleetwatch

SRC = Path(fleetwatch.__file__).parent.parent

FRAMEWORK_FREE = ("fleetwatch.timeseries", "fleetwatch.ingest", "fleetwatch.metrics")
FRAMEWORKS = ("django", "rest_framework", "celery", "kombu")
# The Django side of the project: apps, the REST layer and the composition root.
DJANGO_SIDE = (
    "fleetwatch.inventory",
    "fleetwatch.monitoring",
    "fleetwatch.notifications",
    "fleetwatch.api",
    "fleetwatch.web",
    "fleetwatch.core",
    "fleetwatch.settings",
    "fleetwatch.urls",
    "fleetwatch.wsgi",
    "fleetwatch.celery",
)


@dataclass(frozen=True)
class Import:
    """One import statement's effect: ``importer`` imports ``target`` (a module name) at
    ``line``; ``name`` is the attribute taken from it (``from target import name``), if any."""

    importer: str
    target: str
    line: int
    name: str | None = None


def modules_under(root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """``{dotted module name: (file, is a package's __init__)}`` of every module under
    ``root/package``."""
    found = {}
    for path in sorted((root / package.replace(".", "/")).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def read_imports(name: str, path: Path, is_package: bool, known: set[str]) -> tuple[list[Import], list[str]]:
    """The imports of one module (top level and inside functions alike), resolved against the
    ``known`` module names; and the private attributes it reads from modules it imported
    (``"target._name:line"``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if is_package else name.rpartition(".")[0]
    imports: list[Import] = []
    module_aliases: dict[str, str] = {}  # local name → module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imports.append(Import(name, alias.name, node.lineno))
                if alias.asname:
                    module_aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in known:
                    imports.append(Import(name, submodule, node.lineno))
                    module_aliases[alias.asname or alias.name] = submodule
                else:
                    imports.append(Import(name, source, node.lineno, alias.name))
    private_reads = [
        f"{module_aliases[node.value.id]}.{node.attr}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in module_aliases
        and is_private(node.attr)
    ]
    return imports, private_reads


def package_of(module: str, modules: dict[str, tuple[Path, bool]], root_package: str) -> str:
    """The graph node of a module: its package, or itself for a module right under the root."""
    if modules[module][1]:
        return module
    parent = module.rpartition(".")[0]
    return module if parent == root_package else parent


def owning_module(target: str, modules: dict) -> str | None:
    """The known module an imported name lives in (``a.b.c`` → ``a.b`` when only that exists)."""
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph as a path ``[a, b, …, a]``, or None. Deterministic: nodes
    and edges are visited in sorted order."""
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


class Project:
    """The imports of every module of a package tree, and the three rules checked on them."""

    def __init__(self, root: Path, package: str):
        self.package = package
        self.modules = modules_under(root, package)
        known = set(self.modules)
        self.imports: list[Import] = []
        self.private_reads: dict[str, list[str]] = {}
        for name, (path, is_package) in self.modules.items():
            found, private = read_imports(name, path, is_package, known)
            self.imports += found
            if private:
                self.private_reads[name] = private

    def node(self, module: str) -> str:
        return package_of(module, self.modules, self.package)

    def internal(self):
        """``(import, module it reaches)`` for imports of the project's own modules."""
        for imp in self.imports:
            target = owning_module(imp.target, self.modules)
            if target is not None:
                yield imp, target

    def module_graph(self) -> dict[str, set[str]]:
        graph: dict[str, set[str]] = {}
        for imp, target in self.internal():
            if target != imp.importer:
                graph.setdefault(imp.importer, set()).add(target)
        return graph

    def package_graph(self) -> tuple[dict[str, set[str]], dict[tuple[str, str], Import]]:
        """Package → packages it imports, and one import statement behind each edge."""
        graph: dict[str, set[str]] = {}
        witness: dict[tuple[str, str], Import] = {}
        for imp, target in self.internal():
            a, b = self.node(imp.importer), self.node(target)
            if a != b:
                graph.setdefault(a, set()).add(b)
                witness.setdefault((a, b), imp)
        return graph, witness

    def framework_imports(self, layers, forbidden) -> list[str]:
        return [
            f"{imp.importer}:{imp.line} imports {imp.target}"
            for imp in self.imports
            if imp.importer.startswith(layers)
            and any(imp.target == f or imp.target.startswith(f + ".") for f in forbidden)
        ]

    def module_cycle(self) -> str | None:
        cycle = find_cycle(self.module_graph())
        return " → ".join(cycle) if cycle else None

    def package_cycle(self) -> str | None:
        graph, witness = self.package_graph()
        cycle = find_cycle(graph)
        if cycle is None:
            return None
        steps = []
        for a, b in itertools.pairwise(cycle):
            imp = witness[(a, b)]
            steps.append(f"{a} → {b} ({imp.importer}:{imp.line} imports {imp.target})")
        return "\n".join(steps)

    def private_imports(self) -> list[str]:
        offenders = []
        for imp, target in self.internal():
            same_package = self.node(imp.importer) == self.node(target)
            if same_package:
                continue
            private_parts = [p for p in target.split(".") if is_private(p)]
            if private_parts or (imp.name and is_private(imp.name)):
                offenders.append(f"{imp.importer}:{imp.line} imports {imp.target} {imp.name or ''}".strip())
        for importer, reads in self.private_reads.items():
            for read in reads:
                target = read.rpartition(".")[0]
                if self.node(owning_module(target, self.modules) or target) != self.node(importer):
                    offenders.append(f"{importer} reads {read}")
        return offenders


@pytest.fixture(scope="module")
def project() -> Project:
    return Project(SRC, "fleetwatch")


def test_the_graph_sees_the_project(project):
    # The reader finds what it is meant to check (a broken reader would pass every rule).
    assert "fleetwatch.timeseries.backends.influxdb2.backend" in project.modules
    graph, _ = project.package_graph()
    assert "fleetwatch.timeseries" in graph["fleetwatch.timeseries.backends.influxdb2"]
    assert "fleetwatch.monitoring.checks" in graph["fleetwatch.monitoring"]


def test_storage_parsers_and_registry_know_nothing_of_django(project):
    assert project.framework_imports(FRAMEWORK_FREE, FRAMEWORKS + DJANGO_SIDE) == []


def test_no_import_circle_between_modules(project):
    assert project.module_cycle() is None


def test_no_import_circle_between_packages(project):
    cycle = project.package_cycle()
    assert cycle is None, "import circle between packages:\n" + cycle


def test_no_private_module_or_name_of_another_package_is_imported(project):
    assert project.private_imports() == []


# ---------------------------------------------------------------------- the rules can fail


def test_find_cycle_reports_the_path():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_each_rule_fails_on_a_synthetic_tree(tmp_path):
    write_tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/settings.py": "",
            "app/store/__init__.py": "",
            "app/store/model.py": "import django.db\n",
            "app/store/_wire.py": "def _encode(): ...\n",
            "app/store/codec.py": "from app.store._wire import _encode\n",  # same package: fine
            "app/web/__init__.py": "",
            "app/web/views.py": (
                "from app.store import _wire\n"
                "from app.store.codec import _helper\n"
                "def f():\n"
                "    from app.store import codec\n"
                "    return codec._cache\n"
            ),
            "app/store/query.py": "def f():\n    from app.web import views\n",
        },
    )
    tree = Project(tmp_path, "app")
    assert tree.framework_imports(("app.store",), (*FRAMEWORKS, "app.web")) == [
        "app.store.model:1 imports django.db",
        "app.store.query:2 imports app.web.views",
    ]
    assert tree.package_cycle() == (
        "app.store → app.web (app.store.query:2 imports app.web.views)\n"
        "app.web → app.store (app.web.views:1 imports app.store._wire)"
    )
    assert tree.module_cycle() is None
    assert sorted(tree.private_imports()) == [
        "app.web.views reads app.store.codec._cache:5",
        "app.web.views:1 imports app.store._wire",
        "app.web.views:2 imports app.store.codec _helper",
    ]
    write_tree(
        tmp_path,
        {
            "app/store/codec.py": "from app.store import query\n",
            "app/store/query.py": "from app.store import codec\n",
        },
    )
    assert Project(tmp_path, "app").module_cycle() == "app.store.codec → app.store.query → app.store.codec"


def test_the_storage_layer_knows_nothing_of_devices():
    """Device and OpenWISP scopes (tags, the raw snapshot) are declared in fleetwatch.metrics."""
    root = SRC / "fleetwatch" / "timeseries"
    words = ("content_type", "object_id", "device_data", "ifname", "organization_id")
    offenders = sorted(
        f"{path.relative_to(root)}: {word}"
        for path in root.rglob("*.py")
        for word in words
        if word in path.read_text(encoding="utf-8")
    )
    assert offenders == []
