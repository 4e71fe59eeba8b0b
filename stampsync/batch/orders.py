"""The former path of :mod:`stampsync.stamped.v3._order_batch` (a section's own batch now lives
with the section). At run time this name is that very module; the star import is for
type checkers."""

import sys

from ..stamped.v3 import _order_batch as _module
from ..stamped.v3._order_batch import *  # noqa: F403

sys.modules[__name__] = _module
