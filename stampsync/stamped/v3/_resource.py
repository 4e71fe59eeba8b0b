"""What the Stamped V3 sections share: bodies checked before sending, filters in the
API's spelling, listings."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Mapping
from typing import Any, TypedDict, TypeVar

import msgspec

from ..._endpoint import Endpoint
from ..._engine.export import prefetch_ahead
from ..._engine.journal import WriteJournal
from ..._engine.writes import BatchOptions, batch_options
from ..._request import path_segment
from ..._validate import positive
from ...errors import ConfigurationError
from .._resource import StampedResource
from ._listing import Listing, V3Page
from .models import Paginated

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)

#: The reference's default page size for its listings.
DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def camel(name: str) -> str:
    """``custom_customer_id`` -> ``customCustomerId`` (the API's spelling)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def query(**filters: Any) -> dict[str, object]:
    """Filters given in snake_case, in the API's camelCase, the unset ones left out."""
    out: dict[str, object] = {}
    for name, value in filters.items():
        if value is None:
            continue
        if isinstance(value, list | tuple) and not all(isinstance(v, str) for v in value):
            raise ConfigurationError(f"{name} must be a list of strings")
        out[camel(name)] = value
    return out


def body(cls: type[S], fields: dict[str, Any], what: str) -> S:
    """A request body of type ``cls`` from keyword fields, checked before sending.

    Nested records may be Structs or dicts with the API's (camelCase) field names.
    """
    unknown = set(fields) - set(cls.__struct_fields__)
    if unknown:
        raise ConfigurationError(f"unknown {what} fields: {', '.join(sorted(unknown))}")
    try:
        raw = msgspec.to_builtins(cls(**{k: v for k, v in fields.items() if v is not None}))
        return msgspec.convert(raw, cls)
    except (msgspec.ValidationError, TypeError) as exc:
        raise ConfigurationError(f"invalid {what}: {exc}") from None


def record_id(value: object, name: str) -> str | int:
    """A record id for a path: a non-empty string or an integer, one path segment."""
    path_segment(value, name)
    if not isinstance(value, str | int):  # a float or a list would pass as its text
        raise ConfigurationError(
            f"{name} must be a string or an integer, got {type(value).__name__}"
        )
    return value


def check_filters(method: Callable[..., object], filters: dict[str, Any]) -> None:
    """Refuse a filter ``method`` does not take, when the listing is made (not at its
    first page, where it would surface as a TypeError)."""
    known = set(inspect.signature(method).parameters) - {"page", "limit"}
    unknown = set(filters) - known
    if unknown:
        raise ConfigurationError(
            f"unknown filters: {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )


def check_limit(limit: object) -> int:
    limit = positive(limit, "limit")
    if limit > MAX_LIMIT:
        raise ConfigurationError(f"limit must be at most {MAX_LIMIT}, got {limit}")
    return limit


P = TypeVar("P", bound=Paginated)


class ListingKeywords(TypedDict, total=False):
    """How a listing without filters reads its pages (``**pages`` of its ``list``)."""

    limit: int
    """Items per page, at most 100 (default 25)."""
    start_page: int | None
    """The page to start at: a listing's ``stats.next_page``, to resume it."""
    prefetch: int | None
    """Most pages fetched ahead (default: the client's ``concurrent_batch_executions``)."""


def merge_pages(answer: P | list[P], empty: type[P], items: str) -> P:
    """A listing answered with an array of pages (as the reference shows it), as one page:
    the first page's number, the last one's paging flags, every page's ``items``."""
    if not isinstance(answer, list):
        return answer
    if not answer:
        return empty()
    if len(answer) == 1:
        return answer[0]
    merged = [item for page in answer for item in getattr(page, items)]
    return msgspec.structs.replace(answer[-1], page=answer[0].page, **{items: merged})


def filtered(
    filter_: Callable[..., Awaitable[V3Page[T]]], filters: dict[str, Any] | None = None
) -> Callable[[int | None, int], Awaitable[V3Page[T]]]:
    """The page fetch of a listing: ``filter_(page=, limit=, **filters)``, the filters
    checked now (not at the first page, where a bad one would surface as a TypeError)."""
    filters = filters or {}
    if "page" in filters:
        raise ConfigurationError("list takes start_page, not page")
    check_filters(filter_, filters)

    def fetch(page: int | None, size: int) -> Awaitable[V3Page[T]]:
        return filter_(page=page, limit=size, **filters)

    return fetch


class V3Resource(StampedResource):
    """One section of ``client.v3``; paths are scoped to the shop (the store hash)."""

    @property
    def _journal_account(self) -> str:
        """The account a shared (PostgreSQL) journal files this shop's writes under, of
        every kind (order pushes, points): its store hash, Stamped having no merchant."""
        return f"stamped:store:{self._store_hash}"

    def _batch_options(
        self, batch: Mapping[str, Any], *, what: str, ping: Callable[[], Awaitable[object]]
    ) -> BatchOptions:
        """The write engine's options for a batch of this shop: the caller's batch
        keywords, the client's concurrency and quota starts, ``ping`` as the preflight.

        The account is the caller's, else the shop's (:attr:`_journal_account`: Stamped
        has no merchant), except that a journal passed open keeps the one it was opened
        with."""
        account = batch.get("account")
        if account is None and not isinstance(batch.get("journal"), WriteJournal):
            account = self._journal_account
        return batch_options(batch, what=what, client=self._client, preflight=ping, account=account)

    def _record(
        self, endpoint: Endpoint[T], name: str, value: object, *, body: object = None
    ) -> Coroutine[Any, Any, T]:
        """``endpoint`` on the record whose id (path parameter ``name``) is ``value``."""
        return self._call(endpoint, params={name: record_id(value, name)}, body=body)

    def _lookup(self, endpoint: Endpoint[T], **ids: str | None) -> Coroutine[Any, Any, T]:
        """``endpoint`` with the ids given as filters; at least one is needed."""
        q = query(**ids)
        if not q:
            *most, last = ids
            raise ConfigurationError(f"lookup needs {', '.join(most)} or {last}")
        return self._call(endpoint, query=q)

    def _listing(
        self,
        fetch: Callable[[int | None, int], Awaitable[V3Page[T]]],
        *,
        key: Callable[[T], Hashable | None],
        what: str,
        limit: int = DEFAULT_LIMIT,
        start_page: int | None = None,
        prefetch: int | None = None,
    ) -> Listing[T]:
        limit = check_limit(limit)
        if start_page is not None and (
            isinstance(start_page, bool) or not isinstance(start_page, int) or start_page < 0
        ):
            raise ConfigurationError(f"start_page must be an integer >= 0, got {start_page!r}")
        ahead = prefetch_ahead(self._client, prefetch)

        def one(page: int | None) -> Awaitable[V3Page[T]]:
            return fetch(page, limit)

        return Listing(one, start_page=start_page, limit=limit, prefetch=ahead, key=key, what=what)
