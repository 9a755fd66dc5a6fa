"""The import graph of the project's own modules keeps its layers (issue 10):

- no import cycles among the modules of ``tsm``, ``bot``, ``cards``, ``scheduler`` and ``appmanifest``;
- the core (``tsm.domain``, ``tsm.services``, ``tsm.chat``, ``cards``) imports neither ``bot`` nor ``scheduler``;
- the composition root (``tsm.composition``) is imported only by the entry points;
- ``botbuilder`` and ``botframework`` are imported only in ``bot``.

Every import statement counts, wherever it is (inside a function, under ``TYPE_CHECKING``): hiding an import
does not remove the dependency. As in ``../shared/tools/imports.py``, a package importing its own submodules is
not an edge (a package re-exports its children). The walk is here, with no dependency, so CI needs nothing else.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tsm", "bot", "cards", "scheduler", "appmanifest")
CORE = ("tsm.domain", "tsm.services", "tsm.chat", "cards")
EDGE = ("bot", "scheduler")
ROOT_MODULE = "tsm.composition"
ENTRY_POINTS = ("tsm.cli", "tsm.cli_common", "tsm.cli_reports", "tsm.server", "tsm.worker", "tsm.__main__")
TEAMS_SDK = ("botbuilder", "botframework")


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def project_modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under the packages."""
    found: dict[str, Path] = {}
    for package in packages:
        base = root / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_names(name: str, path: Path) -> set[str]:
    """Every module name an import statement of ``path`` mentions (absolute, relative ones resolved), with the
    imported names too (``from a import b`` may import the module ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return {n for n in names if n}


def import_graph(root: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges between the project's modules, every imported name per module)."""
    known = project_modules(root)
    graph: dict[str, set[str]] = {}
    raw: dict[str, set[str]] = {}
    for name, path in known.items():
        raw[name] = imported_names(name, path)
        targets = set()
        for target in raw[name]:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not target.startswith(name + "."):
                targets.add(target)
        graph[name] = targets
    return graph, raw


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(found)


def core_to_edge(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((m, t) for m, ts in graph.items() for t in ts if within(m, CORE) and within(t, EDGE))


def root_importers(graph: dict[str, set[str]]) -> list[str]:
    """Modules other than the entry points that import the composition root."""
    return sorted(m for m, ts in graph.items() if ROOT_MODULE in ts and m not in ENTRY_POINTS)


def sdk_outside_bot(raw: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted(
        (m, n) for m, names in raw.items() for n in names if within(n, TEAMS_SDK) and not within(m, ("bot",))
    )


# ---------------------------------------------------------------------- the project


@pytest.fixture(scope="module")
def project():
    graph, raw = import_graph(ROOT)
    assert "tsm.chat.router" in graph and "bot.handler" in graph, "the walk found the project's modules"
    return graph, raw


def test_no_import_cycles(project):
    graph, _ = project
    assert cycles(graph) == []


def test_the_core_imports_neither_the_transport_nor_the_scheduler(project):
    graph, _ = project
    assert core_to_edge(graph) == []


def test_only_the_entry_points_import_the_composition_root(project):
    graph, _ = project
    assert ROOT_MODULE in graph
    assert root_importers(graph) == []
    assert {m for m, ts in graph.items() if ROOT_MODULE in ts} >= {
        "tsm.server",
        "tsm.worker",
        "tsm.cli_common",
    }


def test_botbuilder_is_imported_only_in_bot(project):
    _, raw = project
    assert sdk_outside_bot(raw) == []


# ---------------------------------------------------------------------- the walk itself can fail


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_walk_finds_a_cycle_hidden_in_a_function_and_a_core_import_of_the_scheduler(tmp_path):
    root = _tree(
        tmp_path,
        {
            "tsm/__init__.py": "",
            "tsm/chat/__init__.py": "from .router import Router\n",  # a package importing its child: not an edge
            "tsm/chat/router.py": "class Router: ...\n",
            "tsm/chat/booking.py": "from .officer import picker\n",
            "tsm/chat/officer.py": "def picker():\n    from .booking import book  # hidden, still a cycle\n",
            "tsm/services/__init__.py": "",
            "tsm/services/booking.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from scheduler.jobs import Jobs\n",
            "tsm/composition.py": "import bot.handler\nimport scheduler.jobs\n",
            "tsm/helper.py": "from . import composition\n",
            "bot/__init__.py": "",
            "bot/handler.py": "from botbuilder.core import TurnContext\nfrom tsm.chat import Router\n",
            "scheduler/__init__.py": "",
            "scheduler/jobs.py": "from tsm.services.booking import x\nimport botbuilder.schema\n",
            "cards/__init__.py": "",
            "cards/booking.py": "from bot import files\n",  # no bot/files.py here: counts as the package bot
        },
    )
    graph, raw = import_graph(root)
    assert graph["tsm.chat"] == set()
    # the TYPE_CHECKING import closes a cycle too (the scheduler's jobs import the booking service)
    assert cycles(graph) == [
        ["scheduler.jobs", "tsm.services.booking"],
        ["tsm.chat.booking", "tsm.chat.officer"],
    ]
    assert core_to_edge(graph) == [("cards.booking", "bot"), ("tsm.services.booking", "scheduler.jobs")]
    assert root_importers(graph) == ["tsm.helper"]
    assert sdk_outside_bot(raw) == [("scheduler.jobs", "botbuilder.schema")]


def test_the_walk_finds_a_long_cycle_through_packages(tmp_path):
    root = _tree(
        tmp_path,
        {
            "bot/__init__.py": "",
            "bot/handler.py": "import scheduler.meeting_events\n",
            "scheduler/__init__.py": "",
            "scheduler/meeting_events.py": "from .service import build_jobs\n",
            "scheduler/service.py": "from tsm import bootstrap\n",
            "tsm/__init__.py": "",
            "tsm/bootstrap.py": "from bot.runtime import build\n",
            "bot/runtime.py": "from .handler import Bot\n",
        },
    )
    graph, _ = import_graph(root)
    assert cycles(graph) == [
        ["bot.handler", "bot.runtime", "scheduler.meeting_events", "scheduler.service", "tsm.bootstrap"]
    ]
    assert core_to_edge(graph) == []  # tsm.bootstrap is not the core; the cycle alone fails the test


def test_a_tree_without_cycles_passes(tmp_path):
    root = _tree(
        tmp_path,
        {
            "tsm/__init__.py": "",
            "tsm/chat/__init__.py": "",
            "tsm/chat/common.py": "def picker(): ...\n",
            "tsm/chat/booking.py": "from .common import picker\n",
            "tsm/chat/officer.py": "from .common import picker\nfrom .booking import x\n",
        },
    )
    graph, _ = import_graph(root)
    assert cycles(graph) == [] and core_to_edge(graph) == []
