"""The dependency points one way: the batch layer imports the resources, never back.

A resource module (``stampsync.stamps.*``, ``stampsync.stamped.*``) may name batch types
in annotations (under ``if TYPE_CHECKING:``) and import a batch function inside the
method that delegates to it; importing ``stampsync.batch`` when the module loads is
refused.
"""

from __future__ import annotations

import ast
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


def load_time_imports(source: str, path: Path) -> Iterator[tuple[int, str]]:
    """Every module imported by a top-level statement of ``source``, the text of
    ``path`` (the body of a top-level ``if TYPE_CHECKING:`` excepted), with its line."""
    tree = ast.parse(source, str(path))
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield from ((node.lineno, name) for name in _imported(node, path))
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                pending.extend(node.body)
            pending.extend(node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend([*node.body, *node.orelse, *node.finalbody])
            for handler in node.handlers:
                pending.extend(handler.body)


def test_the_scan_sees_relative_and_absolute_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from ...batch.writes import WriteRun\n"
        "from ... import batch\n"
        "import stampsync.batch.journal\n"
        "if TYPE_CHECKING:\n"
        "    from ...batch.fanout import StopEvent\n"
        "def f():\n"
        "    from ...batch.export import Export\n"
    )
    names = [name for _, name in load_time_imports(source, PACKAGE / "stamped/v3/orders.py")]
    assert names == [
        "typing",
        "stampsync.batch.writes",
        "stampsync.batch",
        "stampsync.batch.journal",
    ]


@pytest.mark.parametrize("path", resource_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_resources_do_not_import_the_batch_layer_when_loaded(path: Path) -> None:
    offending = [
        f"line {line}: {name}"
        for line, name in load_time_imports(path.read_text(encoding="utf-8"), path)
        if name == "stampsync.batch" or name.startswith("stampsync.batch.")
    ]
    assert not offending, (
        f"{path.relative_to(PACKAGE)} imports the batch layer when loaded; import it inside "
        f"the method that delegates to it, or under TYPE_CHECKING for annotations: {offending}"
    )
