"""The former path of :mod:`stampsync.stamps._batches` (a section's own batch now lives
with the section). At run time this name is that very module; the star import is for
type checkers."""

import sys

from ..stamps import _batches as _module
from ..stamps._batches import *  # noqa: F403

sys.modules[__name__] = _module
