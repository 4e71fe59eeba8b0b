"""``stampsync doctor`` against the sandbox: what is right, and what is wrong in plain words."""

from __future__ import annotations

import anyio
import pytest

from stampsync.cli._app import app
from stampsync.sandbox import Sandbox
from tests._cli import run_cli, runner


def test_a_good_configuration(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    code, out, err = run_cli(["doctor", "--merchant", str(sb.config.merchant), "--store", "2"], sb)
    assert code == 0, out + err
    assert (
        "ok       credentials  the token is accepted; it belongs to Sandbox Merchant (id 14)" in out
    )
    assert "store 2 is known" in out
    assert "static token" in out
    assert "round trip" in out
    assert "no problems found" in err
    assert anyio.run(sb.counters)["arrivals"] == 4  # three pings and one read


def test_a_jwt_is_exchanged_and_verified(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    code, out, err = run_cli(["doctor", "--jwt", "--merchant", str(sb.config.merchant)], sb)
    assert code == 0, out + err
    assert "the JWT is valid for 24.0 more hours" in out


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--token", "wrong-token"], {}, "the server refused the token"),
        (["--merchant", "99"], {}, "--merchant is 99 but the token belongs to merchant 14"),
        (["--merchant", "14", "--store", "77"], {}, "store 77 was refused"),
        (
            ["--throttle-limit", "1000000", "--throttle-seconds", "1", "--connections", "1"],
            {},
            "the connections, not the quota, are the limit",
        ),
        ([], {"STAMPS_API_URL": "http://127.0.0.1:1"}, "the server could not be reached"),
    ],
)
def test_problems_are_named(
    stampsync_sandbox: Sandbox, args: list[str], env: dict[str, str], expected: str
) -> None:
    from tests._cli import env_for

    result = runner.invoke(app, ["doctor", *args], env={**env_for(stampsync_sandbox), **env})
    text = result.stdout + result.stderr
    assert expected in text
    if "connections" in expected:
        assert result.exit_code == 0  # a note, not a problem
    else:
        assert result.exit_code == 1, text
    assert "stamps-sandbox-token" not in text
    assert "wrong-token" not in text


@pytest.mark.stampsync_sandbox(limit=2, seconds=60)
def test_a_quota_in_use_elsewhere(stampsync_sandbox: Sandbox) -> None:
    code, out, err = run_cli(["doctor", "--throttle-limit", "100"], stampsync_sandbox)
    assert code == 1, out + err
    assert "answered 429" in out
