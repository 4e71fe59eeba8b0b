"""The former path of :mod:`stampsync.stamps._pos_batch` (a section's own batch now lives
with the section). At run time this name is that very module; the star import is for
type checkers."""

import sys

from ..stamps import _pos_batch as _module
from ..stamps._pos_batch import *  # noqa: F403

sys.modules[__name__] = _module
