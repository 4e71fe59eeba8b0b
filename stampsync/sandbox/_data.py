"""The sandbox's state, per API: ``_stamped_data`` and ``_stamps_data`` (shared helpers in
``_data_common``). This module keeps the names the route handlers import.
"""

from ._data_common import FIRST, LAST, now_iso, today
from ._stamped_data import TIERS, StampedStore
from ._stamps_data import LEVELS, AwardRecord, Member, StampsStore

__all__ = [
    "FIRST",
    "LAST",
    "LEVELS",
    "TIERS",
    "AwardRecord",
    "Member",
    "StampedStore",
    "StampsStore",
    "now_iso",
    "today",
]
