"""``stampsync stamps award|journal`` with ``--journal postgresql://...``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stampsync.cli._app import app
from stampsync.sandbox import Fault, Sandbox
from tests._cli import (
    FAST,
    ROUTE,
    arrivals,
    env_for,
    good_rows,
    run_cli,
    runner,
    server_awards,
    write_awards,
)
from tests._postgres import PASSWORD

pytestmark = pytest.mark.postgres


@pytest.mark.stampsync_sandbox(members=50, faults=[Fault("drop_after", route=ROUTE, times=2)])
def test_award_list_and_resolve_on_a_postgresql_journal(
    stampsync_sandbox: Sandbox, tmp_path: Path, pg_dsn: str
) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(10))
    args = [
        "stamps",
        "award",
        "--input",
        str(src),
        "--journal",
        pg_dsn,
        "--report",
        str(tmp_path / "r.jsonl"),
        "--account",
        "store-7",
        *FAST,
    ]
    code, out, err = run_cli(args, stampsync_sandbox)
    assert code == 3, err
    assert PASSWORD not in out + err
    assert "journal resolve --journal postgresql://stampsync:***@" in err
    code, out, err = run_cli(
        ["stamps", "journal", "list", "--journal", pg_dsn, "--status", "ambiguous"],
        stampsync_sandbox,
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2
    assert {line["account"] for line in lines} == {"store-7"}
    for line in lines:
        code, _, err = run_cli(
            ["stamps", "journal", "resolve", line["key"], "--journal", pg_dsn, "--applied"],
            stampsync_sandbox,
        )
        assert code == 0, err
    assert run_cli(args, stampsync_sandbox)[0] == 0
    assert max(server_awards(stampsync_sandbox).values()) == 1
    code, _, err = run_cli(
        ["stamps", "journal", "resolve", lines[0]["key"], "--journal", pg_dsn, "--applied"],
        stampsync_sandbox,
    )
    assert code == 2
    assert "not ambiguous" in err


def test_an_unreachable_journal_database_refuses_the_run(tmp_path: Path) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(2))
    dsn = f"postgresql://u:{PASSWORD}@127.0.0.1:1/db"
    result = runner.invoke(
        app,
        [
            "stamps",
            "award",
            "--input",
            str(src),
            "--journal",
            dsn,
            "--report",
            str(tmp_path / "r.jsonl"),
            "--token",
            "tok-123456",
            "--api-url",
            "http://127.0.0.1:1",
            "--account",
            "store-1",
        ],
    )
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert code == 2, err
    assert "cannot connect" in err
    assert PASSWORD not in out + err


def award(
    sb: Sandbox, src: Path, journal: str, tmp_path: Path, *more: str, **env: str | None
) -> tuple[int, str, str]:
    """One ``stamps award`` run on ``sb``, the environment changed by ``env``."""
    args = ["stamps", "award", "--input", str(src), "--journal", journal]
    args += ["--report", str(tmp_path / "r.jsonl"), *more, *FAST]
    result = runner.invoke(app, args, env={**env_for(sb), **env})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.stampsync_sandbox(members=20, extra_tokens=1)
def test_token_rotation_url_spelling_and_merchant_apply_each_key_once(
    stampsync_sandbox: Sandbox, tmp_path: Path, pg_dsn: str
) -> None:
    """Issue 26 item 2: one account (named once, in STAMPSYNC_ACCOUNT) across a rotated
    token, the API URL spelled ``localhost``, and a merchant set: 5 keys, 5 awards."""
    sb = stampsync_sandbox
    src = write_awards(tmp_path / "a.csv", good_rows(5))
    localhost = sb.url.replace("127.0.0.1", "localhost")
    assert localhost != sb.url
    runs: list[dict[str, str | None]] = [
        {},
        {"STAMPS_TOKEN": sb.stamps_token(1)},  # the rotated token
        {"STAMPS_API_URL": localhost},
        {"STAMPS_MERCHANT": str(sb.config.merchant)},
    ]
    for number, env in enumerate(runs):
        code, _, err = award(sb, src, pg_dsn, tmp_path, STAMPSYNC_ACCOUNT="store-7", **env)
        assert code == 0, (env, err)
        if number:
            assert "of which 5 already in the journal" in err, (env, err)
            assert "sent 0 requests" in err, (env, err)
    awarded = server_awards(sb)
    assert sorted(awarded) == [f"k{i}" for i in range(5)]
    assert max(awarded.values()) == 1
    code, out, _ = run_cli(["stamps", "journal", "list", "--journal", pg_dsn], sb)
    assert code == 0
    assert {json.loads(line)["account"] for line in out.splitlines()} == {"store-7"}


@pytest.mark.stampsync_sandbox(members=20)
def test_a_database_journal_without_an_account_is_refused_before_sending(
    stampsync_sandbox: Sandbox, tmp_path: Path, pg_dsn: str
) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(3))
    code, out, err = award(stampsync_sandbox, src, pg_dsn, tmp_path, STAMPS_MERCHANT=None)
    assert code == 2, err
    assert "needs an account" in err
    assert "--account" in err
    assert "STAMPSYNC_ACCOUNT" in err
    assert PASSWORD not in out + err
    assert arrivals(stampsync_sandbox) == 0  # nothing sent, not even the preflight
    # A SQLite file is its own scope: no account needed.
    code, _, err = award(stampsync_sandbox, src, str(tmp_path / "j.sqlite"), tmp_path)
    assert code == 0, err


@pytest.mark.stampsync_sandbox(members=20)
def test_keys_of_another_account_of_the_same_merchant_are_refused(
    stampsync_sandbox: Sandbox, tmp_path: Path, pg_dsn: str
) -> None:
    sb = stampsync_sandbox
    src = write_awards(tmp_path / "a.csv", good_rows(4))
    merchant = ["--merchant", str(sb.config.merchant)]
    assert award(sb, src, pg_dsn, tmp_path, "--account", "store-7", *merchant)[0] == 0
    before = arrivals(sb)
    # The merchant alone (its default account), then another named account: refused.
    for other in ([], ["--account", "store-8"]):
        code, _, err = award(sb, src, pg_dsn, tmp_path, *other, *merchant)
        assert code == 2, err
        mine = other[1] if other else f"stamps:merchant:{sb.config.merchant}"
        flat = " ".join(err.split())
        assert "'store-7'" in flat, flat
        assert f"'{mine}'" in flat, flat
        assert "journal rescope" in flat
    assert arrivals(sb) == before
    assert max(server_awards(sb).values()) == 1
    # The same account again (any token, the merchant given or not) skips them all.
    code, _, err = award(sb, src, pg_dsn, tmp_path, "--account", "store-7")
    assert code == 0, err
    assert "sent 0 requests" in err


@pytest.mark.stampsync_sandbox(members=20)
def test_rescope_moves_a_legacy_token_scope_to_the_named_account(
    stampsync_sandbox: Sandbox, tmp_path: Path, pg_dsn: str
) -> None:
    """Keys an older stampsync filed under a token digest: a run refuses them (never
    awards them again), ``journal list`` shows the scope, ``rescope`` moves them."""
    sb = stampsync_sandbox
    legacy = "stamps:token:0123456789abcdef"
    src = write_awards(tmp_path / "a.csv", good_rows(3))
    # What an older stampsync left: the same awards, filed under its token digest.
    assert award(sb, src, pg_dsn, tmp_path, "--account", legacy)[0] == 0
    before = arrivals(sb)
    code, _out, err = run_cli(["stamps", "journal", "list", "--journal", pg_dsn], sb)
    assert code == 0, err
    assert f"account {legacy}: pending 0, applied 3" in err
    code, _, err = award(sb, src, pg_dsn, tmp_path, "--account", "store-7")
    assert code == 2, err
    assert legacy in err
    assert "store-7" in err
    assert arrivals(sb) == before

    rescope = ["stamps", "journal", "rescope", "--journal", pg_dsn]
    code, _, err = run_cli([*rescope, "--from", legacy, "--to", "store-7"], sb)
    assert code == 0, err
    assert "moved 3 entries" in err
    code, _, err = award(sb, src, pg_dsn, tmp_path, "--account", "store-7")
    assert code == 0, err
    assert "of which 3 already in the journal" in err
    assert arrivals(sb) == before  # the old run's awards are not made again
    assert max(server_awards(sb).values()) == 1
    # Nothing left to move; a SQLite file has no scopes.
    code, _, err = run_cli([*rescope, "--from", legacy, "--to", "store-7"], sb)
    assert code == 2
    assert "no journal entries" in err
    code, _, err = run_cli(
        [
            "stamps",
            "journal",
            "rescope",
            "--journal",
            str(tmp_path / "j.sqlite"),
            "--from",
            "a",
            "--to",
            "b",
        ],
        sb,
    )
    assert code == 2
    assert "its own scope" in err
