"""What every command shares: settings from flags or environment, errors, progress."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from yarl import URL

from .._client import BaseClient
from ..batch.writes import ExitCode, hopeless
from ..errors import ClientStateError, ConfigurationError, StampsyncError, StateFileError
from ..stamped.client import StampedClient
from ..stamps.client import StampsClient
from ..throttle import RedisThrottle

USAGE_ERROR = 2
# soft_wrap: never break a message across lines (logs and scripts grep them).
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    """Print ``message`` to stderr and exit (2: usage error, nothing was sent)."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@dataclass(frozen=True)
class Tuning:
    """Throttle and concurrency settings shared by every API command.

    With ``redis_url`` the quota is a :class:`RedisThrottle` shared with every other
    process using the same ``throttle_key``.
    """

    throttle_limit: int
    throttle_seconds: float
    connections: int
    batch: int
    redis_url: str | None = field(default=None, repr=False)  # may hold a password
    throttle_key: str | None = None

    def throttle(self, default_key: str) -> RedisThrottle | None:
        """The shared throttle, if a Redis URL was given; close it with :func:`release`."""
        if not self.redis_url:
            return None
        return RedisThrottle(
            self.redis_url,
            key=self.throttle_key or default_key,
            limit=self.throttle_limit,
            seconds=self.throttle_seconds,
        )

    def stamps(self, api_url: str, token: str) -> StampsClient:
        """A Stamps client with these settings."""
        return StampsClient(
            token,
            api_url=api_url,
            throttle_limit=self.throttle_limit,
            throttle_seconds=self.throttle_seconds,
            concurrent_connections=self.connections,
            concurrent_batch_executions=self.batch,
            throttle=self.throttle(f"stamps:{URL(api_url).host}"),
        )

    def stamped(
        self, api_url: str, public_key: str, private_key: str, store_hash: str
    ) -> StampedClient:
        """A Stamped.io client with these settings."""
        return StampedClient(
            public_key,
            private_key,
            store_hash,
            api_url=api_url,
            throttle_limit=self.throttle_limit,
            throttle_seconds=self.throttle_seconds,
            concurrent_connections=self.connections,
            concurrent_batch_executions=self.batch,
            throttle=self.throttle(f"stamped:{store_hash}"),
        )


ThrottleLimit = Annotated[
    int,
    typer.Option(
        "--throttle-limit",
        envvar="STAMPSYNC_THROTTLE_LIMIT",
        min=1,
        help="Most requests in any window.",
    ),
]
ThrottleSeconds = Annotated[
    float,
    typer.Option(
        "--throttle-seconds",
        envvar="STAMPSYNC_THROTTLE_SECONDS",
        min=0.001,
        help="The window, in seconds.",
    ),
]
Connections = Annotated[
    int,
    typer.Option(
        "--connections", envvar="STAMPSYNC_CONNECTIONS", min=1, help="Requests in flight at once."
    ),
]
Batch = Annotated[
    int, typer.Option("--batch", envvar="STAMPSYNC_BATCH", min=1, help="Batch tasks at once.")
]
RedisUrl = Annotated[
    str | None,
    typer.Option(
        "--redis-url",
        envvar="STAMPSYNC_REDIS_URL",
        show_default=False,
        help="Share the quota with other processes through this Redis.",
    ),
]
ThrottleKey = Annotated[
    str | None,
    typer.Option(
        "--throttle-key",
        envvar="STAMPSYNC_THROTTLE_KEY",
        show_default=False,
        help="Name of the shared quota in Redis (default: per API and store).",
    ),
]


async def release(client: BaseClient) -> None:
    """Close a client's shared throttle (the CLI created it, so the CLI closes it)."""
    if isinstance(client.throttle, RedisThrottle):
        await client.throttle.aclose()


def require(value: str | None, flag: str, env: str) -> str:
    """A credential from its flag or environment variable, or a usage error naming both."""
    if value is None or not value.strip():
        fail(f"missing {flag} (or the {env} environment variable)")
    return value


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn errors into a clear message and the exit code of the batch table.

    2: refused before anything was sent (settings, a file in use or unusable); 4: the
    run cannot succeed (credentials refused, server or shared throttle unreachable);
    1: the run failed part way (an API error; a rerun or ``--resume`` continues).
    """
    try:
        yield
    except (ConfigurationError, ClientStateError, StateFileError) as exc:
        fail(str(exc))
    except StampsyncError as exc:
        why = hopeless(exc)
        if why is not None:
            fail(f"stopped: {why}", ExitCode.STOPPED)
        fail(str(exc), ExitCode.FAILED)


def progress() -> Progress:
    """A progress display on stderr with count, rate-limited ETA and elapsed time."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
        disable=not sys.stderr.isatty() and os.environ.get("STAMPSYNC_PROGRESS") != "1",
    )
