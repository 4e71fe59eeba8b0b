"""``python -m stampsync.cli``: the same as the ``stampsync`` command."""

from . import main

main()
