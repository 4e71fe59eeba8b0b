"""Batch operations over the one request path: paged export, fan-out, journaled writes."""

from .._engine.export import Export, ExportStats
from .._engine.fanout import fan_out
from .._engine.journal import Entry, Journal, WriteJournal, open_journal
from .._engine.writes import BatchReport, Outcome

# The engines' public paths, loaded as before (``stampsync.batch.journal`` after a plain
# ``import stampsync.batch``); each is the engine's own module.
from . import export, fanout, journal, writes  # noqa: F401

__all__ = [
    "BatchReport",
    "Entry",
    "Export",
    "ExportStats",
    "Journal",
    "Outcome",
    "WriteJournal",
    "fan_out",
    "open_journal",
]
