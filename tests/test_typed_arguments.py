"""A typo in a keyword argument is caught by the type checker, not at run time."""

from __future__ import annotations

from pathlib import Path

from mypy import api

SNIPPET = """
import asyncio

from stampsync import StampedClient, StampsClient
from stampsync.stamps import StampAward

async def stop_on_an_asyncio_event(stamps: StampsClient, stop: asyncio.Event) -> None:
    await stamps.stamps.add_many([StampAward(key="k", user=1, number_of_stamps=1)], stop=stop)

async def main(client: StampedClient) -> None:
    await client.customers.upsert(email="a@b.co", frist_name="Ann")
    await client.customers.update(1, last_name="Lee", pointz=5)
    await client.customers.create(email="a@b.co", teir="gold")
    await client.customers.upsert(email="a@b.co", first_name="Ann", points=5.0)
"""


def test_mypy_names_each_misspelt_field(tmp_path: Path) -> None:
    source = tmp_path / "snippet.py"
    source.write_text(SNIPPET)
    out, _, status = api.run(["--strict", "--no-incremental", str(source)])
    assert status == 1
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 3, out
    for typo in ("frist_name", "pointz", "teir"):
        assert any(typo in line for line in errors), (typo, out)
