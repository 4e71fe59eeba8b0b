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
    # Three pings and the store read (Stamps), one read each for Stamped V2 and V3.
    assert anyio.run(sb.counters)["arrivals"] == 6


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


def doctor(sb: Sandbox, args: list[str], env: dict[str, str | None]) -> tuple[int, str]:
    from tests._cli import env_for

    result = runner.invoke(app, ["doctor", *args], env={**env_for(sb), **env})
    text = result.stdout + result.stderr
    for secret in (sb.config.stamps_token, sb.config.private_key, sb.config.api_key):
        assert secret not in text
    return result.exit_code, text


STAMPS_UNSET: dict[str, str | None] = {"STAMPS_TOKEN": None}
STAMPED_UNSET: dict[str, str | None] = {
    "STAMPED_PUBLIC_KEY": None,
    "STAMPED_PRIVATE_KEY": None,
    "STAMPED_API_KEY": None,
}


def test_a_stamped_only_user_is_checked_without_a_stamps_token(
    stampsync_sandbox: Sandbox,
) -> None:
    sb = stampsync_sandbox
    code, text = doctor(sb, [], STAMPS_UNSET)
    assert code == 0, text
    assert "Stamps API token" not in text
    assert "ok       stamped v2   the public and private keys are accepted for store 270392" in text
    assert "ok       stamped v3   the API key is accepted for store 270392" in text
    assert f"info     stamped v3   url {sb.url}, store hash 270392, keys from STAMPED_API_KEY" in (
        text
    )
    paths = [r["path"] for r in anyio.run(sb.requests)]
    assert not any(p == "/api/ping" for p in paths)
    assert any(p.startswith("/api/v3/") for p in paths)
    assert any(p.startswith("/api/v2/") for p in paths)


def test_a_refused_stamped_key_is_named(stampsync_sandbox: Sandbox) -> None:
    code, text = doctor(stampsync_sandbox, [], {**STAMPS_UNSET, "STAMPED_API_KEY": "wrong"})
    assert code == 1, text
    assert "problem  stamped v3   the server refused the API key" in text
    assert "wrong" not in text


def test_the_effective_configuration_names_where_the_token_came_from(
    stampsync_sandbox: Sandbox,
) -> None:
    sb = stampsync_sandbox
    code, text = doctor(sb, ["--store", "2"], STAMPED_UNSET)
    assert code == 0, text
    assert f"info     stamps       url {sb.url}, token from STAMPS_TOKEN, store 2" in text
    assert "stamped" not in text


@pytest.mark.parametrize(
    ("url", "check", "hint"),
    [
        ("{url}/api", "connection", "so the path is doubled; give the site only: {url}"),
        ("{https}", "connection", "TLS failed"),
        ("http://127.0.0.1:1", "connection", "could not be reached"),
    ],
)
def test_a_connection_problem_gets_a_targeted_hint_not_credentials(
    stampsync_sandbox: Sandbox, url: str, check: str, hint: str
) -> None:
    sb = stampsync_sandbox
    values = {"url": sb.url, "https": sb.url.replace("http://", "https://")}
    code, text = doctor(sb, [], {**STAMPED_UNSET, "STAMPS_API_URL": url.format(**values)})
    assert code == 1, text
    line = next(line for line in text.splitlines() if line.startswith("problem"))
    assert line.split()[1] == check
    assert hint.format(**values) in " ".join(text.split())
    assert "credentials" not in text


def test_jwt_takes_the_merchant_from_stamps_merchant(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    env = {**STAMPED_UNSET, "STAMPS_MERCHANT": str(sb.config.merchant)}
    code, text = doctor(sb, ["--jwt"], env)
    assert code == 0, text
    assert "the JWT is valid" in text
