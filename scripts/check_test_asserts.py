#!/usr/bin/env python3
"""Fail when a test function asserts nothing.

A test counts as asserting when its body (nested functions and lambdas
included) has an ``assert`` statement, a ``pytest.raises``/``pytest.warns``/
``pytest.fail`` call, a call to a helper whose name starts with
``assert``/``expect`` (``assert_status(...)``, ``expect(locator)...``), or a
call to a helper function that asserts by these rules itself: one defined at
the top of the same file or imported by name from another module of
``tests``.

    scripts/check_test_asserts.py [PATH ...]            # default: tests/
    scripts/check_test_asserts.py --allow FILE          # FILE lists known offenders

The allow-list file has one ``path::test_name`` a line (``#`` starts a
comment); listed tests are reported as allowed, not as failures, and entries
that no longer match anything are reported so the list can shrink.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ALLOW = ROOT / "scripts" / "no_assert_allowlist.txt"

_PYTEST_CHECKS = {"raises", "warns", "fail", "deprecated_call"}


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _asserts(node: ast.AST, helpers: frozenset[str] = frozenset()) -> bool:
    """Return True if `node` asserts, directly or by calling one of `helpers`."""
    for child in ast.walk(node):
        if isinstance(child, ast.Assert):
            return True
        if isinstance(child, ast.Call):
            func = child.func
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "pytest"
                and func.attr in _PYTEST_CHECKS
            ):
                return True
            name = _call_name(func)
            if name.lower().startswith(("assert", "expect")):
                return True
            if isinstance(func, ast.Name) and name in helpers:
                return True
    return False


class Helpers:
    """Which top-level functions of which test files assert, following imports from tests."""

    def __init__(self) -> None:
        self._by_file: dict[Path, frozenset[str]] = {}

    def asserting(self, file: Path, tree: ast.Module | None = None) -> frozenset[str]:
        file = file.resolve()
        if file in self._by_file:
            return self._by_file[file]
        self._by_file[file] = frozenset()  # import cycles: assume nothing meanwhile
        if tree is None:
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        known: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "tests" or node.module.startswith("tests."):
                    source = ROOT / Path(*node.module.split("."))
                    source = (
                        source / "__init__.py" if source.is_dir() else source.with_suffix(".py")
                    )
                    if source.is_file():
                        theirs = self.asserting(source)
                        known |= {a.asname or a.name for a in node.names if a.name in theirs}
        functions = [
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and not node.name.startswith("test")
        ]
        changed = True
        while changed:
            changed = False
            for node in functions:
                if node.name not in known and _asserts(node, frozenset(known)):
                    known.add(node.name)
                    changed = True
        self._by_file[file] = frozenset(known)
        return self._by_file[file]


def _test_functions(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    """Yield (qualified name, node) of test functions at module level and in Test classes."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            yield node.name, node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(
                    item, ast.FunctionDef | ast.AsyncFunctionDef
                ) and item.name.startswith("test"):
                    yield f"{node.name}.{item.name}", item


def find_offenders(paths: list[Path]) -> list[str]:
    offenders = []
    helpers = Helpers()
    for path in paths:
        files = sorted(path.rglob("test_*.py")) if path.is_dir() else [path]
        for file in files:
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
            try:
                shown = file.resolve().relative_to(ROOT)
            except ValueError:
                shown = file
            known = helpers.asserting(file, tree)
            for name, node in _test_functions(tree):
                if not _asserts(node, known):
                    offenders.append(f"{shown}::{name}")
    return offenders


def read_allow_list(path: Path) -> set[str]:
    if not path.exists():
        return set()
    entries = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            entries.add(line)
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "tests"])
    parser.add_argument("--allow", type=Path, default=DEFAULT_ALLOW, help="allow-list file")
    options = parser.parse_args(argv)

    offenders = find_offenders(options.paths)
    allowed = read_allow_list(options.allow)
    failures = [o for o in offenders if o not in allowed]
    stale = sorted(allowed - set(offenders))
    for entry in stale:
        print(f"allow-list entry no longer needed: {entry}")
    for entry in failures:
        print(f"{entry}: test without an assertion")
    if failures:
        print(
            f"{len(failures)} test(s) assert nothing: add an assert, pytest.raises or an "
            "assert_*/expect* helper call"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
