"""Development sessions: ``nox -s tests`` (the test suite, on this Python), ``nox -s
tests_more`` (on the other supported Pythons found here), ``nox -s timing`` (the tests that
assert speed, which the suite leaves out), ``nox`` (lint, typecheck, tests, docs), ``nox -s
bench`` (benchmarks and their results page), ``nox -s mutants`` (named mutations of the
guarantees, each of which the tests must catch)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests", "docs"]

PYTHON = ["3.11"]
#: Every version the suite supports (the classifiers in pyproject.toml say the same).
TESTED = ["3.11", "3.12", "3.13", "3.14"]
#: Set by .ci/run to the versions it installed: under CI each of them must be found.
INSTALLED = os.environ.get("STAMPSYNC_PYTHONS", "").split()


def interpreter(version: str) -> str | None:
    """A working ``pythonX.Y``: on PATH, a pyenv build, or one .ci/pythons unpacked."""
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = [
        shutil.which(f"python{version}"),
        *sorted(glob.glob(f"{pyenv}/versions/{version}.*/bin/python{version}")),
        f"/opt/python{version}-debian/usr/bin/python{version}",
    ]
    for path in candidates:
        # pyenv's shims are on PATH for every version and fail for the inactive ones: run it.
        if path and os.access(path, os.X_OK):
            ok = subprocess.run([path, "-c", "import ssl"], capture_output=True, check=False)  # noqa: S603
            if ok.returncode == 0:
                return path
    return None


def found_pythons() -> list[str]:
    """The supported versions found here, made reachable by name for nox (a directory of
    links put first on PATH, so sessions are named ``tests-3.12`` rather than by path)."""
    links = Path(__file__).parent / ".nox" / "interpreters"
    links.mkdir(parents=True, exist_ok=True)
    found = []
    for version in TESTED:
        path = interpreter(version)
        if path is None:
            continue
        # The real file, never a link: inside a session, ``python3.X`` on PATH is the
        # session's venv, whose interpreter is a link to this very link, and linking to it
        # would make a loop that every later start of that venv's Python fails on (ELOOP).
        # Replaced in one step, so a session running meanwhile never sees the link missing.
        link = links / f"python{version}"
        fresh = links / f".python{version}.{os.getpid()}"
        fresh.unlink(missing_ok=True)
        fresh.symlink_to(os.path.realpath(path))
        fresh.replace(link)
        found.append(version)
    os.environ["PATH"] = f"{links}{os.pathsep}{os.environ.get('PATH', '')}"
    if os.environ.get("CI") == "true":
        missing = [v for v in INSTALLED if v not in found]
        if missing or not found:
            raise SystemExit(
                f"noxfile: CI installed Python {INSTALLED or '(none said)'} but "
                f"{missing or 'none'} cannot be found"
            )
    return found


#: The interpreter nox itself runs on: ``nox -s tests`` tests on it alone.
CURRENT = f"{sys.version_info.major}.{sys.version_info.minor}"
#: The other supported versions found here, for ``nox -s tests_more`` (CI runs both).
OTHERS = [v for v in found_pythons() if v != CURRENT]


def run_pytest(session: nox.Session, *args: str) -> None:
    session.install("-e", ".[test,redis,cli]")
    # Ctrl-C reaches pytest first; give its teardown time to stop the servers the
    # fixtures started (nox's default escalates to SIGKILL after half a second).
    session.run("pytest", *args, *session.posargs, interrupt_timeout=60, terminate_timeout=30)


@nox.session(python=CURRENT)
def tests(session: nox.Session) -> None:
    """Run the whole test suite once, on the Python that runs nox (about 7 minutes on
    two cores: one pytest process per core, ``-n auto``).

    Unit tests and tests against local servers (sandbox, redis-server, PostgreSQL); each
    process starts its own servers, on free ports.
    """
    run_pytest(session, "-n", "auto")


@nox.session(python=OTHERS or [CURRENT])
def tests_more(session: nox.Session) -> None:
    """The suite on every other supported Python found here (CI runs it after ``tests``)."""
    if not OTHERS:
        session.skip(f"no supported Python besides {CURRENT} was found")
    run_pytest(session, "-n", "auto")


@nox.session(python=CURRENT)
def timing(session: nox.Session) -> None:
    """The tests that assert speed (rate, latency, elapsed time): those marked ``timing``.

    The default suite deselects them (``addopts`` in pyproject.toml). CI runs this session
    once, on one interpreter, with its own tolerance: the figures are this machine's, so a
    failure here says the machine was slow or the code was, and is judged apart from the
    behaviour tests. Its tolerance: a test that misses its bound is run once more
    (pytest-rerunfailures), as a busy machine can slow one run; two misses fail. A run
    that collects no test exits 5, which fails it too.
    """
    session.install("pytest-rerunfailures")
    run_pytest(session, "-m", "timing", "--reruns", "1")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check: style and common bugs."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and the benchmarks."""
    # Everything mypy reads: the package, the tests, the benchmarks (and their deps).
    session.install("-e", ".[test,lint,redis,cli,bench]", "types-requests")
    session.run("mypy")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site with mkdocs --strict: a broken link or reference fails.

    The examples on its pages run in the test suite (tests/integration/test_docs_examples.py).
    """
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session(python=PYTHON)
def mutants(session: nox.Session) -> None:
    """Apply each named mutation of mutants/catalog.toml to a scratch copy; fail if one survives.

    ``nox -s mutants`` runs the fast tier (as CI does); ``-- --tier all`` every mutation,
    ``-- --only NAME ...`` some, ``-- --list`` lists them. See docs/contributing.md.
    """
    session.install("-e", ".[test,redis,cli]")
    session.run("python", "-m", "mutants.run", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every benchmark side by side, then the results page (docs/benchmarks.md).

    ``nox -s bench -- --quick`` is a smoke run of about a minute into a scratch directory.
    """
    session.install("-e", ".[test,bench,redis,cli]")
    session.run("python", "-m", "benchmarks.run", *session.posargs)
