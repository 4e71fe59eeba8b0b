"""What every command shares: settings from flags or environment, errors, progress."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import re
import ssl
import sys
import time
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text
from yarl import URL

from .._client import BaseClient
from .._engine.writes import ExitCode, hopeless
from .._local_throttle import Plan
from .._options import ClientSettings
from ..errors import ClientStateError, ConfigurationError, StampsyncError, StateFileError
from ..stamped.client import StampedClient
from ..stamps.client import StampsClient
from ..throttle import RedisThrottle

USAGE_ERROR = 2
# soft_wrap: never break a message across lines (logs and scripts grep them).
err = Console(stderr=True, soft_wrap=True)


#: Characters a terminal acts on rather than shows: C0 and C1 controls, DEL, and the
#: bidirectional overrides that reorder what is shown.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` made safe to print: control characters become spaces.

    Server text (an error message, a merchant's name) can carry terminal escape
    sequences: a colour change, a forged line, an OSC 52 write to the clipboard. Every
    text that did not come from stampsync itself passes through here before it is printed.
    """
    return _UNPRINTABLE.sub(" ", text)


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    """Print ``message`` to stderr and exit (2: usage error, nothing was sent).

    ``message`` is printed as it is: no control character, no rich markup is acted on.
    """
    err.print(f"[bold red]error:[/] {escape(printable(message))}", highlight=False)
    raise typer.Exit(code)


def warn_visible_flag(flag: str, instead: str) -> None:
    """Warn that a secret given as ``flag`` is visible to other local users (``ps``)."""
    err.print(
        f"[yellow]warning:[/] {flag} on the command line is visible to other local users "
        f"(ps); use {instead} instead",
        highlight=False,
    )


def _warn_proxy_password(
    ctx: typer.Context, param: typer.CallbackParam, value: str | None
) -> str | None:
    """Option callback: a proxy URL with a password, typed as a flag, is in ``ps``."""
    source = ctx.get_parameter_source(param.name or "")
    if value and source is not None and source.name == "COMMANDLINE":
        try:
            password = URL(value.strip()).password
        except ValueError:
            password = None  # refused later, by the client, without showing it
        if password:
            warn_visible_flag("--proxy", "STAMPSYNC_PROXY")
    return value


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
CaFile = Annotated[
    Path | None,
    typer.Option(
        "--ca-file",
        envvar="STAMPSYNC_CA_FILE",
        show_default=False,
        help="Trust this certificate authority (a PEM file) for the API's TLS.",
    ),
]
Proxy = Annotated[
    str | None,
    typer.Option(
        "--proxy",
        envvar="STAMPSYNC_PROXY",
        show_default=False,
        callback=_warn_proxy_password,
        help="Send requests through this http(s) proxy (credentials are kept secret; "
        "prefer STAMPSYNC_PROXY for one with a password: a flag is visible in ps).",
    ),
]
TrustEnv = Annotated[
    bool,
    typer.Option(
        "--trust-env",
        envvar="STAMPSYNC_TRUST_ENV",
        help="Take the proxy from HTTPS_PROXY/HTTP_PROXY (NO_PROXY honoured) and ~/.netrc.",
    ),
]


@dataclass(frozen=True)
class Tuning:
    """Throttle and concurrency settings shared by every API command.

    Each field is declared once, with its flag and environment variable: a command gets
    them all through :func:`with_options` (``tuning=Tuning``). With ``redis_url`` the
    quota is a :class:`RedisThrottle` shared with every other process using the same
    ``throttle_key``.
    """

    throttle_limit: ThrottleLimit = 500
    throttle_seconds: ThrottleSeconds = 60.0
    connections: Connections = 2
    batch: Batch = 10
    redis_url: RedisUrl = field(default=None, repr=False)  # may hold a password
    throttle_key: ThrottleKey = None
    ca_file: CaFile = None
    proxy: Proxy = field(default=None, repr=False)  # may hold a password
    trust_env: TrustEnv = False

    def settings(self, default_key: str) -> ClientSettings:
        """The client settings these options make (``default_key``: the shared quota's
        name when ``--throttle-key`` is not given)."""
        context = None
        if self.ca_file is not None:
            try:
                context = ssl.create_default_context(cafile=str(self.ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    f"--ca-file {self.ca_file}: not a readable PEM certificate ({exc})"
                ) from None
        settings = ClientSettings(
            throttle_limit=self.throttle_limit,
            throttle_seconds=self.throttle_seconds,
            concurrent_connections=self.connections,
            concurrent_batch_executions=self.batch,
            throttle=self.throttle(default_key),
            ssl=context,
            proxy=self.proxy,
            trust_env=self.trust_env,
        )
        if not self.redis_url:
            # The command's own quota has no person waiting on it: a reserve for
            # interactive calls would only slow the batch. A shared (Redis) quota keeps
            # its reserve for the bots of other processes.
            settings["throttle_reserve"] = 0.0
        return settings

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

    def stamps(
        self,
        api_url: str,
        token: str,
        *,
        store: int | None = None,
        merchant: int | None = None,
        limits: dict[str, int | float] | None = None,
        jwt: bool = False,
    ) -> StampsClient:
        """A Stamps client with these settings (``store``: for calls that name none;
        ``merchant``: else ``STAMPS_MERCHANT``, as the client reads it; ``limits``:
        ``max_stamps`` and ``max_value`` when a command's flags set them; ``jwt``: the
        token is exchanged for JWTs)."""
        settings = self.settings(f"stamps:{URL(api_url).host}")
        if limits:
            settings.update(limits)  # type: ignore[typeddict-item]
        return StampsClient(
            token, api_url=api_url, store=store, merchant=merchant, jwt=jwt, **settings
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
            **self.settings(f"stamped:{store_hash}"),
        )


F = TypeVar("F", bound=Callable[..., Any])


def with_options(**groups: type[Any]) -> Callable[[F], F]:
    """Give a command the options of each dataclass in ``groups`` and one instance of it.

    ``@with_options(tuning=Tuning)`` adds every field of ``Tuning`` (declared there with
    its ``typer.Option``) to the command's options, after its own, and calls the command
    with ``tuning=Tuning(...)`` built from them: one declaration, however many commands.
    """

    def decorate(func: F) -> F:
        own = typing.get_type_hints(func, include_extras=True)
        signature = inspect.signature(func)
        params = [
            p.replace(annotation=own.get(p.name, p.annotation))
            for p in signature.parameters.values()
            if p.name not in groups
        ]
        members: dict[str, list[str]] = {}
        for group_name, group in groups.items():
            hints = typing.get_type_hints(group, include_extras=True)
            members[group_name] = []
            for f in dataclasses.fields(group):
                params.append(
                    inspect.Parameter(
                        f.name,
                        inspect.Parameter.KEYWORD_ONLY,
                        default=f.default,
                        annotation=hints[f.name],
                    )
                )
                members[group_name].append(f.name)

        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            for group_name, names in members.items():
                values = {name: kwargs.pop(name) for name in names}
                kwargs[group_name] = groups[group_name](**values)
            return func(*args, **kwargs)

        command.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=params, return_annotation=own.get("return", signature.return_annotation)
        )
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command  # type: ignore[return-value]

    return decorate


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


