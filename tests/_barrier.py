"""Start worker processes together: each says it is ready, then all are told to go.

A start time given in advance (``time.time() + 2``) is not a barrier: a worker whose
interpreter starts slowly (a loaded CI machine, a new Python's first imports) begins after
the others have finished, and a test of what happens when runs meet sees no meeting. Here
each worker prints ``ready`` once it is set up and then waits for a line on its stdin; the
test releases them all at once, when every one of them is ready.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

READY = "ready"


def ready_then_wait() -> None:
    """The worker's side (blocking: call it through ``asyncio.to_thread`` in a loop)."""
    print(READY, flush=True)
    if sys.stdin.readline() == "":
        raise SystemExit("the test closed stdin before saying go")


def start_together(argvs: Sequence[Sequence[str]]) -> list[subprocess.Popen[bytes]]:
    """Start one worker per argv; return once every one is ready and has been told to go.
    Read their output with ``communicate()``: everything after the ``ready`` line."""
    workers = [
        subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for argv in argvs
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline().decode().strip()
            if line != READY:
                _, err = worker.communicate(timeout=30)
                tail = err.decode()[-2000:]
                raise AssertionError(f"a worker did not get ready ({line!r}): {tail}")
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(b"go\n")
            worker.stdin.flush()
    except BaseException:
        for worker in workers:
            worker.kill()
            worker.communicate()
        raise
    return workers
