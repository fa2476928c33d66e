"""Persistent memory (Letta/MemGPT-style): core blocks always in the prompt, recall memory of
chat messages and suggestions, archival notes searched by BM25 and vectors, and the tools a
model calls to edit them. Storage is :mod:`codehearth.memory.store`, ranking
:mod:`codehearth.memory.search`, the model-facing tools :mod:`codehearth.memory.tools`."""
