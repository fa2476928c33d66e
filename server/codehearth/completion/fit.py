"""How a suggestion fits the code at the cursor, asked of tree-sitter.

A :class:`CursorSite` is the document around the cursor as the parse window cursor
analysis uses (the blocks around the cursor whole, see :mod:`codehearth.completion.cursor`)
with a suggestion inserted at the cursor and parsed. It answers two questions:

* :meth:`CursorSite.block_end`: where the block being written at the cursor ends in the
  suggestion (after which the suggestion would add siblings the user did not start). That
  block is the innermost of the language's ``block_nodes`` around the suggestion's first
  token; its closing ``}`` is left out when the document already closes the block after
  the cursor. At the top of the file, it is the top-level statement the cursor is in,
  else the first top-level construct of several lines the suggestion starts (single-line
  statements before it, such as imports, are kept).
* :meth:`CursorSite.adds_errors`: does the suggestion add a syntax error? Errors are the
  outermost ERROR and MISSING nodes, compared by kind and start with the document's
  own (positions after the suggestion shifted back by its length). An error starting in
  the suggestion is new; one starting elsewhere is new unless the document has it too.
  So a suggestion may leave an error the document already had (the line as typed) or
  resolve it, but not add one.

Only the window is parsed (about a millisecond for a cursor in a 2,000-line file, see
``bench/syntax.py``); a parse that takes longer than ``PARSE_TIMEOUT_MICROS`` answers
"cannot tell" (``None``).
"""

from __future__ import annotations

import functools
import re
from collections import Counter

import attrs
import tree_sitter

from codehearth.completion.cursor import MAX_ANCESTORS, window_bounds
from codehearth.languages import LanguageRegistry, LanguageSpec, parse_with_deadline
from codehearth.syntax import outermost_errors

PARSE_TIMEOUT_MICROS = 50_000

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@attrs.frozen(eq=False)
class CursorSite:
    """The parse window around the cursor: ``before`` ends at the cursor, ``after``
    starts there (UTF-8, lines joined with ``\\n``)."""

    parser: tree_sitter.Parser
    spec: LanguageSpec
    before: bytes
    after: bytes

    @classmethod
    def at(
        cls, registry: LanguageRegistry, language_id: str, prefix: str, suffix: str
    ) -> CursorSite | None:
        """The site of a cursor between ``prefix`` and ``suffix``; None when the
        language has no grammar."""
        spec = registry.by_id(language_id)
        parser = registry.parser(language_id) if spec is not None else None
        if spec is None or parser is None:
            return None
        head = _LINE_BREAK.split(prefix)
        tail = _LINE_BREAK.split(suffix)
        line = len(head) - 1
        lines = [*head[:-1], head[-1] + tail[0], *tail[1:]]
        start, end = window_bounds(lines, line, spec)
        before = "\n".join([*head[start:-1], head[-1]])
        after = "\n".join([tail[0], *tail[1 : end - line]])
        return cls(
            parser=parser,
            spec=spec,
            before=before.encode("utf-8", "surrogatepass"),
            after=after.encode("utf-8", "surrogatepass"),
        )

    @functools.cached_property
    def document(self) -> tree_sitter.Tree | None:
        """The window as the document has it."""
        return self._parse(self.before + self.after)

    @functools.cached_property
    def document_closes_block(self) -> bool:
        """Does the document already close the block the cursor is in (its ``}`` after
        the cursor)?"""
        tree = self.document
        if tree is None:
            return False
        cursor = len(self.before)
        node: tree_sitter.Node | None = tree.root_node.descendant_for_byte_range(cursor, cursor)
        for _ in range(MAX_ANCESTORS):
            if node is None or node.parent is None:
                return False
            if node.type in self.spec.block_nodes and node.start_byte < cursor < node.end_byte:
                closer = node.children[-1]
                return not closer.is_named and not closer.is_missing and closer.start_byte >= cursor
            node = node.parent
        return False

    def _parse(self, source: bytes) -> tree_sitter.Tree | None:
        return parse_with_deadline(self.parser, source, PARSE_TIMEOUT_MICROS, keep_source=False)

    def _with_suggestion(self, text: str) -> tree_sitter.Tree | None:
        return self._parse(self.before + text.encode("utf-8", "surrogatepass") + self.after)

    def block_end(self, text: str) -> int | None:
        """Where the block being written ends in ``text`` (a code-point offset), or
        ``len(text)`` when it goes on past the suggestion; None when the tree cannot tell
        (no parse, or an ERROR around the suggestion's first token)."""
        tree = self._with_suggestion(text)
        if tree is None:
            return None
        cursor = len(self.before)
        encoded = text.encode("utf-8", "surrogatepass")
        end = cursor + len(encoded)
        first = cursor + len(encoded) - len(encoded.lstrip())
        if first >= end:
            return len(text)
        block = self._enclosing_block(tree.root_node.descendant_for_byte_range(first, first + 1))
        if block is None:
            return None
        if block.parent is None:
            block_end = _top_level_end(block, cursor, first, end)
        else:
            block_end = block.end_byte
        if block_end >= end:
            return len(text)
        closer = block.children[-1] if block.child_count else None
        if (
            closer is not None
            and not closer.is_named
            and closer.start_byte >= first
            and self.document_closes_block
        ):
            block_end = closer.start_byte  # the document's own closer ends it
        return len(encoded[: max(0, block_end - cursor)].decode("utf-8", "surrogatepass"))

    def _enclosing_block(self, node: tree_sitter.Node | None) -> tree_sitter.Node | None:
        """The innermost block node around ``node``; None past an ERROR or
        ``MAX_ANCESTORS`` steps up."""
        for _ in range(MAX_ANCESTORS):
            if node is None or node.is_error:
                return None
            if node.type in self.spec.block_nodes:
                return node
            node = node.parent
        return None

    def adds_errors(self, text: str) -> bool | None:
        """Does ``text`` add a syntax error? None when the parse cannot tell."""
        tree = self._with_suggestion(text)
        if tree is None:
            return None
        if not tree.root_node.has_error:
            return False
        document = self.document
        if document is None:
            return None
        cursor = len(self.before)
        length = len(text.encode("utf-8", "surrogatepass"))
        known = Counter(_signature(node) for node in outermost_errors(document.root_node, 0))
        for node in outermost_errors(tree.root_node, 0):
            kind, start = _signature(node)
            if cursor <= start < cursor + length:
                return True  # it starts in the suggestion
            shifted = (kind, start if start < cursor else start - length)
            if known[shifted] == 0:
                return True
            known[shifted] -= 1
        return False


def _top_level_end(root: tree_sitter.Node, cursor: int, first: int, end: int) -> int:
    """At the top of the file: the end of the top-level statement the cursor is in, else
    of the first top-level construct of several lines that starts in the suggestion."""
    for child in root.children:
        if child.end_byte <= first:
            continue
        if child.start_byte >= end:
            break
        if child.start_byte < cursor or child.start_point.row != child.end_point.row:
            return child.end_byte
    return end


def _signature(node: tree_sitter.Node) -> tuple[str, int]:
    return (f"missing {node.type}" if node.is_missing else "error", node.start_byte)
