"""What the package says about itself matches what is tested: Python versions, CI."""

from __future__ import annotations

import ast
import os
import re
import runpy
import subprocess
import sys
import tomllib
import types
from collections.abc import Callable
from pathlib import Path
from typing import cast

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


def noxfile_sessions(monkeypatch: pytest.MonkeyPatch, where: Path) -> dict[str, object]:
    """The noxfile's sessions and the ``python=`` each was declared with, read by running
    a copy of the noxfile (in ``where``: running it links interpreters beside it, and the
    repository's own links are what a nox session running these tests starts from)
    against a stand-in ``nox`` module (nox is not a test dependency)."""
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
    noxfile = where / "noxfile.py"
    noxfile.write_text((ROOT / "noxfile.py").read_text())
    namespace = runpy.run_path(str(noxfile))
    declared["found"] = namespace["found_pythons"]()
    return declared


def test_the_tests_session_runs_once_on_this_python_and_tests_more_on_the_rest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sessions = noxfile_sessions(monkeypatch, tmp_path)
    this = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert sessions["tests"] == this  # the README's command: one interpreter, not every one
    found = sessions["found"]
    assert isinstance(found, list)
    assert this in found
    others = [v for v in found if v != this]
    assert sessions["tests_more"] == (others or [this])
    run = (ROOT / ".ci" / "run").read_text()
    assert "nox -s lint typecheck tests tests_more" in run  # CI: every interpreter found


def test_the_noxfile_links_real_interpreters_even_from_inside_a_session(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Inside a nox session, ``python3.X`` on PATH is the session venv's link to the
    noxfile's own link. Running the noxfile there (as this file's tests do, and as a nested
    nox would) must link the real interpreter, not make a loop: a loop made the next start
    of the session's Python fail with ELOOP (CI, 3.14)."""
    this = f"{sys.version_info.major}.{sys.version_info.minor}"
    links = tmp_path / ".nox" / "interpreters"
    links.mkdir(parents=True)
    (links / f"python{this}").symlink_to(sys.executable)
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / f"python{this}").symlink_to(links / f"python{this}")  # as venv makes it
    monkeypatch.setenv("PATH", f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    for _ in range(2):  # the module runs it on import, the helper once more
        sessions = noxfile_sessions(monkeypatch, tmp_path)
        assert this in cast(list[str], sessions["found"])
        for link in links.iterdir():
            target = link.resolve(strict=True)  # no loop, nothing missing
            assert not target.is_symlink()
            assert links not in target.parents
        ran = subprocess.run(
            [str(venv_bin / f"python{this}"), "-c", "pass"], capture_output=True, check=False
        )
        assert ran.returncode == 0, ran.stderr.decode()


def test_ci_installs_the_interpreters_and_tells_the_noxfile() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    pythons = (ROOT / ".ci" / "pythons").read_text()
    assert 'STAMPSYNC_PYTHONS="$(bash .ci/pythons)"' in run
    assert "export STAMPSYNC_PYTHONS" in run
    assert run.index("STAMPSYNC_PYTHONS") < run.index("nox -s lint typecheck tests")
    assert 'VERSIONS=("3.11" "3.12" "3.13" "3.14")' in pythons


def test_this_interpreter_is_a_supported_one() -> None:
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in SUPPORTED
