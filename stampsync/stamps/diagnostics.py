"""The test endpoints of testing.rst: answers that are always an error."""

from __future__ import annotations

from .._endpoint import stamps
from ._resource import StampsResource
from .models import Status

__all__ = ["Testing"]

TESTING_500 = stamps("GET", "/api/500", Status, idempotent=True)
TESTING_400 = stamps("GET", "/api/400", Status, idempotent=True)


class Testing(StampsResource):
    """``stamps.testing``: endpoints that always fail, to test error handling.

    Each raises: :meth:`error_500` a :class:`~stampsync.errors.ServerError` (after the
    retries an idempotent read gets), :meth:`error_400` a
    :class:`~stampsync.errors.ValidationError`. ``auth.ping`` is the third.
    """

    async def error_500(self) -> Status:
        """GET /api/500: always a 500 (an HTML page)."""
        return await self._call(TESTING_500)

    async def error_400(self) -> Status:
        """GET /api/400: always a 400 (an HTML page)."""
        return await self._call(TESTING_400)
