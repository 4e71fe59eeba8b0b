"""A local, stateful fake of both APIs: for the demo, tests, benchmarks and your own tests.

It implements every endpoint the two clients call, keeps state in memory (seeded,
reproducible, generated lazily), can enforce a strict quota, inject faults, and reports
what it saw through an inspection API. It listens on 127.0.0.1 only.

- ``async with Sandbox() as sb:`` in scripts and tests;
- ``stampsync sandbox`` (or ``python -m stampsync.sandbox``) from a shell;
- the ``stampsync_sandbox`` pytest fixture, available once stampsync is installed.
"""

from . import records
from ._middleware import Fault, SandboxConfig
from .app import build_app
from .records import (
    AwardRecord,
    CustomerRecord,
    DeductionRecord,
    MemberRecord,
    RequestRecord,
    TransactionRecord,
    V3ActivityRecord,
    V3CustomerRecord,
    V3OrderRecord,
    V3ProductRecord,
    V3RewardRecord,
)
from .server import Sandbox, free_port

__all__ = [
    "AwardRecord",
    "CustomerRecord",
    "DeductionRecord",
    "Fault",
    "MemberRecord",
    "RequestRecord",
    "Sandbox",
    "SandboxConfig",
    "TransactionRecord",
    "V3ActivityRecord",
    "V3CustomerRecord",
    "V3OrderRecord",
    "V3ProductRecord",
    "V3RewardRecord",
    "build_app",
    "free_port",
    "records",
]
