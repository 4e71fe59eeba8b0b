"""The command tree: ``stamped``, ``stamps``, ``fleet``, ``webhooks``, ``sandbox``, ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import (
    _doctor,
    _fleet,
    _stamped,
    _stamped_points,
    _stamped_v3,
    _stamps,
    _transactions,
    _webhooks,
)

app = typer.Typer(
    help="stampsync: Stamped.io and Stamps from the command line, within your quota.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
_stamped.app.command("push-orders")(_stamped_v3.push_orders)
_stamped.app.command("adjust-points")(_stamped_points.adjust_points)
_stamped.app.add_typer(_stamped_v3.journal_app, name="journal")
app.add_typer(_stamped.app, name="stamped")
app.add_typer(_stamps.app, name="stamps")
app.add_typer(_fleet.app, name="fleet")
app.add_typer(_webhooks.app, name="webhooks")
_stamps.app.add_typer(_transactions.app, name="transactions")
app.command()(_doctor.doctor)


def _version(value: bool) -> None:
    if value:
        from .._version import __version__

        typer.echo(f"stampsync {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """stampsync: Stamped.io and Stamps from the command line, within your quota."""


@app.command()
def demo(
    dir: Annotated[Path, typer.Option("--dir", help="where the demo writes its files")] = Path(
        "stampsync-demo"
    ),
    quick: Annotated[bool, typer.Option(help="a few seconds' worth (smoke test)")] = False,
) -> None:
    """Run the main job on the embedded sandbox: export customers, award stamps, check.

    Exit codes: 0 every check held; 1 a check failed; 70 internal error.
    """
    from ._demo import demo as run

    raise typer.Exit(run(dir, quick))


@app.command(
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        # --help goes to the sandbox's own parser, which lists its options.
        "help_option_names": [],
    },
    add_help_option=False,
)
def sandbox(ctx: typer.Context) -> None:
    """Serve the local sandbox of both APIs on 127.0.0.1 until Ctrl-C (--help: its options).

    --env starts it in the background and prints sourceable export lines:
    eval "$(stampsync sandbox --env)". Exit codes: 0 stopped (with --env: started);
    1 could not listen; 2 bad options; 70 internal error.
    """
    from ..sandbox.__main__ import main as serve

    raise typer.Exit(serve(ctx.args))
