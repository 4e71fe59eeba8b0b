"""Batch operations over the one request path: paged export, fan-out, journaled writes."""

from .export import Export, ExportStats

__all__ = ["Export", "ExportStats"]
