"""The pytest plugin works in a separate project that only installed stampsync."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_fixture_is_available_through_the_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user_project="""
        import asyncio
        import pytest

        def test_sync_use(stampsync_sandbox):
            assert stampsync_sandbox.url.startswith("http://127.0.0.1:")

        @pytest.mark.stampsync_sandbox(members=20)
        def test_award_through_the_client(stampsync_sandbox):
            async def run():
                async with stampsync_sandbox.stamps_client() as stamps:
                    await stamps.stamps.add(user="member2@example.com", number_of_stamps=3)
                return await stampsync_sandbox.awards()

            awards = asyncio.run(run())
            assert [a["stamps"] for a in awards] == [3]
        """
    )
    # A subprocess, as a user's own pytest run: the plugin comes from the entry point.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2)
