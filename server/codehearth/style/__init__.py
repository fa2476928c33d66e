"""The user's personal context: their coding style, inferred from their own code and
their formatter configs, and their own rules, for every prompt.

- :mod:`~codehearth.style.extract`: tree-sitter style inference (``StyleExtractor``),
  per file as ``FileEvidence``;
- :mod:`~codehearth.style.configs`: formatter configs, which override inference;
- :mod:`~codehearth.style.pins`: ``parse_pins`` for the attributes the user pins, which
  override both;
- :mod:`~codehearth.style.profile`: ``StyleTracker`` (a workspace's profile kept current
  file by file), ``build_profile``, ``render_style_block``, ``apply_to_completion``;
- :mod:`~codehearth.style.store`: ``StyleStore``, per-file evidence in the user cache;
- :mod:`~codehearth.style.rules`: ``load_rules`` for ``rules.md`` files.

A domain package: it knows nothing of LSP.
"""

from codehearth.style.configs import read_configs
from codehearth.style.extract import FileEvidence, StyleAttribute, StyleExtractor, extract_style
from codehearth.style.pins import parse_pins
from codehearth.style.profile import (
    StyleProfile,
    StyleTracker,
    WorkspaceStyle,
    apply_to_completion,
    build_profile,
    render_style_block,
)
from codehearth.style.rules import Rules, load_rules
from codehearth.style.store import StyleStore

__all__ = [
    "FileEvidence",
    "Rules",
    "StyleAttribute",
    "StyleExtractor",
    "StyleProfile",
    "StyleStore",
    "StyleTracker",
    "WorkspaceStyle",
    "apply_to_completion",
    "build_profile",
    "extract_style",
    "load_rules",
    "parse_pins",
    "read_configs",
    "render_style_block",
]
