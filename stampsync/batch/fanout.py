"""The public path of :mod:`stampsync._engine.fanout` (where it lives, below the API
sections that use it). At run time this name is that very module, so a name set here
(in a test, say) is set there; the star import is for type checkers."""

import sys

from .._engine import fanout as _module
from .._engine.fanout import *  # noqa: F403

sys.modules[__name__] = _module