#: Until this share of the rows is done (and for these seconds), the time left comes from
#: the planner: the first rows' rate says little (a burst, or a slow start).
PLANNED_SHARE = 0.05
PLANNED_SECONDS = 10.0


def time_left(task: Task, plan: Plan | None) -> float | None:
    """Seconds left for ``task``: the planner's estimate for the rows left early in the
    run, then the measured rate's (rich's); None when neither is known."""
    measured = task.time_remaining
    if plan is None or not task.total or plan.requests <= 0:
        return measured
    early = task.completed < PLANNED_SHARE * task.total or (task.elapsed or 0) < PLANNED_SECONDS
    if measured is None or early:
        left = max(0.0, task.total - task.completed)
        return plan.seconds * left / plan.requests
    return measured


class TimeLeftColumn(ProgressColumn):
    """The time left, as :func:`time_left` reckons it."""

    def __init__(self, plan: Plan | None) -> None:
        super().__init__()
        self.plan = plan

    def render(self, task: Task) -> Text:
        left = time_left(task, self.plan)
        if left is None:
            return Text("-:--:--", style="progress.remaining")
        minutes, seconds = divmod(int(left), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"{hours}:{minutes:02d}:{seconds:02d}", style="progress.remaining")


class LineProgress(Progress):
    """Progress for logs: no bar, a plain line every ``every_rows`` rows or ``every_seconds``
    seconds (and one at the end), so cron and CI logs show a long run moving."""

    def __init__(
        self, *, every_rows: int = 1000, every_seconds: float = 10.0, plan: Plan | None = None
    ) -> None:
        super().__init__(console=err, disable=True)
        self.plan = plan
        self.every_rows = every_rows
        self.every_seconds = every_seconds
        self._last_rows = 0.0
        self._last_time = time.monotonic()

    def update(self, task_id: TaskID, **kwargs: Any) -> None:
        super().update(task_id, **kwargs)
        task = self._tasks[task_id]
        now = time.monotonic()
        if (
            task.completed - self._last_rows >= self.every_rows
            or now - self._last_time >= self.every_seconds
        ):
            self._say(task)

    def _say(self, task: Task) -> None:
        self._last_rows, self._last_time = task.completed, time.monotonic()
        total = f" of {task.total:.0f}" if task.total is not None else ""
        rate = task.fields.get("rate")
        left = time_left(task, self.plan) if task.completed < (task.total or 0) else None
        err.print(
            f"{task.description}: {task.completed:.0f}{total}"
            + (f" ({rate})" if rate else "")
            + f", {task.elapsed or 0:.0f} s"
            + (f", about {left:.0f} s left" if left is not None else ""),
            highlight=False,
            markup=False,
        )

    def stop(self) -> None:
        for task in self.tasks:
            if task.completed != self._last_rows:
                self._say(task)
        super().stop()


#: A batch the planner expects to take longer than this is announced before it starts.
LONG_BATCH_SECONDS = 30.0


async def announce_plan(client: BaseClient, requests: int) -> Plan:
    """Print the planner's estimate on stderr before a long batch of ``requests``
    (``plan: 3000 requests: about 6 min at 450 per 60 s (limited by quota)``)."""
    plan = await client.plan(requests)
    if plan.seconds >= LONG_BATCH_SECONDS:
        err.print(f"plan: {escape(str(plan))}")
    return plan


def progress(plan: Plan | None = None) -> Progress:
    """A progress display on stderr with count, rate, time left and elapsed time; without
    a terminal (cron, CI), a line per 1000 rows or 10 s instead. The time left is the
    ``plan``'s early in the run (see :func:`time_left`), then the measured rate's.

    ``STAMPSYNC_PROGRESS=1`` forces the bar, ``=0`` silences both.
    """
    forced = os.environ.get("STAMPSYNC_PROGRESS")
    if forced == "0":
        return Progress(console=err, disable=True)
    if not sys.stderr.isatty() and forced != "1":
        return LineProgress(plan=plan)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeLeftColumn(plan),
        console=err,
        transient=False,
    )
