"""Batch operations over the one request path: paged export, fan-out, journaled writes."""

from .export import Export, ExportStats
from .fanout import fan_out
from .journal import Entry, Journal
from .writes import BatchReport, Outcome

__all__ = ["BatchReport", "Entry", "Export", "ExportStats", "Journal", "Outcome", "fan_out"]
