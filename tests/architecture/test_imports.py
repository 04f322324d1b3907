"""The house's arrows: doors → domain → accounts → helpdesk, and never back.

Builds the import graph of the project's packages from their source (an AST
walk; imports inside functions count too) and fails on a cycle between
packages, on an arrow that points up the layers, and on an import inside a
function that does not say why it is there.
"""

import ast
import itertools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lower number = lower layer. A package may import its own layer's modules
# only when that is its own package, and any lower layer.
LAYERS = {
    "helpdesk": 0,  # settings helpers, errors, sanitising, uploads
    "accounts": 1,  # people, institutions, roles, delegations
    "tickets": 2,  # the ticket domain
    "kb": 3,  # knowledge base (reads tickets for suggestions and drafts)
    "portal": 4,  # doors
    "console": 4,
    "api": 4,
    "mailbridge": 4,
}
DOORS = {"portal", "console", "api", "mailbridge"}
# The composition root wires every app together: the URL map, the ASGI and
# WSGI entry points, celery's app, and settings (which names apps by string).
ROOT_MODULES = {
    "helpdesk.urls",
    "helpdesk.asgi",
    "helpdesk.wsgi",
    "helpdesk.celery",
    "helpdesk.settings",
    "helpdesk.views",
}
# Door-to-door arrows that are a design decision, with the reason.
ALLOWED_BETWEEN_DOORS = {
    # The API filters tickets with the console's filter set: one definition
    # of what a queue filter means for people and machines.
    ("api", "console.filters"),
}


def _modules():
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            relative = path.relative_to(ROOT).with_suffix("")
            parts = list(relative.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _imports(path: Path):
    """Yield (imported module, line, nested, has_reason) for project imports in `path`."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    nested_nodes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    nested_nodes.add(id(inner))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        names = [n for n in names if n.split(".")[0] in LAYERS]
        if not names:
            continue
        nested = id(node) in nested_nodes
        context = lines[max(0, node.lineno - 3) : node.lineno]
        reason = any("#" in line for line in context)
        yield names, node.lineno, nested, reason


def _edges():
    for module, path in _modules():
        for names, line, nested, reason in _imports(path):
            for name in names:
                yield module, name, path, line, nested, reason


def _package(module: str) -> str:
    return module.split(".")[0]


def test_no_cycle_between_packages():
    graph = {package: set() for package in LAYERS}
    for module, target, *_rest in _edges():
        if module in ROOT_MODULES:
            continue
        source, dest = _package(module), _package(target)
        if source != dest:
            graph[source].add(dest)
    for a, b in itertools.permutations(LAYERS, 2):
        reach, todo = set(), [a]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in reach:
                    reach.add(nxt)
                    todo.append(nxt)
        assert not (b in reach and a in _reach(graph, b)), f"cycle between {a} and {b}"


def _reach(graph, start):
    reach, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in reach:
                reach.add(nxt)
                todo.append(nxt)
    return reach


def wrong_arrow(module: str, target: str) -> bool:
    """Whether `module` importing `target` goes against the layers."""
    if module in ROOT_MODULES:
        return False
    source, dest = _package(module), _package(target)
    if source == dest:
        return False
    if source in DOORS and dest in DOORS:
        return not any(
            source == s and (target == t or target.startswith(t + "."))
            for s, t in ALLOWED_BETWEEN_DOORS
        )
    return LAYERS[dest] >= LAYERS[source]


def test_arrows_point_down_the_layers():
    wrong = sorted(
        {
            f"{path.relative_to(ROOT)}:{line} {module} → {target}"
            for module, target, path, line, _nested, _reason in _edges()
            if wrong_arrow(module, target)
        }
    )
    assert wrong == []


@pytest.mark.parametrize(
    ("module", "target", "wrong"),
    [
        ("tickets.outbox", "mailbridge.outbound", True),
        ("tickets.actions.filing", "portal.views", True),
        ("tickets.policies", "console.live", True),
        ("accounts.services", "tickets.models", True),
        ("helpdesk.sanitize", "accounts.models", True),
        ("kb.views", "portal.views", True),
        ("api.views", "portal.forms", True),
        ("api.views", "console.filters", False),
        ("console.views", "tickets.actions", False),
        ("mailbridge.ingest", "accounts.permissions", False),
        ("tickets.outbox", "accounts.models", False),
        ("helpdesk.urls", "portal.urls", False),
        ("tickets.actions.bulk", "tickets.actions.status", False),
    ],
)
def test_the_rule_refuses_exactly_the_wrong_arrows(module, target, wrong):
    assert wrong_arrow(module, target) is wrong


def test_the_domain_imports_no_door():
    doors = {
        f"{module} → {target}"
        for module, target, *_rest in _edges()
        if _package(module) in {"tickets", "accounts", "kb", "helpdesk"}
        and module not in ROOT_MODULES
        and _package(target) in DOORS
    }
    assert doors == set()


def test_imports_inside_functions_say_why():
    silent = sorted(
        {
            f"{path.relative_to(ROOT)}:{line}"
            for _module, _target, path, line, nested, reason in _edges()
            if nested and not reason
        }
    )
    assert silent == []


def test_no_door_imports_a_private_name():
    private = []
    for module, path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if _package(node.module) in LAYERS and _package(node.module) != _package(module):
                    private += [
                        f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}"
                        for alias in node.names
                        if alias.name.startswith("_")
                    ]
    assert private == []


def test_the_domain_holds_no_door_module():
    names = {p.stem for p in (ROOT / "tickets").rglob("*.py")}
    doorish = {"views", "forms", "urls", "consumers", "filters", "serializers"}
    assert not names & doorish
    assert not any(
        p.name.endswith(("_views.py", "_urls.py", "_forms.py"))
        for p in (ROOT / "tickets").rglob("*.py")
    )
    assert not (ROOT / "tickets" / "templates").exists()
