"""The user's personal context: their coding style, inferred from their own code and
their formatter configs, and their own rules, for every prompt.

- :mod:`~codehearth.style.extract`: tree-sitter style inference (``StyleExtractor``);
- :mod:`~codehearth.style.configs`: formatter configs, which override inference;
- :mod:`~codehearth.style.profile`: ``build_profile``, ``render_style_block``,
  ``apply_to_completion``;
- :mod:`~codehearth.style.rules`: ``load_rules`` for ``rules.md`` files.

A domain package: it knows nothing of LSP.
"""

from codehearth.style.configs import read_configs
from codehearth.style.extract import StyleAttribute, StyleExtractor, extract_style
from codehearth.style.profile import (
    StyleProfile,
    WorkspaceStyle,
    apply_to_completion,
    build_profile,
    render_style_block,
)
from codehearth.style.rules import Rules, load_rules

__all__ = [
    "Rules",
    "StyleAttribute",
    "StyleExtractor",
    "StyleProfile",
    "WorkspaceStyle",
    "apply_to_completion",
    "build_profile",
    "extract_style",
    "load_rules",
    "read_configs",
    "render_style_block",
]
