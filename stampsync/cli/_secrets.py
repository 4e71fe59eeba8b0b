"""Credentials for the command line: environment, a file, or a prompt; never echoed.

A flag's value is in the process list for every local user to read (``ps``), so a
secret given as a flag still works but prints a one-line warning. The safe ways:
the environment variable, a ``--...-file`` holding the secret (first line), or, with
nothing given and a terminal on stdin, a prompt that does not echo.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import err, fail, warn_visible_flag


class _FromFlag(str):
    """A secret that was typed on the command line (so it is in the process list)."""

    __slots__ = ()


def warn_if_flag(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    """Option callback: warn when a secret came from the command line itself."""
    source = ctx.get_parameter_source(param.name or "")
    if value is not None and source is not None and source.name == "COMMANDLINE":
        flag = param.opts[0] if param.opts else param.name
        warn_visible_flag(str(flag), f"{param.envvar}, {flag}-file or the prompt")
        return _FromFlag(value)
    return value


def secret_option(flag: str, env: str, what: str) -> Any:
    """A typer option for a secret: from ``flag`` (warned) or ``env``."""
    return typer.Option(
        flag,
        envvar=env,
        show_default=False,
        callback=warn_if_flag,
        help=f"{what} (never printed). Prefer {env}, {flag}-file or the prompt: a flag's "
        "value is visible in the process list.",
    )


def file_option(flag: str, what: str) -> Any:
    """A typer option naming a file that holds a secret."""
    return typer.Option(
        f"{flag}-file",
        show_default=False,
        dir_okay=False,
        help=f"Read the {what} from this file (its first line); keep it chmod 600.",
    )


TokenFile = Annotated[Path | None, file_option("--token", "API token")]
PrivateKeyFile = Annotated[Path | None, file_option("--private-key", "API private key")]


def _interactive() -> bool:
    return sys.stdin.isatty()


def _from_file(path: Path, flag: str) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {flag}-file {path}: {exc.strerror or type(exc).__name__}")
    except UnicodeDecodeError:
        fail(f"{flag}-file {path} is not UTF-8 text")
    lines = text.splitlines()
    value = lines[0].strip() if lines else ""
    if not value:
        fail(f"{flag}-file {path} is empty")
    if stat.S_IMODE(mode) & 0o077:
        err.print(
            f"[yellow]warning:[/] {flag}-file {path} can be read by other users; chmod 600 it",
            highlight=False,
        )
    return value


def resolve_secret(value: str | None, file: Path | None, *, flag: str, env: str, what: str) -> str:
    """The secret from its file, flag or environment, or a prompt; else a usage error.

    A file wins over the environment; a file together with the flag is refused (which
    one was meant?). With neither and a terminal on stdin, the secret is prompted for
    without echo.
    """
    if file is not None:
        if isinstance(value, _FromFlag):
            fail(f"give {flag} or {flag}-file, not both")
        return _from_file(file, flag)
    if value is not None and value.strip():
        return value
    if _interactive():
        typed = str(typer.prompt(what, hide_input=True, err=True)).strip()
        if typed:
            return typed
    fail(f"missing {flag} (or the {env} environment variable, {flag}-file, or a terminal to ask)")
