"""Development sessions: ``nox -s tests`` (the test suite), ``nox`` (lint, typecheck, tests,
docs), ``nox -s bench`` (benchmarks and their results page)."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests", "docs"]

PYTHON = ["3.11"]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the whole test suite (unit tests and tests against local servers)."""
    session.install("-e", ".[test,redis,cli]")
    session.run("pytest", *session.posargs)


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

    The examples on its pages run in the test suite (tests/test_docs_examples.py).
    """
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every benchmark side by side, then the results page (docs/benchmarks.md).

    ``nox -s bench -- --quick`` is a smoke run of about a minute into a scratch directory.
    """
    session.install("-e", ".[test,bench,redis,cli]")
    session.run("python", "-m", "benchmarks.run", *session.posargs)
