"""Integration tests: they run on real time, against things outside the test's loop.

The CLI run end to end (subprocesses, signals), redis-server and several processes
sharing one quota, the sandbox in its own process, the pytest plugin, the webhook
receiver example and every docs example. The unit suite (the rest of tests/, but
tests/with_sandbox) runs on the fake loop clock instead (tests/_clock.py) and never
sleeps for real: ``pytest --ignore=tests/integration --ignore=tests/with_sandbox``.
"""
