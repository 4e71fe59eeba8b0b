"""How a sandbox behaves: its settings, declared once.

``SandboxConfig`` lists every setting with its help; the command line
(``python -m stampsync.sandbox``), the ``Sandbox(...)`` keywords and the arguments a
``Sandbox(process=True)`` passes to its process are all derived from it here.
"""

from __future__ import annotations

import argparse
import fnmatch
import random
import typing
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any

from ..errors import ConfigurationError

#: Fault kinds that answer without applying the request.
BEFORE = {
    "429",
    "429_retry_after",
    "500",
    "502",
    "503",
    "504",
    "drop_before",
    "html",
    "empty",
    "redirect",
}
#: Fault kinds that apply the request, then spoil or lose the answer.
AFTER = {
    "drop_after",
    "malformed",
    "truncated",
    "wrong_content_type",
    "timeout",
    "huge",
    "gateway_503",
    "gateway_503_json",
}
DELAY = {"latency"}
#: Faults of the connection rather than the request: ``slow_connect`` holds the first
#: request of each new connection for ``seconds`` before it arrives (a TLS handshake, a
#: long trip); ``close`` answers, then closes the connection (the next request reconnects).
CONNECTION = {"slow_connect", "close"}
#: Faults of the sandbox's webhook pushes (their route matches ``WEBHOOK <topic>``):
#: ``webhook_redeliver`` pushes an event a second time ``seconds`` later,
#: ``webhook_delay`` holds a push ``seconds`` before its first try.
WEBHOOK = {"webhook_redeliver", "webhook_delay"}
KINDS = BEFORE | AFTER | DELAY | CONNECTION | WEBHOOK


@dataclass
class Fault:
    """A fault to inject on matching requests.

    Attributes:
        kind: ``429``/``500``/``502``/``503``/``504`` (answered before applying),
            ``drop_before`` (connection cut, nothing applied), ``html`` (a 500 HTML page),
            ``empty`` (a 500 with no body), ``429_retry_after`` (a 429 with
            ``Retry-After: seconds``), ``huge`` (applied, then a 4 MiB answer),
            ``redirect`` (a 307 to the same path on another host, nothing applied),
            ``drop_after`` (applied, then the connection
            is cut), ``malformed``/``truncated``/``wrong_content_type`` (applied, answer
            spoiled), ``timeout`` (applied, answer held for ``seconds``), ``latency``
            (``seconds`` of delay, then a normal answer), ``slow_connect`` (the first
            request of each new connection arrives ``seconds`` late), ``close`` (answered,
            then the connection is closed), ``gateway_503``/``gateway_503_json`` (applied,
            then a proxy's 503: an HTML page, or its own JSON ``{"message": ...}``);
            ``webhook_redeliver`` (a webhook push sent again ``seconds`` later) and
            ``webhook_delay`` (a push held ``seconds``), whose route is a glob over
            ``"WEBHOOK topic"``.
        route: a glob over ``"METHOD /path"``, e.g. ``"POST /api/stamps/add"``.
        probability: chance that a matching request is hit (seeded, reproducible).
        seconds: for ``latency`` and ``timeout``.
        times: inject at most this many times (``None``: no cap).
    """

    kind: str
    route: str = "*"
    probability: float = 1.0
    seconds: float = 1.0
    times: int | None = None
    injected: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigurationError(
                f"unknown fault kind {self.kind!r}; known: {', '.join(sorted(KINDS))}"
            )
        if not 0 <= self.probability <= 1:
            raise ConfigurationError(f"fault probability must be in [0, 1], got {self.probability}")

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """``KIND[:PROBABILITY[:SECONDS[:TIMES]]][@METHOD /path-glob]``.

        For example ``drop_after:0.05@POST /api/stamps/add``, ``latency:1:0.2``, or
        ``500:1:1:2@POST /api/stamps/add`` (the first two awards only).
        """
        head, _, route = spec.partition("@")
        kind, _, rest = head.partition(":")
        probability, _, rest = rest.partition(":")
        seconds, _, times = rest.partition(":")
        try:
            p = float(probability) if probability else 1.0
            secs = float(seconds) if seconds else 1.0
            cap = int(times) if times else None
        except ValueError:
            raise ConfigurationError(f"bad number in fault {spec!r}") from None
        if cap is not None and cap < 0:
            raise ConfigurationError(f"fault times must be >= 0, got {cap} in {spec!r}")
        return cls(
            kind=kind.strip(), route=route.strip() or "*", probability=p, seconds=secs, times=cap
        )

    def spec(self) -> str:
        """This fault as a string :meth:`parse` reads back (``times`` included)."""
        times = "" if self.times is None else f":{self.times}"
        return f"{self.kind}:{self.probability:g}:{self.seconds:g}{times}@{self.route}"

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(f"{method} {path}", self.route)

    def roll(self, rng: random.Random) -> bool:
        """Whether this fault strikes now: under its ``times`` cap, and the dice say so
        (counted in ``injected`` when it does)."""
        if self.times is not None and self.injected >= self.times:
            return False
        if rng.random() < self.probability:
            self.injected += 1
            return True
        return False


