"""Every Python example in the README and the docs runs, against local servers only.

The examples are written as a user would write them (real-looking credentials, the real
base URLs). Here ``StampedClient``, ``StampsClient`` and ``RedisThrottle`` are swapped
for subclasses bound to a sandbox and a test redis-server, so a renamed method or a
changed signature breaks this test, and no traffic leaves the machine.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import inspect
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import stampsync
import stampsync.throttle
from stampsync import StampedClient, StampsClient
from stampsync.sandbox import Sandbox
from stampsync.throttle import RedisThrottle

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def examples() -> Iterator[Any]:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text()
        for match in FENCE.finditer(text):
            code = match.group(1)
            line = text[: match.start()].count("\n") + 2
            rel = path.relative_to(ROOT)
            yield pytest.param(code, f"{rel}:{line}", id=f"{rel}:{line}")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    # As a reader's sandbox starts: the examples use only the members and customers it has.
    with Sandbox(customers=300, members=200) as sb:
        yield sb


def bind(monkeypatch: pytest.MonkeyPatch, sb: Sandbox, redis_url: str | None) -> None:
    c = sb.config

    class BoundStamped(StampedClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            for name in ("public_key", "private_key", "store_hash", "api_url", "api_key"):
                kwargs.pop(name, None)
            super().__init__(
                c.public_key,
                c.private_key,
                c.store_hash,
                api_url=sb.url,
                api_key=c.api_key,
                **kwargs,
            )

    class BoundStamps(StampsClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("token", None)
            kwargs.pop("api_url", None)
            super().__init__(c.stamps_token, api_url=sb.url, **kwargs)

    class BoundRedis(RedisThrottle):
        def __init__(self, redis_url_: str, **kwargs: Any) -> None:
            super().__init__(redis_url or "redis://127.0.0.1:1/0", **kwargs)

    monkeypatch.setattr(stampsync, "StampedClient", BoundStamped)
    monkeypatch.setattr(stampsync, "StampsClient", BoundStamps)
    monkeypatch.setattr(stampsync.throttle, "RedisThrottle", BoundRedis)


def run_tests_in(namespace: dict[str, Any]) -> int:
    """Run the pytest tests an example defines, as pytest would: each with a fresh
    ``stampsync_sandbox`` made from its marker, ``async def`` ones in an event loop."""
    ran = 0
    for name, fn in list(namespace.items()):
        if not (name.startswith("test_") and inspect.isfunction(fn)):
            continue
        settings: dict[str, Any] = {"customers": 1_000, "members": 1_000}
        for mark in getattr(fn, "pytestmark", []):
            if mark.name == "stampsync_sandbox":
                settings.update(mark.kwargs)
        with Sandbox(**settings) as sb:
            kwargs = (
                {"stampsync_sandbox": sb}
                if "stampsync_sandbox" in inspect.signature(fn).parameters
                else {}
            )
            result = fn(**kwargs)
            if inspect.iscoroutine(result):
                asyncio.run(result)
        ran += 1
    return ran


async def exercise_receiver(make_app: Any, secret: str, handled: list[str]) -> None:
    """Deliver one review event twice, then once with a wrong secret, to the receiver."""
    async with TestClient(TestServer(make_app())) as client:
        headers = {"X-Stamped-Webhook-Secret": secret, "X-Stamped-Topic": "review.created"}
        body = json.dumps({"id": 7, "reviewRating": 5, "customerEmail": "a@x.co"})
        for _ in range(2):  # a redelivery is acknowledged but handled once
            r = await client.post("/stamped/webhooks", data=body, headers=headers)
            assert r.status == 204
        bad = await client.post(
            "/stamped/webhooks", data=body, headers={**headers, "X-Stamped-Webhook-Secret": "wrong"}
        )
        assert bad.status == 401
    assert handled == ["review 5.0 by a@x.co"]


def check_credentials_provider(namespace: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    row = {"token": "tok-store-1", "merchant": 14, "store": 2}
    monkeypatch.setenv("STORE_STORE_1", json.dumps(row))
    assert asyncio.run(namespace["credentials"]("store-1")) == row


def check_receiver(namespace: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(exercise_receiver(namespace["make_app"], namespace["SECRET"], namespace["handled"]))


#: Examples that only define something (a module a reader saves as a file): by page, how
#: what they define is run here. Any other example must send a request or run a test.
DEFINITIONS = {
    "docs/fleet.md": check_credentials_provider,
    "docs/webhooks.md": check_receiver,
}


def requests_sent(caplog: pytest.LogCaptureFixture) -> int:
    """Requests any stampsync client sent so far in this test (one DEBUG line each)."""
    return sum(1 for r in caplog.records if r.name == "stampsync" and " -> " in r.getMessage())


@pytest.mark.parametrize(("code", "where"), list(examples()))
def test_example_runs(
    code: str,
    where: str,
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each example does what it shows: it sends requests to the sandbox, runs the tests
    it defines, or (listed in DEFINITIONS) what it defines is run and checked. One that
    only defines a coroutine nobody awaits fails."""
    monkeypatch.chdir(tmp_path)  # examples may write journals
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    caplog.set_level(logging.DEBUG, logger="stampsync")
    if "RedisThrottle(" in code:
        from tests._redis import redis_server

        with redis_server() as (url, _):
            bind(monkeypatch, sandbox, url)
            exec(compile(code, where, "exec"), namespace)  # noqa: S102
    else:
        bind(monkeypatch, sandbox, None)
        exec(compile(code, where, "exec"), namespace)  # noqa: S102
    ran = run_tests_in(namespace)
    assert ran or "def test_" not in code
    if not ran and requests_sent(caplog) == 0:
        check = DEFINITIONS.get(where.split(":")[0])
        assert check is not None, f"{where}: the example ran nothing (no request, no test)"
        check(namespace, monkeypatch)


