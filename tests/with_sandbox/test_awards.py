"""Mass awards against the sandbox: at most once, journaled, honest about ambiguity."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from stampsync import StampsClient
from stampsync._auth import JwtAuth
from stampsync.batch import Journal, Outcome
from stampsync.sandbox import Fault, Sandbox
from stampsync.stamps import StampAward, StampDeduction
from stampsync.testing import no_backoff
from stampsync.throttle import LocalThrottle

ROUTE = "POST /api/stamps/add"


FAST = {"throttle_limit": 100_000, "throttle_seconds": 1}


def awards(n: int, *, start: int = 0) -> list[StampAward]:
    return [
        StampAward(
            key=f"order-{i}",
            user=f"member{1 + i % 50}@example.com",
            number_of_stamps=1 + i % 3,
            notes=f"order-{i}",
        )
        for i in range(start, start + n)
    ]


async def server_keys(sb: Sandbox) -> collections.Counter[str]:
    return collections.Counter(a["notes"] or "" for a in await sb.awards())


@pytest.mark.stampsync_sandbox(
    members=100,
    fault_seed=3,
    faults=[
        Fault("503", route=ROUTE, probability=0.15),
        Fault("drop_after", route=ROUTE, probability=0.1),
        Fault("drop_before", route=ROUTE, probability=0.05),
    ],
)
async def test_faults_never_duplicate_and_every_outcome_matches_the_server(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    journal = tmp_path / "awards.sqlite"
    async with sb.stamps_client(concurrent_batch_executions=8, max_retries=2, **FAST) as sp:
        with no_backoff():
            report = await sp.stamps.add_many(awards(300), journal=journal)
    outcomes = {o.key: o for o in report}
    assert len(outcomes) == 300
    on_server = await server_keys(sb)
    assert max(on_server.values()) == 1  # zero duplicates
    by_status = collections.defaultdict(set)
    for o in report:
        by_status[o.status].add(o.key)
    assert by_status["applied"] <= set(on_server)  # every applied one is there
    assert not by_status["failed"] & set(on_server)  # no failed one is there
    # Ambiguous are exactly the dropped connections: after applying (on the server) or
    # before (absent); the client cannot tell which, so it never retries either.
    counters = await sb.counters()
    ambiguous_applied = by_status["ambiguous"] & set(on_server)
    assert len(ambiguous_applied) == counters["fault:drop_after"] > 0
    assert len(by_status["ambiguous"] - ambiguous_applied) == counters["fault:drop_before"] > 0
    ids = {a["notes"]: a["id"] for a in await sb.awards()}
    assert all(outcomes[k].award_id == ids[k] for k in by_status["applied"])

    # A rerun with the same journal sends nothing for applied or ambiguous keys.
    await sb.set_faults()
    before = (await sb.counters())["arrivals"]
    async with sb.stamps_client(concurrent_batch_executions=8, **FAST) as sp:
        again = await sp.stamps.add_many(awards(300), journal=journal)
    sent = (await sb.counters())["arrivals"] - before
    # The failed keys, after one preflight ping (the credentials checked before writing);
    # with no failed key (three 503s in a row for one key are rare) nothing, not even it.
    assert again.sent == len(by_status["failed"])
    assert sent == again.sent + (1 if again.sent else 0)
    assert {o.key for o in again if o.skipped} == by_status["applied"] | by_status["ambiguous"]
    assert max((await server_keys(sb)).values()) == 1
    assert again.counts["ambiguous"] == len(by_status["ambiguous"])
    assert again.counts["applied"] == 300 - len(by_status["ambiguous"])
    assert set(await server_keys(sb)) == by_status["applied"] | by_status["failed"] | (
        ambiguous_applied
    )


async def test_resolving_ambiguous_keys(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    sb = stampsync_sandbox
    await sb.set_faults(f"drop_after:1@{ROUTE}")
    journal = tmp_path / "j.sqlite"
    async with sb.stamps_client() as sp:
        report = await sp.stamps.add_many(awards(2), journal=journal)
    assert [o.status for o in report] == ["ambiguous", "ambiguous"]
    await sb.set_faults()
    with Journal(journal) as j:
        assert [e.key for e in j.entries("ambiguous")] == ["order-0", "order-1"]
        on_server = {a["notes"]: a["id"] for a in await sb.awards()}
        j.resolve("order-0", applied=True, result_id=on_server["order-0"])
        # Pretend the operator cancelled order-1's award and wants it sent again.
        j.resolve("order-1", applied=False)
    async with sb.stamps_client() as sp:
        await sp.stamps.cancel(user="member2@example.com", award_id=on_server["order-1"])
        again = await sp.stamps.add_many(awards(2), journal=journal)
    assert {o.key: (o.status, o.skipped) for o in again} == {
        "order-0": ("applied", True),
        "order-1": ("applied", False),
    }
    with Journal(journal) as j:
        assert j.counts()["applied"] == 2


async def test_bad_rows_fail_alone_and_the_batch_goes_on(stampsync_sandbox: Sandbox) -> None:
    rows = [
        StampAward(key="ok-1", user="member1@example.com", number_of_stamps=2),
        StampAward(key="zero", user="member1@example.com", number_of_stamps=0),
        StampAward(key="", user="member1@example.com", number_of_stamps=1),
        StampAward(key="ok-1", user="member2@example.com", number_of_stamps=1),
        StampAward(key="text", user="member1@example.com", number_of_stamps="x"),  # type: ignore[arg-type]
        StampAward(
            key="date", user="member1@example.com", number_of_stamps=1, expiration_date="31/12/2030"
        ),
        StampAward(key="nobody", user="nobody@example.com", number_of_stamps=1),
        StampAward(key="ok-2", user="member3@example.com", number_of_stamps=1),
    ]
    async with stampsync_sandbox.stamps_client(concurrent_batch_executions=1) as sp:
        report = await sp.stamps.add_many(rows)
    got = [(o.key, o.status, o.error) for o in report]
    assert [(k, s) for k, s, _ in got] == [
        ("ok-1", "applied"),
        ("zero", "failed"),
        ("", "failed"),
        ("ok-1", "failed"),
        ("text", "failed"),
        ("date", "failed"),
        ("nobody", "failed"),
        ("ok-2", "applied"),
    ]
    errors = {k or "<blank>": e for k, _, e in got}
    assert "number_of_stamps" in (errors["zero"] or "")
    assert "key is missing" in (errors["<blank>"] or "")
    assert "duplicate key" in (errors["ok-1"] or "")
    assert "number_of_stamps" in (errors["text"] or "")
    assert "expiration_date" in (errors["date"] or "")
    assert "User not found" in (errors["nobody"] or "")
    assert report.exit_code == 1
    assert len(await stampsync_sandbox.awards()) == 2


async def test_a_key_reused_for_a_different_award_is_refused(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    async with stampsync_sandbox.stamps_client() as sp:
        await sp.stamps.add_many(awards(1), journal=journal)
        changed = [StampAward(key="order-0", user="member9@example.com", number_of_stamps=5)]
        report = await sp.stamps.add_many(changed, journal=journal)
    [outcome] = list(report)
    assert outcome.status == "failed"
    assert "different" in (outcome.error or "")
    assert len(await stampsync_sandbox.awards()) == 1


async def test_streaming_input_and_outcome_callback(stampsync_sandbox: Sandbox) -> None:
    taken = 0

    async def stream() -> AsyncIterator[StampAward]:
        nonlocal taken
        for a in awards(40):
            taken += 1
            yield a

    seen: list[Outcome] = []
    async with stampsync_sandbox.stamps_client(concurrent_batch_executions=4, **FAST) as sp:
        report = await sp.stamps.add_many(
            stream(),
            on_outcome=seen.append,
            keep_outcomes=False,
        )
    assert taken == 40
    assert len(seen) == 40
    assert report.outcomes == []
    assert report.counts["applied"] == 40


async def test_stop_event_finishes_in_flight_and_takes_nothing_new(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    await stampsync_sandbox.set_faults(f"latency:1:0.05@{ROUTE}")
    stop = anyio.Event()
    done: list[Outcome] = []

    def record(o: Outcome) -> None:
        done.append(o)
        if len(done) == 10:
            stop.set()

    journal = tmp_path / "j.sqlite"
    async with stampsync_sandbox.stamps_client(concurrent_batch_executions=4, **FAST) as sp:
        report = await sp.stamps.add_many(
            awards(100), journal=journal, on_outcome=record, stop=stop
        )
    assert report.interrupted
    assert report.exit_code == 130  # "not every row tried": never 0
    assert 10 <= len(done) <= 14  # what was in hand when stop was set, and nothing more
    assert all(o.status == "applied" for o in done)
    with Journal(journal) as j:
        assert j.counts()["pending"] == 0  # consistent: every sent key has its outcome
        assert j.counts()["applied"] == len(done)
    assert len(await stampsync_sandbox.awards()) == len(done)


async def test_cancelling_a_batch_leaves_no_task_and_a_consistent_journal(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    # Answers 0.5 s late: once five rows are done and 0.1 s more has passed, the next
    # four are claimed and in flight (a row is claimed only once its start is granted,
    # so the cancel must land while requests are out, not while rows wait for quota).
    await stampsync_sandbox.set_faults(f"latency:1:0.5@{ROUTE}")
    journal = tmp_path / "j.sqlite"
    async with stampsync_sandbox.stamps_client(
        concurrent_batch_executions=4, concurrent_connections=4, **FAST
    ) as sp:
        some_done = asyncio.Event()
        seen: list[object] = []

        def record(outcome: object) -> None:
            seen.append(outcome)
            if len(seen) >= 5:  # the batch is well under way
                some_done.set()

        task = asyncio.create_task(
            sp.stamps.add_many(awards(100), journal=journal, on_outcome=record)
        )
        await asyncio.wait_for(some_done.wait(), 30)
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    with Journal(journal) as j:
        counts = j.counts()
    on_server = len(await stampsync_sandbox.awards())
    # Keys cancelled mid-flight become ambiguous when the run ends, never lost.
    assert counts["pending"] == 0
    assert counts["ambiguous"] >= 1
    assert counts["applied"] <= on_server <= counts["applied"] + counts["ambiguous"]
    async with stampsync_sandbox.stamps_client(**FAST) as sp:
        await stampsync_sandbox.set_faults()
        rerun = await sp.stamps.add_many(awards(100), journal=journal)
    assert rerun.counts["ambiguous"] == counts["ambiguous"]
    keys = await server_keys(stampsync_sandbox)
    assert max(keys.values()) == 1


async def test_deduct_many(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    async with stampsync_sandbox.stamps_client() as sp:
        await sp.stamps.add(user=1, number_of_stamps=10)
        report = await sp.stamps.deduct_many(
            [
                StampDeduction(key="d1", user=1, stamps=3, notes="x"),
                StampDeduction(key="d2", user=1, stamps=10_000, notes="too many"),
            ],
            journal=tmp_path / "d.sqlite",
        )
    outcomes = {o.key: o for o in report}
    assert outcomes["d1"].status == "applied"
    assert outcomes["d1"].award_id == 1
    assert outcomes["d2"].status == "failed"
    assert len(await stampsync_sandbox.deductions()) == 1


@pytest.mark.stampsync_sandbox(members=100, faults=[Fault("truncated", route=ROUTE, times=1)])
async def test_an_unreadable_2xx_counts_as_applied_and_is_never_sent_again(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    async with stampsync_sandbox.stamps_client(**FAST) as sp:
        first = await sp.stamps.add_many(awards(3), journal=journal)
        again = await sp.stamps.add_many(awards(3), journal=journal)
    spoiled = [o for o in first if o.award_id is None]
    assert [o.status for o in first] == ["applied"] * 3
    assert len(spoiled) == 1  # the server applied it; only its id was lost
    assert spoiled[0].error is None
    assert all(o.skipped and o.status == "applied" for o in again)
    assert await server_keys(stampsync_sandbox) == collections.Counter(
        f"order-{i}" for i in range(3)
    )
    with Journal(journal) as j:
        entry = j.get(spoiled[0].key)
    assert entry is not None
    assert entry.status == "applied"
    assert "unreadable" in str(entry.error)


async def test_a_proxy_503_after_forwarding_is_ambiguous_never_a_second_award(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    await sb.set_faults(f"gateway_503:1:0:2@{ROUTE}")
    async with sb.stamps_client(**FAST) as sp:
        with no_backoff():
            report = await sp.stamps.add_many(awards(4), journal=tmp_path / "j.sqlite")
    status = {o.key: o.status for o in report}
    assert sorted(status.values()) == ["ambiguous", "ambiguous", "applied", "applied"]
    # The proxy's 503 came after the award was applied: retrying would have doubled it.
    assert (await server_keys(sb)) == {f"order-{i}": 1 for i in range(4)}
    assert (await sb.counters())["fault:gateway_503"] == 2


async def test_the_apis_own_503_is_retried_as_not_applied(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    await sb.set_faults(f"503:1:0:2@{ROUTE}")  # JSON {"detail": ...}, before applying
    async with sb.stamps_client(concurrent_batch_executions=1, **FAST) as sp:
        with no_backoff():
            report = await sp.stamps.add_many(awards(2))
    assert [o.status for o in report] == ["applied", "applied"]
    assert (await server_keys(sb)) == {"order-0": 1, "order-1": 1}


async def test_the_breaker_stops_a_run_whose_credentials_are_refused_mid_run(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    wrong = StampsClient(
        "tok-WRONG-SECRET-1",
        api_url=stampsync_sandbox.url,
        store=1,
        concurrent_batch_executions=2,
        throttle_limit=100_000,
        throttle_seconds=1,
    )
    async with wrong as sp:
        report = await sp.stamps.add_many(
            awards(200), journal=tmp_path / "j.sqlite", check_first=False, breaker=5
        )
    assert report.stopped is not None
    assert "credentials refused (401)" in report.stopped
    assert report.exit_code == 4
    assert 5 <= len(report.outcomes) <= 7  # the streak, plus what was already in hand
    assert (await stampsync_sandbox.counters())["unauthorized"] <= 7
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.counts()["ambiguous"] == 0


async def test_a_journaled_row_is_claimed_only_once_its_start_is_granted(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    """A row waiting for the quota is not in the journal yet: were the run to die there,
    the row would be sent by the next run, not left ambiguous for a person to check."""
    journal = tmp_path / "j.sqlite"
    first_applied = asyncio.Event()

    def on_outcome(outcome: Outcome) -> None:
        if outcome.status == "applied":
            first_applied.set()

    async with stampsync_sandbox.stamps_client(throttle_limit=1, throttle_seconds=1.5) as sp:
        run = asyncio.create_task(
            sp.stamps.add_many(awards(2), journal=journal, on_outcome=on_outcome, check_first=False)
        )
        await asyncio.wait_for(first_applied.wait(), 10)
        await asyncio.sleep(0.3)  # the second row waits for the window to let it start
        async with Journal(journal) as j:
            waiting = await j.aget("order-1")
            done = await j.aget("order-0")
        report = await asyncio.wait_for(run, 10)
    assert done is not None
    assert done.status == "applied"
    assert waiting is None, "a row was claimed while it waited for the quota"
    assert report.counts["applied"] == 2
    assert (await server_keys(stampsync_sandbox)) == {"order-0": 1, "order-1": 1}


async def test_a_journaled_row_is_claimed_only_with_a_connection_in_hand(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    """rows-claimed-before-their-connection: with 8 rows at once and 2 connections, the
    six rows waiting for a connection are not in the journal: a run that died then would
    leave at most 2 rows (those on the wire) for a person to check, not 8."""
    sb = stampsync_sandbox
    await sb.set_faults(f"latency:1:0.4@{ROUTE}")
    journal = tmp_path / "j.sqlite"
    async with sb.stamps_client(
        concurrent_connections=2, concurrent_batch_executions=8, **FAST
    ) as sp:
        run = asyncio.create_task(sp.stamps.add_many(awards(8), journal=journal, check_first=False))
        pending: list[int] = []
        for _ in range(6):  # samples across the first waves of answers
            await asyncio.sleep(0.15)
            async with Journal(journal) as j:
                pending.append(len(await j.aentries("pending")))
        report = await asyncio.wait_for(run, 20)
    assert report.counts["applied"] == 8
    assert 1 <= max(pending) <= 2, pending  # two in flight at a time, never more claimed
    assert (await server_keys(sb)) == {f"order-{i}": 1 for i in range(8)}


async def test_a_row_whose_start_would_outlast_the_budget_fails_unclaimed(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    async with stampsync_sandbox.stamps_client(
        throttle_limit=1, throttle_seconds=60, retry_budget=1
    ) as sp:
        report = await sp.stamps.add_many(awards(2), journal=journal, check_first=False)
    assert report.counts["applied"] == 1
    assert report.counts["failed"] == 1
    failed = next(o for o in report.outcomes if o.status == "failed")
    assert "quota needs" in (failed.error or "")
    async with Journal(journal) as j:
        assert await j.aget(failed.key) is None  # never claimed: the next run sends it
    assert sum((await server_keys(stampsync_sandbox)).values()) == 1


async def test_a_rerun_skips_its_settled_rows_without_waiting_for_quota(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    async with stampsync_sandbox.stamps_client(**FAST) as sp:
        first = await sp.stamps.add_many(awards(20), journal=journal, check_first=False)
    assert first.counts["applied"] == 20
    # One start a minute: had each settled row waited for a start before its claim
    # skipped it, this rerun would take twenty minutes.
    async with stampsync_sandbox.stamps_client(throttle_limit=1, throttle_seconds=60) as sp:
        again = await asyncio.wait_for(
            sp.stamps.add_many(awards(20), journal=journal, check_first=False), 10
        )
        waited = sp.stats.throttle_wait
    assert again.counts["applied"] == 20
    assert again.sent == 0
    assert waited == 0


async def test_rows_holding_starts_never_starve_retries_of_a_tight_quota(
    tmp_path: Path,
) -> None:
    """Ten rows at once, two connections, three starts a second, and 429s to retry: a row
    takes its connection slot before its start, as every attempt does, so rows holding
    starts never wait on retries that hold the slots and wait for a start."""
    faults = [Fault("429", route=ROUTE, probability=0.3)]
    async with Sandbox(members=50, faults=faults, fault_seed=3) as sb:
        async with sb.stamps_client(
            throttle_limit=3,
            throttle_seconds=0.5,
            concurrent_connections=2,
            concurrent_batch_executions=10,
            max_retries=8,
        ) as sp:
            with no_backoff():
                report = await asyncio.wait_for(
                    sp.stamps.add_many(
                        awards(24), journal=tmp_path / "j.sqlite", check_first=False
                    ),
                    60,
                )
        refused = (await sb.counters()).get("fault:429", 0)
        on_server = sorted(await server_keys(sb))
    assert refused > 0  # there were retries to starve
    assert (report.counts["applied"], report.counts["failed"], report.counts["ambiguous"]) == (
        24,
        0,
        0,
    )
    assert on_server == sorted(f"order-{i}" for i in range(24))


async def test_an_early_start_held_too_long_is_given_back_and_taken_again(
    stampsync_sandbox: Sandbox,
) -> None:
    """A Redis reservation counts as "now" for one window only: a start a slow journal
    held past half a window is not used, and its request takes a fresh one."""
    async with stampsync_sandbox.stamps_client(throttle_limit=5, throttle_seconds=0.4) as sp:
        throttle = sp.throttle
        assert isinstance(throttle, LocalThrottle)
        start = await sp.take_start("stamps.add")
        assert start is not None
        stale = start._ticket
        await asyncio.sleep(0.25)  # past half of the 0.4 s window
        body = sp.stamps.add_body(user="member1@example.com", number_of_stamps=1)
        try:
            await sp.stamps.send_add(body, start=start)
        finally:
            start.release()
        assert stale is not None
        assert not start.held  # the request took the slot, and gave it back
        assert stale._state == 2  # type: ignore[attr-defined]  # given back, not sent
        assert throttle._pending == 0
        assert len(throttle._starts) == 1  # the request's own, fresh start


async def test_a_token_renewal_is_never_starved_by_rows_holding_early_starts(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    """The renewal's own request needs a connection slot. Rows that took their slot and
    start early, then found the token due, used to wait for the renewal holding both
    slots: a renewal begun by a task without an early start (a retry, a direct call)
    then waited for a slot forever."""
    async with stampsync_sandbox.stamps_client(
        jwt=True, concurrent_connections=2, concurrent_batch_executions=4, **FAST
    ) as sp:
        auth = sp._transport._credentials[""].auth
        assert isinstance(auth, JwtAuth)
        await auth._lock.acquire()  # every caller waits for the first token
        try:
            direct = asyncio.ensure_future(
                sp.stamps.add(user="member1@example.com", number_of_stamps=1)
            )
            await asyncio.sleep(0.05)  # first in line for the renewal, no early start
            batch = asyncio.ensure_future(
                sp.stamps.add_many(awards(4), journal=tmp_path / "j.sqlite", check_first=False)
            )
            await asyncio.sleep(0.3)  # rows take slots and starts, claim, find the token due
        finally:
            auth._lock.release()
        done, report = await asyncio.wait_for(asyncio.gather(direct, batch), 20)
    assert done is not None
    assert report.counts["applied"] == 4
    assert auth.renewals == 1


async def test_a_gateways_json_503_after_forwarding_is_ambiguous_never_a_second_award(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    """JSON is not the API's word: ``{"message": "Service Unavailable"}`` proves nothing."""
    sb = stampsync_sandbox
    await sb.set_faults(f"gateway_503_json:1:0:2@{ROUTE}")
    async with sb.stamps_client(**FAST) as sp:
        with no_backoff():
            report = await sp.stamps.add_many(awards(4), journal=tmp_path / "j.sqlite")
    status = {o.key: o.status for o in report}
    assert sorted(status.values()) == ["ambiguous", "ambiguous", "applied", "applied"]
    assert (await server_keys(sb)) == {f"order-{i}": 1 for i in range(4)}
    assert (await sb.counters())["fault:gateway_503_json"] == 2
