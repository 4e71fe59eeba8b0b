"""A local, stateful fake of both APIs: for the demo, tests, benchmarks and your own tests.

It implements every endpoint the two clients call, keeps state in memory (seeded,
reproducible, generated lazily), can enforce a strict quota, inject faults, and reports
what it saw through an inspection API. It listens on 127.0.0.1 only.

- ``async with Sandbox() as sb:`` in scripts and tests;
- ``stampsync sandbox`` (or ``python -m stampsync.sandbox``) from a shell;
- the ``stampsync_sandbox`` pytest fixture, available once stampsync is installed.
"""

from ._middleware import Fault, SandboxConfig
from .app import build_app
from .server import Sandbox, free_port

__all__ = ["Fault", "Sandbox", "SandboxConfig", "build_app", "free_port"]
