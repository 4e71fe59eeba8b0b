"""Each endpoint is declared once, and everything else follows from the declaration."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

import stampsync
from stampsync._endpoint import ENDPOINTS, STAMPED_V3_PREFIXES, Endpoint
from stampsync.sandbox import SandboxConfig
from stampsync.sandbox.app import build_app

PACKAGE = Path(stampsync.__file__).parent
DOCS = PACKAGE.parent / "docs"


def sections() -> dict[str, type]:
    """Every API section class, by its attribute path on a client (``stamps.add``,
    ``v3.loyalty`` ...)."""
    found: dict[str, type] = {}
    for client in (stampsync.StampedClient, stampsync.StampsClient):
        for name, kind in inspect.get_annotations(client, eval_str=True).items():
            if isinstance(kind, type) and hasattr(kind, "_call"):
                found[name] = kind
            elif isinstance(kind, type) and kind.__module__.startswith("stampsync."):
                # a namespace of sections (``client.v3``)
                for sub, sub_kind in inspect.get_annotations(kind, eval_str=True).items():
                    if isinstance(sub_kind, type) and hasattr(sub_kind, "_call"):
                        found[f"{name}.{sub}"] = sub_kind
    return found


#: Where each API's sections are documented from.
MODULES = {
    "stamped": "stampsync.stamped",
    "stamps": "stampsync.stamps",
    "stamped_v3": "stampsync.stamped.v3",
}


def methods_of(endpoint: Endpoint[Any]) -> list[str]:
    """The public methods whose docstring opens with the endpoint's ``METHOD /path``."""
    head = f"{endpoint.method} {endpoint.path}"
    names = []
    for section, cls in sections().items():
        for name, member in vars(cls).items():
            if name.startswith("_") or not callable(member):
                continue
            doc = inspect.getdoc(member) or ""
            if re.match(re.escape(head) + r"(:|\s|,|$)", doc):
                names.append(f"{section}.{name}")
    return names


def test_every_endpoint_is_a_documented_method() -> None:
    assert len(ENDPOINTS) >= 30
    reference = (DOCS / "reference.md").read_text()
    for endpoint in ENDPOINTS:
        names = methods_of(endpoint)
        assert names, f"{endpoint!r}: no public method's docstring opens with it"
        for name in names:
            section = sections()[name.rsplit(".", 1)[0]]
            public = f"{MODULES[endpoint.api]}.{section.__name__}"
            assert f"::: {public}" in reference, f"{public} is not in docs/reference.md"


def test_the_sandbox_serves_every_declared_endpoint() -> None:
    config = SandboxConfig()
    app = build_app(config)
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }
    for endpoint in ENDPOINTS:
        path = endpoint.path.replace("{store_hash}", config.store_hash)
        assert (endpoint.method, path) in served, f"the sandbox has no route for {endpoint!r}"


def string_constants(tree: ast.AST) -> list[str]:
    """String literals, docstrings left out."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def _written(path: str) -> str:
    """The part of a path a declaration writes (the helpers add the prefixes)."""
    for prefix in ("/api/v2/{store_hash}", *STAMPED_V3_PREFIXES.values()):
        if path.startswith(prefix + "/"):
            return path.removeprefix(prefix)
    return path


def test_no_endpoint_path_is_written_twice() -> None:
    literals: list[str] = []
    for source in PACKAGE.rglob("*.py"):
        literals += string_constants(ast.parse(source.read_text()))
    written = [_written(e.path) for e in ENDPOINTS]
    for path in set(written):
        # Once per declaration: GET and POST /customers are two endpoints on one path.
        count = literals.count(path)
        assert count == written.count(path), f"{path!r} is written {count} times in the package"


def idempotency_table() -> dict[str, set[bool]]:
    """docs/retries.md's endpoint table: ``section.method`` -> its rows' idempotency
    (two values where it depends on the call)."""
    table: dict[str, set[bool]] = {}
    text = (DOCS / "retries.md").read_text()
    for line in text.splitlines():
        match = re.match(r"\| (Stamps|Stamped V3|Stamped) (.+?) \| (\*\*no\*\*|yes) \|", line)
        if not match:
            continue
        prefix = "v3." if match.group(1) == "Stamped V3" else ""
        section = ""
        for name in re.findall(r"`([\w.]+)`", match.group(2)):
            if "." in name:
                section, name = name.split(".", 1)
            table.setdefault(f"{prefix}{section}.{name}", set()).add(match.group(3) == "yes")
    return table


#: Endpoints whose idempotency depends on the call: a points ``set`` versus ``add``; a
#: V3 push with the platform's own id (an upsert) versus one without.
BY_CALL = {
    stampsync.stamped.customers.ADJUST_POINTS,
    stampsync.stamped.v3.customers.CREATE_CUSTOMER,
    stampsync.stamped.v3.orders.CREATE_ORDER,
    stampsync.stamped.v3.products.CREATE_PRODUCT,
}


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.method != "GET"], ids=repr)
def test_the_retries_page_says_what_the_declaration_says(endpoint: Endpoint[Any]) -> None:
    table = idempotency_table()
    names = [n for n in methods_of(endpoint) if n in table]
    assert names, f"{endpoint!r} ({methods_of(endpoint)}) is missing from docs/retries.md"
    for name in names:
        if endpoint in BY_CALL:
            assert table[name] == {True, False}, f"{name}: the page lists only {table[name]}"
        else:
            assert table[name] == {endpoint.idempotent}, name
