"""The API commands take their settings from one shared declaration, unchanged in name."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
import typer

from stampsync import StampedClient
from stampsync.cli import _common
from stampsync.cli._app import app
from stampsync.cli._common import Tuning
from stampsync.cli._stamped import StampedAccess
from stampsync.cli._stamps import StampsAccess

from ._cli import runner

#: The flags and environment variables scripts already use: they must never change.
TUNING = {
    "throttle_limit": ("--throttle-limit", "STAMPSYNC_THROTTLE_LIMIT"),
    "throttle_seconds": ("--throttle-seconds", "STAMPSYNC_THROTTLE_SECONDS"),
    "connections": ("--connections", "STAMPSYNC_CONNECTIONS"),
    "batch": ("--batch", "STAMPSYNC_BATCH"),
    "redis_url": ("--redis-url", "STAMPSYNC_REDIS_URL"),
    "throttle_key": ("--throttle-key", "STAMPSYNC_THROTTLE_KEY"),
    "ca_file": ("--ca-file", "STAMPSYNC_CA_FILE"),
    "proxy": ("--proxy", "STAMPSYNC_PROXY"),
    "trust_env": ("--trust-env", "STAMPSYNC_TRUST_ENV"),
}
STAMPED = {
    "api_url": ("--api-url", "STAMPED_API_URL"),
    "public_key": ("--public-key", "STAMPED_PUBLIC_KEY"),
    "private_key": ("--private-key", "STAMPED_PRIVATE_KEY"),
    "private_key_file": ("--private-key-file", None),
    "store_hash": ("--store-hash", "STAMPED_STORE_HASH"),
}
STAMPS = {
    "api_url": ("--api-url", "STAMPS_API_URL"),
    "token": ("--token", "STAMPS_TOKEN"),
    "token_file": ("--token-file", None),
}
COMMANDS = [
    (("stamped", "export-customers"), STAMPED),
    (("stamped", "sync-customers"), STAMPED),
    (("stamps", "award"), STAMPS),
]


def command(path: tuple[str, ...]) -> typing.Any:
    cmd: typing.Any = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    return cmd


def declared(group: type[object]) -> dict[str, tuple[str, str | None]]:
    """Each field's flag and env var, read from the group's own declaration."""
    hints = typing.get_type_hints(group, include_extras=True)
    out = {}
    for f in dataclasses.fields(group):  # type: ignore[arg-type]
        [info] = [m for m in typing.get_args(hints[f.name])[1:] if hasattr(m, "envvar")]
        # In Annotated, typer keeps the flag where a default would go.
        flags = [d for d in (info.default, *info.param_decls) if str(d).startswith("--")]
        out[f.name] = (flags[0], info.envvar)
    return out


@pytest.mark.parametrize(
    ("group", "expected"), [(Tuning, TUNING), (StampedAccess, STAMPED), (StampsAccess, STAMPS)]
)
def test_each_setting_is_declared_once_with_its_flag_and_env_var(
    group: type[object], expected: dict[str, tuple[str, str | None]]
) -> None:
    assert declared(group) == expected


@pytest.mark.parametrize(
    ("path", "access"), COMMANDS, ids=lambda p: " ".join(p) if isinstance(p, tuple) else ""
)
def test_every_api_command_takes_the_shared_options(
    path: tuple[str, ...], access: dict[str, tuple[str, str | None]]
) -> None:
    params = {p.name: p for p in command(path).params}
    for name, (flag, env) in {**TUNING, **access}.items():
        assert flag in params[name].opts, name
        assert params[name].envvar == env, name
    for f in dataclasses.fields(Tuning):
        assert params[f.name].default == f.default


def test_no_command_declares_a_setting_of_its_own() -> None:
    source = "".join(
        (Path(_common.__file__).parent / name).read_text() for name in ("_stamped.py", "_stamps.py")
    )
    for flag, _ in TUNING.values():
        assert f'"{flag}"' not in source
    assert source.count('"--api-url"') == 2  # one per API


def test_flags_and_env_vars_reach_the_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The command builds its client from the flags and env vars: the client itself
    (not only the parsed options) has the throttle and concurrency they say."""
    built: list[StampedClient] = []
    real = Tuning.stamped

    class Stop(Exception):
        pass

    def stamped(self: Tuning, *args: str) -> typing.NoReturn:
        built.append(real(self, *args))  # the real client, then stop before any request
        raise Stop

    monkeypatch.setattr(Tuning, "stamped", stamped)
    result = runner.invoke(
        app,
        [
            "stamped",
            "export-customers",
            "--out",
            str(tmp_path / "c.jsonl"),
            "--public-key",
            "pk",
            "--store-hash",
            "1",
            "--connections",
            "3",
            "--batch",
            "4",
        ],
        env={
            "STAMPSYNC_THROTTLE_LIMIT": "7",
            "STAMPSYNC_THROTTLE_SECONDS": "2.5",
            "STAMPED_PRIVATE_KEY": "secret",
            "STAMPSYNC_THROTTLE_KEY": "k",
        },
    )
    assert isinstance(result.exception, Stop), result.output
    [client] = built
    assert (client.throttle.limit, client.throttle.seconds) == (7, 2.5)
    assert client.options.concurrent_connections == 3
    assert client.options.concurrent_batch_executions == 4
    assert client.store_hash == "1"


def test_a_command_without_a_shared_quota_keeps_no_reserve_for_absent_people() -> None:
    """A batch command's own throttle serves no interactive caller: its whole limit is the
    batch's. With a shared (Redis) quota the reserve stays, for other processes' bots."""
    from stampsync._local_throttle import LocalThrottle
    from stampsync.cli._common import Tuning

    own = Tuning(throttle_limit=80, throttle_seconds=2.0).stamps("https://stamps.co.id", "tok")
    assert isinstance(own.throttle, LocalThrottle)
    assert own.throttle.reserve_fraction == 0.0
    shared = Tuning(redis_url="redis://127.0.0.1:1/0").settings("stamps:stamps.co.id")
    assert "throttle_reserve" not in shared
    throttle = shared.get("throttle")
    assert throttle is not None
    assert throttle.reserve_fraction > 0  # type: ignore[attr-defined]
