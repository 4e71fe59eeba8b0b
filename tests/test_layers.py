"""The dependency points one way: the batch layer imports the resources, never back.

A resource module (``stampsync.stamps.*``, ``stampsync.stamped.*``) may name batch types
in annotations (under ``if TYPE_CHECKING:``); any other import of ``stampsync.batch``, at
load time or deferred inside a function, is refused. The sections run their own batches
on the engines below them (``stampsync._engine``), which import no section.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import stampsync

PACKAGE = Path(stampsync.__file__).parent
RESOURCES = ("stamps", "stamped")


def resource_modules() -> list[Path]:
    return sorted(p for layer in RESOURCES for p in (PACKAGE / layer).rglob("*.py"))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.Import | ast.ImportFrom, path: Path) -> Iterator[str]:
    """The absolute module names an import statement of ``path`` loads."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if not node.level:
        yield node.module or ""
        return
    package = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)[:-1]
    package = package[: len(package) - (node.level - 1)]
    if node.module is None:  # from .. import batch
        yield from (".".join([*package, alias.name]) for alias in node.names)
    else:
        yield ".".join([*package, node.module])


def runtime_imports(source: str, path: Path) -> Iterator[tuple[int, str]]:
    """Every module an import statement of ``source`` (the text of ``path``) loads when it
    runs, wherever it stands (a function body too), except the body of an
    ``if TYPE_CHECKING:``, with its line."""
    tree = ast.parse(source, str(path))
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield from ((node.lineno, name) for name in _imported(node, path))
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
        else:
            pending.extend(ast.iter_child_nodes(node))


def engine_modules() -> list[Path]:
    return sorted((PACKAGE / "_engine").rglob("*.py"))


def test_the_scan_sees_relative_absolute_and_deferred_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from ...batch.writes import WriteRun\n"
        "from ... import batch\n"
        "import stampsync.batch.journal\n"
        "if TYPE_CHECKING:\n"
        "    from ...batch.fanout import StopEvent\n"
        "def f():\n"
        "    from ...batch.export import Export\n"
        "class C:\n"
        "    async def m(self):\n"
        "        if True:\n"
        "            from ...batch import sync\n"
    )
    names = sorted(name for _, name in runtime_imports(source, PACKAGE / "stamped/v3/orders.py"))
    assert names == sorted(
        [
            "typing",
            "stampsync.batch.writes",
            "stampsync.batch",
            "stampsync.batch.journal",
            "stampsync.batch.export",
            "stampsync.batch",
        ]
    )


def _batch(name: str) -> bool:
    return name == "stampsync.batch" or name.startswith("stampsync.batch.")


@pytest.mark.parametrize("path", resource_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_resources_never_import_the_batch_layer(path: Path) -> None:
    offending = [
        f"line {line}: {name}"
        for line, name in runtime_imports(path.read_text(encoding="utf-8"), path)
        if _batch(name)
    ]
    assert not offending, (
        f"{path.relative_to(PACKAGE)} imports the batch layer; run the section's batch on "
        f"stampsync._engine, or name batch types under TYPE_CHECKING: {offending}"
    )


@pytest.mark.parametrize("path", engine_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_engines_import_no_section_and_no_batch(path: Path) -> None:
    above = ("stampsync.stamps", "stampsync.stamped", "stampsync.batch", "stampsync.cli")
    offending = [
        f"line {line}: {name}"
        for line, name in runtime_imports(path.read_text(encoding="utf-8"), path)
        if any(name == a or name.startswith(a + ".") for a in above)
    ]
    assert not offending, f"{path.relative_to(PACKAGE)} imports a layer above it: {offending}"


def test_the_engines_public_paths_are_the_engines_modules_after_a_plain_import() -> None:
    code = (
        "import stampsync.batch as b\n"
        "import stampsync._engine.journal as j, stampsync._engine.writes as w\n"
        "assert b.journal is j and b.writes is w, (b.journal, b.writes)\n"
        "import stampsync.batch.postgres as p, stampsync._engine.postgres as q\n"
        "assert p is q\n"
        "from stampsync.batch.writes import Outcome\n"
        "assert Outcome is w.Outcome\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
