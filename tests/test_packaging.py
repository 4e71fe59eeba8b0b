"""What the package says about itself matches what is tested: Python versions, CI."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

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


def test_the_tests_session_takes_every_interpreter_found() -> None:
    source = (ROOT / "noxfile.py").read_text()
    assert "@nox.session(python=found_pythons() or PYTHON)\ndef tests(" in source


def test_ci_installs_the_interpreters_and_tells_the_noxfile() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    pythons = (ROOT / ".ci" / "pythons").read_text()
    assert 'STAMPSYNC_PYTHONS="$(bash .ci/pythons)"' in run
    assert "export STAMPSYNC_PYTHONS" in run
    assert run.index("STAMPSYNC_PYTHONS") < run.index("nox -s lint typecheck tests")
    assert 'VERSIONS=("3.11" "3.12" "3.13" "3.14")' in pythons


def test_this_interpreter_is_a_supported_one() -> None:
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in SUPPORTED
