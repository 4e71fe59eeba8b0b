"""The public surface is designed: exactly these names, each documented, errors complete."""

from __future__ import annotations

import inspect
import pkgutil

import stampsync
import stampsync.errors
from stampsync import StampsyncError

#: Pinned on purpose: a name added or removed here is a decision, not an accident.
EXPORTED = {
    "APIError", "AmbiguousWriteError", "AuthenticationError", "CallSettings", "CertificateError",
    "ClientOptions", "ClientSettings", "ClientStateError", "ConcurrentRunError",
    "ConfigurationError", "DecodeError", "HTTPRequest", "HTTPResponse", "HTTPTransport", "Hook",
    "JournalError", "QueueError",
    "LocalThrottle", "NotFoundError", "QuotaWaitError", "RateLimitError", "RedirectError",
    "RedisThrottle", "RequestError", "RequestEvent", "ServerError", "StampedClient", "StampsClient",
    "StampsyncError", "StateFileError", "Throttle", "ThrottleUnavailableError",
    "TokenExchangeError", "TransportError", "TransportStats", "ValidationError",
    "WebhookError", "__version__",
}  # fmt: skip


def test_the_top_level_exports_exactly_the_designed_names() -> None:
    assert set(stampsync.__all__) == EXPORTED
    assert sorted(stampsync.__all__) == stampsync.__all__  # one sorted list
    public = {n for n in vars(stampsync) if not n.startswith(("_", "@"))} - {
        m.name for m in pkgutil.iter_modules(stampsync.__path__)
    }
    assert public <= EXPORTED | {"annotations"}, public - EXPORTED


def test_every_error_is_exported_and_derives_from_the_base() -> None:
    errors = {
        name: obj
        for name, obj in vars(stampsync.errors).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    }
    assert set(stampsync.errors.__all__) == set(errors)
    for name, cls in errors.items():
        assert issubclass(cls, StampsyncError), name
        assert getattr(stampsync, name) is cls, f"{name} is not exported at the top level"
        assert cls.__doc__, name


def test_request_errors_share_one_base_with_method_and_path() -> None:
    for name in ("APIError", "TransportError", "AmbiguousWriteError", "DecodeError"):
        assert issubclass(getattr(stampsync, name), stampsync.RequestError), name


def test_every_module_all_names_exist_and_are_documented() -> None:
    for info in pkgutil.walk_packages(stampsync.__path__, "stampsync."):
        if info.name.endswith("__main__"):
            continue
        module = __import__(info.name, fromlist=["_"])
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)  # raises if __all__ names a missing object
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert obj.__doc__, f"{info.name}.{name} has no docstring"
