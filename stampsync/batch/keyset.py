"""Iterate a keyset-paginated listing (``last_reward_id``, ``older_than``, ...) with a
bounded prefetch.

A keyset page names the next one only once it has arrived, so pages cannot be fetched
side by side as offset pages can (:mod:`stampsync._engine.export`). What can overlap is
reading and fetching: while the caller works through one page, the next ones are
fetched, at most ``prefetch`` pages ahead, through the client's throttle. Memory stays
at ``prefetch`` pages however long the listing.
"""

# Defined with the other paging iterators (a resource's listing is no batch operation);
# this path stays.
from .._paging import KeysetPages

__all__ = ["KeysetPages"]
