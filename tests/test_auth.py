"""The auth strategies on their own: fixed headers, JWT renewal shared by callers."""

from __future__ import annotations

import asyncio

from stampsync._auth import BasicAuth, JwtAuth, Secret, TokenAuth


async def test_fixed_headers_are_what_header_returns_and_never_print() -> None:
    basic = BasicAuth("pub", Secret("key-123456", name="private_key"))
    token = TokenAuth(Secret("tok-123456", name="token"), "Bearer")
    for auth in (basic, token):
        fixed = auth.fixed_header()
        assert fixed == await auth.header()
        assert fixed not in repr(auth)
        assert not await auth.refresh(fixed)
    assert basic.fixed_header() == "Basic cHViOmtleS0xMjM0NTY="  # base64("pub:key-123456")
    assert token.fixed_header() == "Bearer tok-123456"
    assert "key-123456" in basic.secrets()


async def test_concurrent_401s_share_one_jwt_renewal() -> None:
    fetched: list[str] = []

    async def fetch(static: str) -> str:
        await asyncio.sleep(0.01)
        fetched.append(static)
        return f"jwt-{len(fetched)}"

    auth = JwtAuth(Secret("static-123456", name="token"), fetch)
    assert auth.fixed_header() is None
    first = await auth.header()
    assert first == "Bearer jwt-1"
    # Ten requests sent with jwt-1 all come back 401 at once: one renewal serves them all.
    retries = await asyncio.gather(*(auth.refresh(first) for _ in range(10)))
    assert all(retries)
    assert fetched == ["static-123456", "static-123456"]
    assert await auth.header() == "Bearer jwt-2"
    assert auth.renewals == 2
    assert set(auth.secrets()) == {"static-123456", "jwt-2"}
    assert "jwt-2" not in repr(auth)