def setting(default: Any = MISSING, *, help: str, flag: str | None = None, **more: Any) -> Any:
    """A :class:`SandboxConfig` field with what the command line says of it.

    ``flag`` defaults to the field's name with dashes; ``more`` goes to ``field``.
    """
    return field(default=default, metadata={"help": help, "flag": flag}, **more)


@dataclass
class SandboxConfig:
    """How a sandbox behaves. Every default is safe for tests: no quota, no faults.

    Each field is a keyword of ``Sandbox(...)`` and a flag of ``stampsync sandbox``
    (``--fault-seed`` for ``fault_seed``...). ``faults`` takes :class:`Fault` objects
    or their strings (``"503"``, ``"drop_after:0.05@POST /api/stamps/add"``).
    """

    seed: int = setting(1, help="seed of the generated data")
    customers: int = setting(100_000, help="Stamped.io customers")
    members: int = setting(10_000, help="Stamps members")
    reviews_per_customer: int = setting(1, help="Stamped.io reviews per customer")
    store_hash: str = setting("270392", help="the Stamped.io store hash")
    public_key: str = setting("pubkey-sandbox", help="the Stamped.io public key")
    private_key: str = setting("key-sandbox-private", help="the Stamped.io private key")
    api_key: str = setting("stamped-v3-sandbox-key", help="the shop's Stamped V3 API key")
    """The shop's Stamped V3 key (``stamped-api-key``)."""
    # Demo credentials, printed on start: the sandbox holds no real data.
    stamps_token: str = setting("stamps-sandbox-token", help="the Stamps API token")
    merchant: int = setting(14, help="the Stamps merchant id")
    stores: tuple[int, ...] = setting((1, 2, 3), help="the Stamps store ids, comma-separated")
    extra_tokens: int = setting(
        0, help="more Stamps tokens, TOKEN-1 to TOKEN-N, each a store with its own quota"
    )
    """More Stamps tokens, ``{stamps_token}-1`` to ``-N``: each a store of its own, with a
    quota window of its own (a fleet of stores in one sandbox)."""
    limit: int | None = setting(
        None, help="strict quota: at most LIMIT requests per --seconds per credential"
    )
    """A strict sliding window: at most ``limit`` requests per ``seconds`` per credential
    (per store hash and public key on Stamped.io, per token on Stamps)."""
    seconds: float = setting(60.0, help="the quota's window, in seconds")
    faults: list[Fault] = setting(  # noqa: RUF009 (setting returns a dataclass field)
        help="inject faults: KIND[:PROBABILITY[:SECONDS[:TIMES]]][@METHOD /path-glob] (repeatable)",
        flag="--fault",
        default_factory=list,
    )
    fault_seed: int = setting(0, help="seed of the fault dice")
    listing_created: str = setting(
        "unix", help="how by-user listings show created: unix, missing, or text (not ISO 8601)"
    )
    """How ``GET /api/transactions/by-user`` shows ``created``: ``unix`` (as documented),
    ``missing`` (left out) or ``text`` (a non-ISO form): listings a client cannot match on."""
    arrival_log: bool = setting(True, help="keep every arrival time (8 bytes each)")
    """Keep every arrival time (8 bytes each) for the inspection API."""
    webhook_url: str | None = setting(
        None, help="push Stamped.io webhook events to this receiver URL (loopback only)"
    )
    """Where the sandbox pushes webhook events (points, tier changes, reviews): a
    receiver on this machine (``http://127.0.0.1:PORT/path``); ``None`` pushes nothing."""
    webhook_secret: str = setting(
        "sandbox-webhook-secret", help="the shared secret each webhook push carries", repr=False
    )

    def __post_init__(self) -> None:
        # Strings are accepted wherever Fault objects are (the pytest marker, Sandbox()).
        self.faults = [Fault.parse(f) if isinstance(f, str) else f for f in self.faults]
        for f in self.faults:
            if not isinstance(f, Fault):
                raise ConfigurationError(f"a fault is a Fault or a string, got {f!r}")
        self.stores = tuple(self.stores)
        if self.webhook_url is not None:
            _check_receiver(self.webhook_url)
        if not isinstance(self.webhook_secret, str) or not self.webhook_secret:
            raise ConfigurationError("webhook_secret must be a non-empty string")
        if self.listing_created not in ("unix", "missing", "text"):
            raise ConfigurationError(
                f"listing_created must be unix, missing or text, got {self.listing_created!r}"
            )


