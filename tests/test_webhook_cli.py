"""``stampsync webhooks list|retry|replay`` over a SQLite inbox: filters by time and
topic, failed events queued again, handled ones replayed by key; bad options refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stampsync.cli._app import app
from stampsync.cli._webhooks import since_time
from stampsync.stamped.webhooks import Inbox, WebhookEvent

pytestmark = pytest.mark.real_time  # the inbox's times are wall-clock times

SECRET = "cli-inbox-secret"
runner = CliRunner()


def push(n: int, topic: str) -> tuple[dict[str, str], bytes]:
    headers = {"X-Stamped-Webhook-Secret": SECRET, "X-Stamped-Topic": topic}
    return headers, json.dumps({"id": n}).encode()


async def filled(path: Path) -> None:
    """Reviews 1-3 done, points 4-5 failed (parked on their one try)."""

    async def handler(event: WebhookEvent) -> None:
        if event.topic.startswith("points"):
            raise RuntimeError("no points today")

    async with Inbox(path, secret=SECRET, max_attempts=1) as inbox:
        for n in (1, 2, 3):
            await inbox.accept(*push(n, "review.created"))
        for n in (4, 5):
            await inbox.accept(*push(n, "points.earned"))
        await inbox.handle(handler)


def listed(path: Path, *more: str) -> list[dict[str, object]]:
    done = runner.invoke(app, ["webhooks", "list", "--inbox", str(path), "--json", *more])
    assert done.exit_code == 0, done.output
    return [json.loads(line) for line in done.stdout.splitlines()]


def statuses(path: Path) -> dict[str, str]:
    return {str(e["key"]): str(e["status"]) for e in listed(path)}


def test_list_filters_by_status_topic_and_time(tmp_path: Path) -> None:
    path = tmp_path / "in.sqlite"
    asyncio.run(filled(path))
    assert len(listed(path)) == 5
    failed = listed(path, "--status", "failed")
    assert [e["key"] for e in failed] == ["points.earned:4", "points.earned:5"]
    assert all("no points today" in str(e["error"]) for e in failed)
    assert len(listed(path, "--topic", "review.*")) == 3
    assert len(listed(path, "--since", "1h")) == 5
    assert listed(path, "--since", "2999-01-01T00:00:00") == []
    text = runner.invoke(app, ["webhooks", "list", "--inbox", str(path)])
    assert "points.earned:4" in text.stdout
    assert "5 event(s)" in text.stderr


def test_retry_queues_the_failed_and_replay_the_chosen(tmp_path: Path) -> None:
    path = tmp_path / "in.sqlite"
    asyncio.run(filled(path))
    done = runner.invoke(app, ["webhooks", "retry", "--inbox", str(path)])
    assert done.exit_code == 0, done.output
    assert "queued 2 failed event(s) again" in done.stderr
    assert statuses(path)["points.earned:4"] == "new"
    assert statuses(path)["review.created:1"] == "done"  # retry leaves handled ones be
    again = runner.invoke(app, ["webhooks", "replay", "--inbox", str(path), "review.created:2"])
    assert again.exit_code == 0, again.output
    assert "queued 1 event(s) again" in again.stderr
    assert statuses(path)["review.created:2"] == "new"
    assert statuses(path)["review.created:1"] == "done"
    by_topic = runner.invoke(app, ["webhooks", "replay", "--inbox", str(path), "--topic", "rev*"])
    assert "queued 2 event(s) again" in by_topic.stderr  # 1 and 3; 2 is queued already


def test_bad_options_are_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "in.sqlite"
    asyncio.run(filled(path))
    cases = [
        (["list", "--status", "lost"], "--status must be"),
        (["list", "--since", "yesterday"], "--since must be"),
        (["replay"], "name event keys"),
        (["replay", "nope:1"], "no such event"),
    ]
    for argv, message in cases:
        done = runner.invoke(app, ["webhooks", argv[0], "--inbox", str(path), *argv[1:]])
        assert done.exit_code == 2, (argv, done.output)
        assert message in done.stderr, (argv, done.stderr)
    missing = tmp_path / "typo.sqlite"
    for command in ("list", "retry"):
        done = runner.invoke(app, ["webhooks", command, "--inbox", str(missing)])
        assert done.exit_code == 2
        assert "no inbox at" in done.stderr
    assert not missing.exists()  # never made by the tools that look after one
    serve = runner.invoke(
        app,
        ["webhooks", "serve", "--inbox", str(path), "--handler", "nowhere_at_all:f"],
        env={"STAMPED_WEBHOOK_SECRET": SECRET},
    )
    assert serve.exit_code == 2
    assert "cannot import 'nowhere_at_all'" in serve.stderr


def test_since_reads_ages_and_times() -> None:
    assert since_time("90s", now=1000.0) == 910.0
    assert since_time("2h", now=10_000.0) == 2800.0
    assert since_time("1d", now=100_000.0) == 13_600.0
    assert since_time("1970-01-01T00:01:00") == 60.0  # UTC when no zone is given
    assert since_time("1970-01-01T01:01:00+01:00") == 60.0
    assert since_time(None) is None
