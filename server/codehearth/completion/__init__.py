"""Completion pipeline: cursor analysis, output filters, caching, debounce and the engine."""
