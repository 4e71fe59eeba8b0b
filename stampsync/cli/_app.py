"""The command tree: ``stamped``, ``stamps``, ``sandbox``, ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import _stamped, _stamps

app = typer.Typer(
    help="stampsync: Stamped.io and Stamps from the command line, within your quota.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(_stamped.app, name="stamped")
app.add_typer(_stamps.app, name="stamps")


@app.command()
def demo(
    dir: Annotated[Path, typer.Option("--dir", help="where the demo writes its files")] = Path(
        "stampsync-demo"
    ),
    quick: Annotated[bool, typer.Option(help="a few seconds' worth (smoke test)")] = False,
) -> None:
    """Run the main job on the embedded sandbox: export customers, award stamps, check."""
    from ._demo import demo as run

    raise typer.Exit(run(dir, quick))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sandbox(ctx: typer.Context) -> None:
    """Serve the local sandbox of both APIs on 127.0.0.1 until Ctrl-C.

    Options: --port N, --limit L --seconds S, --fault SPEC, --customers N, --members N,
    --seed N (see `python -m stampsync.sandbox --help`).
    """
    from ..sandbox.__main__ import main as serve

    raise typer.Exit(serve(ctx.args))
