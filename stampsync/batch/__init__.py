"""Batch operations over the one request path: paged export, fan-out, journaled writes."""

from .export import Export, ExportStats
from .fanout import fan_out
from .journal import Entry, Journal, WriteJournal, open_journal
from .writes import BatchReport, Outcome

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