def _check_receiver(url: str) -> None:
    """The sandbox pushes only to this machine: no traffic leaves it."""
    from yarl import URL

    try:
        parsed = URL(url)
        host = parsed.host
    except (ValueError, TypeError):
        host = None
    else:
        if parsed.scheme not in ("http", "https"):
            host = None
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigurationError(
            f"webhook_url must be an http(s) URL on this machine (127.0.0.1, localhost, "
            f"::1), got {url!r}"
        )


def _flag(f: Field[Any]) -> str:
    flag: str | None = f.metadata.get("flag")
    return flag or "--" + f.name.replace("_", "-")


def _default(f: Field[Any]) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def _stores(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add a flag per :class:`SandboxConfig` field (only given flags reach the config)."""
    hints = typing.get_type_hints(SandboxConfig)
    for f in fields(SandboxConfig):
        kind = hints[f.name]
        default = _default(f)
        if isinstance(default, tuple):
            default = ",".join(map(str, default))
        shown = "" if default is None or kind is bool or default == [] else f" (default: {default})"
        common: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}
        help = f.metadata["help"] + shown
        if kind is bool:
            parser.add_argument(
                "--no-" + f.name.replace("_", "-"),
                action="store_false",
                help=f"do not {help}",
                **common,
            )
        elif f.name == "faults":
            parser.add_argument(_flag(f), action="append", metavar="SPEC", help=help, **common)
        elif f.name == "stores":
            parser.add_argument(_flag(f), type=_stores, metavar="N,N,...", help=help, **common)
        else:
            convert = next(t for t in (int, float, str) if t is kind or t in typing.get_args(kind))
            parser.add_argument(_flag(f), type=convert, help=help, **common)


def config_from(args: argparse.Namespace) -> SandboxConfig:
    """The :class:`SandboxConfig` that arguments parsed with :func:`add_arguments` give."""
    names = {f.name for f in fields(SandboxConfig)}
    return SandboxConfig(**{k: v for k, v in vars(args).items() if k in names})


def config_args(config: SandboxConfig) -> list[str]:
    """Command-line arguments that :func:`config_from` turns back into ``config``."""
    args: list[str] = []
    for f in fields(SandboxConfig):
        value = getattr(config, f.name)
        if value == _default(f):
            continue
        if isinstance(value, bool):
            args.append("--no-" + f.name.replace("_", "-"))
        elif f.name == "faults":
            for fault in value:
                args += [_flag(f), fault.spec()]
        elif f.name == "stores":
            args += [_flag(f), ",".join(map(str, value))]
        else:
            args += [_flag(f), str(value)]
    return args
