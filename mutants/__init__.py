"""Named mutations of stampsync's guarantees: ``python -m mutants.run`` (``nox -s mutants``).

Each entry of ``catalog.toml`` breaks one guarantee in a scratch copy of the tree; the tests
it names must fail. A mutation they do not catch is a test hole.
"""