@pytest.mark.parametrize(("code", "where"), list(examples()))
def test_no_example_calls_a_test_itself(code: str, where: str) -> None:
    for node in ast.parse(code).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            assert not (isinstance(func, ast.Name) and func.id.startswith("test_")), where


def test_every_example_passes_mypy_strict(tmp_path: Path) -> None:
    files = []
    for i, param in enumerate(examples()):
        code, where = param.values
        path = tmp_path / f"example_{i}.py"
        path.write_text(f"# {where}\n{code}")
        files.append(path)
    webhook = ROOT / "docs" / "examples" / "webhook_receiver.py"
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         "--cache-dir", str(ROOT / ".mypy_cache"), *map(str, files), str(webhook)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    report = done.stdout + done.stderr
    for path in files:  # name the page and line, not the scratch file
        report = report.replace(path.name, path.read_text().splitlines()[0][2:])
    assert done.returncode == 0, report


def test_the_webhook_page_shows_the_receiver_file_as_it_is() -> None:
    page = (ROOT / "docs" / "webhooks.md").read_text()
    receiver = (ROOT / "docs" / "examples" / "webhook_receiver.py").read_text()
    assert f"```python\n{receiver}```" in page
    assert "--8<--" not in page  # a snippet directive reads as itself on the repository host


def test_there_are_examples_in_every_guide() -> None:
    places = {str(p.values[1]).split(":")[0] for p in examples()}
    for page in (
        "README.md",
        "docs/quickstart.md",
        "docs/guides/batch-scripts.md",
        "docs/guides/bots.md",
        "docs/guides/async-services.md",
        "docs/throttling.md",
        "docs/testing.md",
        "docs/errors.md",
    ):
        assert page in places, page


async def test_webhook_receiver_example() -> None:
    spec = importlib.util.spec_from_file_location(
        "webhook_receiver", ROOT / "docs" / "examples" / "webhook_receiver.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    await exercise_receiver(module.make_app, module.SECRET, module.handled)
