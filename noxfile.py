"""Development sessions: ``nox -s tests``, ``nox -s lint typecheck tests``, ``nox -s bench``."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests"]

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
    session.install("-e", ".[test,lint,redis,cli]")
    session.run("mypy")


BENCHMARKS = [
    "throttle_compliance",
    "sandbox_rate",
    "export_scaling",
    "mass_awards",
    "redis_throttle",
]


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every benchmark, side by side; ``nox -s bench -- --quick`` for a smoke run.

    Each writes its raw numbers to benchmarks/results/NAME.json and prints a table.
    """
    session.install("-e", ".[test,bench,redis,cli]")
    for name in BENCHMARKS:
        session.run(
            "python",
            "-m",
            f"benchmarks.{name}",
            "--json",
            f"benchmarks/results/{name}.json",
            *session.posargs,
        )
