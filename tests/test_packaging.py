"""What the package says about itself matches what is tested: Python versions, CI."""

from __future__ import annotations

import ast
import re
import runpy
import sys
import tomllib
import types
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED = ["3.11", "3.12", "3.13", "3.14"]


def noxfile_constant(name: str) -> object:
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            assert node.value is not None
            return ast.literal_eval(node.value)
    raise AssertionError(f"noxfile.py has no {name}")


def test_classifiers_name_exactly_the_versions_the_tests_session_runs_on() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    classified = sorted(
        m.group(1)
        for c in project["classifiers"]
        if (m := re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c))
    )
    tested = noxfile_constant("TESTED")
    assert tested == SUPPORTED
    assert classified == SUPPORTED
    assert project["requires-python"] == ">=3.11"


def noxfile_sessions(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The noxfile's sessions and the ``python=`` each was declared with, read by running
    the noxfile against a stand-in ``nox`` module (nox is not a test dependency)."""
    declared: dict[str, object] = {}

    def session(**kwargs: object) -> Callable[[Callable[..., None]], Callable[..., None]]:
        def register(func: Callable[..., None]) -> Callable[..., None]:
            declared[func.__name__] = kwargs.get("python")
            return func

        return register

    fake = types.ModuleType("nox")
    fake.session = session  # type: ignore[attr-defined]
    fake.options = types.SimpleNamespace()  # type: ignore[attr-defined]
    fake.Session = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nox", fake)
    monkeypatch.delenv("CI", raising=False)
    namespace = runpy.run_path(str(ROOT / "noxfile.py"))
    declared["found"] = namespace["found_pythons"]()
    return declared


def test_the_tests_session_runs_once_on_this_python_and_tests_more_on_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sessions = noxfile_sessions(monkeypatch)
    this = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert sessions["tests"] == this  # the README's command: one interpreter, not every one
    found = sessions["found"]
    assert isinstance(found, list)
    assert this in found
    others = [v for v in found if v != this]
    assert sessions["tests_more"] == (others or [this])
    run = (ROOT / ".ci" / "run").read_text()
    assert "nox -s lint typecheck tests tests_more" in run  # CI: every interpreter found


def test_ci_installs_the_interpreters_and_tells_the_noxfile() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    pythons = (ROOT / ".ci" / "pythons").read_text()
    assert 'STAMPSYNC_PYTHONS="$(bash .ci/pythons)"' in run
    assert "export STAMPSYNC_PYTHONS" in run
    assert run.index("STAMPSYNC_PYTHONS") < run.index("nox -s lint typecheck tests")
    assert 'VERSIONS=("3.11" "3.12" "3.13" "3.14")' in pythons


def test_this_interpreter_is_a_supported_one() -> None:
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in SUPPORTED
