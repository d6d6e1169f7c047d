"""Code imports the installed names (`iocmon.streams`, ...), never the repository's top-level
folders: run from the checkout, `streams.metrics` and `iocmon.streams.metrics` would be two
modules with two metric registries, and installed, `streams` does not exist (issue #15)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINKED = ("streams", "producers", "notifier")
CHECKED = ("iocmon", *LINKED, "tests", "benchmarks", "dashboards")


def top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_linked_folders_are_imported_under_iocmon_only() -> None:
    files = {p.resolve() for folder in CHECKED for p in (REPO / folder).rglob("*.py")}
    assert len(files) > 250
    wrong = sorted(
        f"{path.relative_to(REPO)}: {name}"
        for path in files
        for name in top_level_imports(path) & set(LINKED)
    )
    assert wrong == []
