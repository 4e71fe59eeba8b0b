"""JSON in and out: one encoder, one decoder per target type, error bodies normalised."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, get_args

import msgspec
import msgspec.inspect as mi

from .errors import DecodeError

T = TypeVar("T")

_encoder = msgspec.json.Encoder()

#: Everything msgspec raises for bytes that are not the JSON expected. Invalid UTF-8
#: inside a string comes out as UnicodeDecodeError, not DecodeError (msgspec#714, open);
#: a document nested deeper than the interpreter's recursion limit, as RecursionError.
JSON_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)

#: How deep field errors are followed; deeper parts are summarised, never recursed into.
MAX_ERROR_DEPTH = 8


def encode(body: object) -> bytes:
    """Encode a request body (a Struct or plain data) to JSON bytes."""
    return _encoder.encode(body)


class _Decoder(Protocol):
    def decode(self, data: bytes, /) -> Any: ...


#: Struct classes whose answers are read leniently (see :func:`lenient`), subclasses too.
_LENIENT: set[type] = set()

C = TypeVar("C", bound=type)


def lenient(cls: C) -> C:
    """Read answers of ``cls`` and its subclasses leniently, for an API whose reference
    types numbers and ids as strings and whose servers send either.

    A numeric string where the model says ``float`` or ``int`` reads as the number; an
    integer where it says ``str`` reads as its digits. Anything else that does not fit
    (``"abc"`` for a number) is still a :class:`DecodeError` naming the field.
    Encoding is untouched: the fields stay plain ``str`` and ``float``.
    """
    _LENIENT.add(cls)
    return cls


def _is_lenient(into: Any) -> bool:
    if isinstance(into, type) and any(issubclass(into, base) for base in _LENIENT):
        return True
    return any(_is_lenient(arg) for arg in get_args(into))


class _LenientDecoder:
    """Numeric strings read as numbers (msgspec's ``strict=False``), and, only for an
    answer that fails that way, integers where strings belong converted first: the
    common answer pays nothing for the rare one."""

    __slots__ = ("_fast", "_fix", "_into")

    def __init__(self, into: Any) -> None:
        self._into = into
        self._fast: msgspec.json.Decoder[Any] = msgspec.json.Decoder(into, strict=False)
        self._fix = _digits_fixer(mi.type_info(into), {}) or _same

    def decode(self, data: bytes, /) -> Any:
        try:
            return self._fast.decode(data)
        except msgspec.ValidationError:
            # Either an integer id (fixed below) or a value that fits nowhere: then the
            # conversion raises the same error, naming the same field.
            raw = self._fix(msgspec.json.decode(data))
            return msgspec.convert(raw, self._into, strict=False)


_Fix = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _to_digits(value: Any) -> Any:
    return str(value) if type(value) is int else value


def _digits_fixer(kind: mi.Type, seen: dict[type, dict[str, _Fix]]) -> _Fix | None:
    """A function turning integers into strings wherever ``kind`` expects a string (and
    no number), or None if there is no such place."""
    if isinstance(kind, mi.StrType):
        return _to_digits
    if isinstance(kind, mi.StructType):
        return _struct_fixer(kind, seen)
    if isinstance(kind, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        item = _digits_fixer(kind.item_type, seen)
        return None if item is None else _items_fixer(item)
    if isinstance(kind, mi.DictType):
        value = _digits_fixer(kind.value_type, seen)
        return None if value is None else _values_fixer(value)
    if isinstance(kind, mi.UnionType):
        return _union_fixer(kind, seen)
    return None


def _struct_fixer(kind: mi.StructType, seen: dict[type, dict[str, _Fix]]) -> _Fix | None:
    if kind.cls in seen:  # met again (a recursive type): the first visit fills it
        known = seen[kind.cls]
        return lambda value: _fix_fields(value, known)
    fields: dict[str, _Fix] = {}
    seen[kind.cls] = fields
    for field in kind.fields:
        fix = _digits_fixer(field.type, seen)
        if fix is not None:
            fields[field.encode_name] = fix
    if not fields:
        return None
    return lambda value: _fix_fields(value, fields)


def _fix_fields(value: Any, fields: dict[str, _Fix]) -> Any:
    if isinstance(value, dict):
        for name, fix in fields.items():
            if name in value:
                value[name] = fix(value[name])
    return value


def _items_fixer(fix: _Fix) -> _Fix:
    def items(value: Any) -> Any:
        return [fix(v) for v in value] if isinstance(value, list) else value

    return items


def _values_fixer(fix: _Fix) -> _Fix:
    def values(value: Any) -> Any:
        return {k: fix(v) for k, v in value.items()} if isinstance(value, dict) else value

    return values


def _union_fixer(kind: mi.UnionType, seen: dict[type, dict[str, _Fix]]) -> _Fix | None:
    # A union that takes a number as it is (``str | int``) keeps it; otherwise each JSON
    # kind goes to the member that reads it.
    numbers = any(isinstance(t, mi.IntType | mi.FloatType) for t in kind.types)
    scalar = None if numbers else _to_digits
    if not any(isinstance(t, mi.StrType) for t in kind.types):
        scalar = None
    mapping: _Fix | None = None
    sequence: _Fix | None = None
    for member in kind.types:
        if isinstance(member, mi.StructType | mi.DictType):
            mapping = mapping or _digits_fixer(member, seen)
        elif isinstance(member, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
            sequence = sequence or _digits_fixer(member, seen)
    if scalar is None and mapping is None and sequence is None:
        return None

    def union(value: Any) -> Any:
        if isinstance(value, dict):
            return mapping(value) if mapping is not None else value
        if isinstance(value, list):
            return sequence(value) if sequence is not None else value
        return scalar(value) if scalar is not None else value

    return union


@functools.cache
def _decoder(into: Any) -> _Decoder:
    # Building a decoder compiles the type once; every later answer reuses it.
    if _is_lenient(into):
        return _LenientDecoder(into)
    return msgspec.json.Decoder(into)


def decode(data: bytes, into: type[T], *, method: str, path: str, status: int) -> T:
    """Decode ``data`` straight into ``into``; any failure becomes a :class:`DecodeError`.

    Types registered with :func:`lenient` are read leniently.
    """
    try:
        result: T = decoder_for(into).decode(data)
        return result
    except JSON_ERRORS as exc:
        raise decode_failure(exc, method=method, path=path, status=status) from None


def decoder_for(into: type[T]) -> _Decoder:
    """The decoder of ``into``, compiled once (lenient for types registered with
    :func:`lenient`)."""
    # Types are hashable at run time; typeshed's type[T] just does not say so.
    return _decoder(into)  # type: ignore[arg-type]


def decode_failure(exc: Exception, *, method: str, path: str, status: int) -> DecodeError:
    """The :class:`DecodeError` for one of ``JSON_ERRORS`` raised while decoding."""
    # msgspec.ValidationError subclasses DecodeError: both mean "not the shape we know";
    # only bytes that are not JSON at all (truncated, garbled) are worth a retry.
    malformed = not isinstance(exc, msgspec.ValidationError | RecursionError)
    return DecodeError(
        _short(str(exc)), method=method, path=path, status=status, malformed=malformed
    )


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ErrorBody(msgspec.Struct, frozen=True):
    """What an error answer says, whatever shape the server used."""

    message: str = ""
    error_code: str | None = None
    errors: dict[str, str] = msgspec.field(default_factory=dict)


#: How much of a non-JSON error page is looked at for its message.
_PAGE_WINDOW = 1 << 16


def _keep(text: str) -> str:
    return text


def parse_error_body(data: bytes, scrub: Callable[[str], str] = _keep) -> ErrorBody:
    """Normalise the error shapes both APIs use (see api-notes.md) into one :class:`ErrorBody`.

    Never raises: a body that is not JSON (an HTML error page, say) yields its first
    line of text as the message. ``scrub`` is applied to every field (message, code,
    keys and values of ``errors``) before anything is shortened, so no part of a secret
    survives a cut.
    """
    try:
        doc = msgspec.json.decode(data)
    except JSON_ERRORS:
        text = scrub(data[:_PAGE_WINDOW].decode("utf-8", "replace"))
        return ErrorBody(message=_short(_strip_html(text), 200))
    if isinstance(doc, str):
        return ErrorBody(message=_short(scrub(doc)))
    if not isinstance(doc, dict):
        return ErrorBody()

    errors: dict[str, str] = {}
    for key in ("errors", "validation_errors", "error_messages"):
        _merge_field_errors(errors, doc.get(key))

    code = doc.get("error_code")
    message = ""
    for key in ("error_message", "detail", "message", "error"):
        value = doc.get(key)
        if isinstance(value, str) and value:
            message = value
            break
        if isinstance(value, dict) and key == "error":
            inner = value.get("message")
            if isinstance(inner, str):
                message = inner
                break
    if scrub is not _keep:
        errors = {scrub(k): scrub(v) for k, v in errors.items()}
    if not message and errors:
        message = "; ".join(f"{k}: {v}" for k, v in errors.items())
    return ErrorBody(
        message=_short(scrub(message)),
        error_code=scrub(code) if isinstance(code, str) and code else None,
        errors=errors,
    )


#: The keys of Stamps' documented error object (DESIGN.md, api-notes.md).
_ENVELOPE_KEYS = frozenset({"detail", "error_code", "error_message", "errors"})


def is_api_error_body(data: bytes) -> bool:
    """Whether ``data`` is the vendor's own documented error object, nothing else.

    That is Stamps' ``{"detail", "error_code", "error_message", "errors"}``: a JSON
    object with some of these keys, no other key, text where text belongs. A gateway
    or proxy answers with its own page: HTML, plain text, or JSON of its own
    (``{"message": "Service Unavailable"}``, an RFC 7807 problem with ``title`` and
    ``status``), none of which proves the API saw the request and refused it.
    """
    try:
        doc = msgspec.json.decode(data)
    except JSON_ERRORS:
        return False
    if not isinstance(doc, dict) or not doc or not _ENVELOPE_KEYS.issuperset(doc):
        return False
    texts_ok = all(
        isinstance(doc[k], str) for k in ("detail", "error_code", "error_message") if k in doc
    )
    return texts_ok and isinstance(doc.get("errors", {}), dict | list)


def _merge_field_errors(into: dict[str, str], value: object, depth: int = 0) -> None:
    if depth > MAX_ERROR_DEPTH:
        return
    if isinstance(value, Mapping):
        for field, msg in value.items():
            into[str(field)] = _as_text(msg)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                _merge_field_errors(into, item, depth + 1)
            elif item is not None:
                into.setdefault("__all__", _as_text(item))
    elif isinstance(value, str) and value:
        into.setdefault("__all__", value)


def _as_text(value: object, depth: int = 0) -> str:
    if isinstance(value, str):
        return value
    if depth >= MAX_ERROR_DEPTH and isinstance(value, list | Mapping):
        return "..."
    if isinstance(value, list):
        return "; ".join(_as_text(v, depth + 1) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_as_text(v, depth + 1)}" for k, v in value.items())
    return str(value)


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def _strip_html(text: str) -> str:
    # An HTML error page says what went wrong in its title; fall back to the first text line.
    title = _TITLE.search(text)
    if title and title.group(1).strip():
        return title.group(1).strip()
    without_tags = _TAG.sub(" ", text)
    for line in without_tags.splitlines():
        if line.strip():
            return line.strip()
    return ""
