"""Syntax errors in a file, each on the line where it is and named: ``expected ':'``.

tree-sitter marks a problem in two ways. A MISSING node is a token the parser inserted to
go on; its type is the expected token, and it sits right after the token it should
follow. An ERROR node wraps what the parser could not fit, and often starts lines before
the mistake or runs on past it (a Python ``def f(x)`` without its ``:`` gives an ERROR
from the ``def`` to the end of the body, and no MISSING node).

:func:`syntax_problems` reports an ERROR node as follows:

1. **Repair**: one token of :data:`REPAIR_TOKENS` inserted right after the token before
   the node, at the end of each of the node's first :data:`REPAIR_LINES` lines and right
   before its first offending token, earliest place first, must let the parse get past
   the place it failed (the offending token, else the end of the node) without adding
   errors; of the tokens that do at a place, the one leaving the fewest errors wins
   (``[1, 2`` then a new line takes ``]``, not ``:``). That gives
   ``expected '<token>'`` on the token it follows.
   The parse goes on with that token in place, so errors that were only consequences of
   this one (a lost ``:`` breaks the next ``def`` too) are not reported.
2. Otherwise, the **first offending token**: the first token the grammar does not accept
   in the parse state it was read in, or else the first token the parser skipped (in an
   ERROR node of its own): ``unexpected '<text>'``.
3. Otherwise the node's first line: ``invalid syntax``.

Repairs are incremental re-parses (the old tree, edited, is reused) and stop when
``probe_seconds`` are spent; the problems not yet repaired then take steps 2 and 3.
Columns are code points; tree-sitter's rows are lines ending at ``\\n``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import attrs
import tree_sitter

from codehearth.languages import LanguageRegistry, parse_with_deadline

REPAIR_TOKENS = (":", ")", "]", "}", ";", ",")
"""Tokens a repair may insert, the more often forgotten first. (Not an opening bracket:
``}{}`` "repairs" a stray ``}`` with an empty block.)"""

REPAIR_LINES = 3
"""How many lines of an ERROR node, from its first, get a repair tried at their end."""

PARSE_DEADLINE_MICROS = 500_000
PROBE_SECONDS = 0.2
"""Time for repairs per call (one repair of a 2,000-line file takes a few ms)."""
MAX_PROBLEMS = 20
MAX_WALK = 10_000
"""Nodes looked at to find one problem's tokens (bounds hostile input)."""

_NO_STATE = (0, 0xFFFF)
_SHOWN_CHARACTERS = 20


@attrs.frozen
class _Unit:
    """A part of an ERROR node: its first and last token, and whether the parser skipped
    it (it lies in an ERROR node of its own)."""

    first: tree_sitter.Node
    last: tree_sitter.Node
    skipped: bool


@attrs.frozen
class SyntaxProblem:
    """One syntax error: its range (0-based lines, code-point columns) and message."""

    start_line: int
    start_column: int
    end_line: int
    end_column: int
    message: str
    repair: str = ""
    """The token that, inserted at the end of the range, fixes it (``expected ':'``: the
    ``:``); empty when no single token does."""


def syntax_problems(
    registry: LanguageRegistry,
    language_id: str,
    text: str,
    *,
    parse_micros: int = PARSE_DEADLINE_MICROS,
    probe_seconds: float = PROBE_SECONDS,
    limit: int = MAX_PROBLEMS,
) -> list[SyntaxProblem]:
    """The syntax errors of ``text``, in document order (at most ``limit``); none when
    the language has no grammar or the parse takes longer than ``parse_micros``."""
    parser = registry.parser(language_id)
    language = registry.language(language_id)
    spec = registry.by_id(language_id)
    if parser is None or language is None or spec is None:
        return []
    source = text.encode("utf-8", "surrogatepass")
    tree = parse_with_deadline(parser, source, parse_micros, keep_source=False)
    if tree is None or not tree.root_node.has_error:
        return []
    locator = _Locator(
        parser=parser,
        language=language,
        atoms=spec.string_nodes | spec.comment_nodes,
        tokens=tuple(t for t in REPAIR_TOKENS if language.id_for_node_kind(t, False)),
        lines=source.split(b"\n"),
        deadline=time.monotonic() + probe_seconds,
    )
    return locator.locate(tree, source, limit)


@attrs.define
class _Locator:
    parser: tree_sitter.Parser
    language: tree_sitter.Language
    atoms: frozenset[str]
    """Node types read as one token (strings, comments)."""
    tokens: tuple[str, ...]
    lines: list[bytes]
    """The original text's lines, for code-point columns."""
    deadline: float
    accepted: dict[int, frozenset[int]] = attrs.field(factory=dict)
    """The symbols each parse state has an action for (see :meth:`_accepted`)."""

    def locate(self, tree: tree_sitter.Tree, source: bytes, limit: int) -> list[SyntaxProblem]:
        """The problems of ``tree``, the first of each line (the others on a line are
        most often that one's consequences)."""
        problems: list[SyntaxProblem] = []
        pending = outermost_errors(tree.root_node, 0)
        done = 0  # where the errors reported so far end
        while len(problems) < limit:
            node = next(pending, None)
            if node is None:
                break
            if node.is_missing:
                problem = self._missing(node)
                done = node.end_byte
            else:
                repaired = self._repair(tree, source, node, done)
                if repaired is None:
                    problem = self._unrepaired(node, source)
                    done = node.end_byte
                else:
                    problem, tree, source, done = repaired
                    pending = outermost_errors(tree.root_node, done)
            if not problems or problems[-1].start_line != problem.start_line:
                problems.append(problem)
        return problems

    # -- the three kinds of report -------------------------------------------------------

    def _missing(self, node: tree_sitter.Node) -> SyntaxProblem:
        before = self._token_before(node)
        message = _expected(node.type, node.is_named)
        if before is not None and before.end_byte == node.start_byte:
            problem = self._after_token(before, message)
        else:
            problem = self._problem(node.start_point, node.start_point, message)
        return problem if node.is_named else attrs.evolve(problem, repair=node.type)

    def _repair(
        self, tree: tree_sitter.Tree, source: bytes, node: tree_sitter.Node, done: int
    ) -> tuple[SyntaxProblem, tree_sitter.Tree, bytes, int] | None:
        """A one-token repair of the ERROR ``node``, which starts after ``done`` (the end
        of the errors reported before): (the problem, the repaired tree and text, where
        the errors after it start), or None. At each place, the token that leaves the
        fewest errors, then the furthest first one, wins."""
        units = list(self._units(node))
        offending = self._offending(units)
        failed = offending.start_byte if offending is not None else node.end_byte
        points = _repair_points(units, offending, node.start_point.row)
        preceding = self._token_before(node)
        if preceding is not None and preceding.start_byte >= done:
            points.insert(0, preceding)
        floor = min(node.start_byte, points[0].start_byte) if points else node.start_byte
        baseline = _error_counts(tree.root_node, floor)
        for before in points:
            best: tuple[tuple[int, int], str, tree_sitter.Tree] | None = None
            for token in self.tokens:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    return None
                repaired = self._parse_with(tree, source, before, token.encode(), remaining)
                if repaired is None:
                    continue
                score = _progress(repaired.root_node, floor, failed + len(token), baseline)
                if score is not None and (best is None or score < best[0]):
                    best = (score, token, repaired)
                    if score[0] == 0:
                        break  # nothing left to fix after it
            if best is not None:
                _, token, repaired = best
                added = token.encode()
                text = source[: before.end_byte] + added + source[before.end_byte :]
                problem = attrs.evolve(
                    self._after_token(before, _expected(token, False)), repair=token
                )
                return problem, repaired, text, before.end_byte + len(added)
        return None

    def _unrepaired(self, node: tree_sitter.Node, source: bytes) -> SyntaxProblem:
        units = list(self._units(node))
        offending = (
            self._offending(units)
            or next((unit.first for unit in units if unit.skipped), None)
            or (units[0].first if len(units) == 1 and units[0].first == units[0].last else None)
        )
        if offending is not None:
            shown = source[offending.start_byte : offending.end_byte].decode("utf-8", "replace")
            shown = shown.split("\n", 1)[0].strip()
            if len(shown) > _SHOWN_CHARACTERS:
                shown = shown[:_SHOWN_CHARACTERS] + "…"
            return self._on_first_line(offending, f"unexpected '{shown}'")
        return self._on_first_line(node, "invalid syntax")

    # -- tokens ---------------------------------------------------------------------------

    def _units(self, error: tree_sitter.Node) -> Iterator[_Unit]:
        """What the ERROR node holds, in order: the parts without an error whole (a
        statement the parser finished, a token), the parts with one taken apart; no
        comments or empty tokens. An ERROR that spans a file is a few hundred units."""
        stack = [(child, False) for child in reversed(error.children)]
        seen = 0
        while stack and seen < MAX_WALK:
            current, skipped = stack.pop()
            seen += 1
            if not _is_code(current):
                continue
            if (current.has_error or current.is_error) and current.child_count:
                inner = skipped or current.is_error
                stack.extend((child, inner) for child in reversed(current.children))
                continue
            first, last = self._edge(current, 0), self._edge(current, -1)
            if first is not None and last is not None:
                yield _Unit(first, last, skipped)

    def _edge(self, node: tree_sitter.Node, side: int) -> tree_sitter.Node | None:
        """The first (``side`` 0) or last (-1) token of ``node`` (a string or comment
        counts as one token)."""
        for _ in range(MAX_WALK):
            if node.child_count == 0 or node.type in self.atoms:
                return node
            children = [child for child in node.children if _is_code(child)]
            if not children:
                return None
            node = children[side]
        return None

    def _token_before(self, node: tree_sitter.Node) -> tree_sitter.Node | None:
        """The last token before ``node`` that is not a comment."""
        current: tree_sitter.Node | None = node
        for _ in range(MAX_WALK):
            if current is None:
                return None
            sibling = current.prev_sibling
            while sibling is not None and not _is_code(sibling):
                sibling = sibling.prev_sibling
            if sibling is None:
                current = current.parent
                continue
            return self._edge(sibling, -1)
        return None

    def _offending(self, units: list[_Unit]) -> tree_sitter.Node | None:
        """The first token that its own parse state does not accept (read while the
        parser was already recovering, or where nothing of its kind can follow)."""
        for unit in units:
            token = unit.first
            state = token.parse_state
            if state not in _NO_STATE and token.grammar_id not in self._accepted(state):
                return token
        return None

    def _accepted(self, state: int) -> frozenset[int]:
        """The symbols the parse state ``state`` has an action for."""
        accepted = self.accepted.get(state)
        if accepted is None:
            lookahead = self.language.lookahead_iterator(state)
            accepted = frozenset(lookahead.symbols()) if lookahead is not None else frozenset()
            self.accepted[state] = accepted
        return accepted

    def _parse_with(
        self,
        tree: tree_sitter.Tree,
        source: bytes,
        after: tree_sitter.Node,
        added: bytes,
        seconds: float,
    ) -> tree_sitter.Tree | None:
        """The parse of ``source`` with ``added`` inserted right after the token
        ``after``, reusing ``tree``."""
        at = after.end_byte
        row, column = after.end_point
        edited = tree.copy()
        edited.edit(
            start_byte=at,
            old_end_byte=at,
            new_end_byte=at + len(added),
            start_point=(row, column),
            old_end_point=(row, column),
            new_end_point=(row, column + len(added)),
        )
        text = source[:at] + added + source[at:]
        micros = max(1, int(seconds * 1_000_000))
        return parse_with_deadline(self.parser, text, micros, edited, keep_source=False)

    # -- ranges ---------------------------------------------------------------------------

    def _after_token(self, token: tree_sitter.Node, message: str) -> SyntaxProblem:
        """A problem on ``token`` (from the start of its last line if it spans lines)."""
        end = token.end_point
        start = token.start_point if token.start_point.row == end.row else (end.row, 0)
        return self._problem(start, end, message)

    def _on_first_line(self, node: tree_sitter.Node, message: str) -> SyntaxProblem:
        """A problem on ``node``, cut at the end of its first line."""
        start = node.start_point
        end: tuple[int, int] = node.end_point
        if end[0] != start.row:
            line = self.lines[start.row] if start.row < len(self.lines) else b""
            end = (start.row, len(line.rstrip(b"\r")))
        return self._problem(start, end, message)

    def _problem(self, start: tuple[int, int], end: tuple[int, int], message: str) -> SyntaxProblem:
        """A problem at byte positions, which are the original text's: a repair inserts a
        token into a line and the problems after it on that line are not reported."""
        (start_row, start_column), (end_row, end_column) = start, end
        return SyntaxProblem(
            start_row,
            self._code_points(start_row, start_column),
            end_row,
            self._code_points(end_row, end_column),
            message,
        )

    def _code_points(self, row: int, byte_column: int) -> int:
        line = self.lines[row] if row < len(self.lines) else b""
        return len(line[:byte_column].decode("utf-8", "replace"))


def _expected(token: str, named: bool) -> str:
    return f"expected {token.replace('_', ' ').strip()}" if named else f"expected '{token}'"


def outermost_errors(root: tree_sitter.Node, start_byte: int) -> Iterator[tree_sitter.Node]:
    """ERROR and MISSING nodes not inside another, in document order, from ``start_byte``."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.end_byte < start_byte:
            continue
        if node.is_error or node.is_missing:
            if node.start_byte >= start_byte:
                yield node
            continue
        stack.extend(reversed([child for child in node.children if child.has_error]))


def _error_counts(root: tree_sitter.Node, floor: int) -> tuple[int, int]:
    """How many errors start before ``floor``, and from there on."""
    before = after = 0
    for node in outermost_errors(root, 0):
        if node.start_byte < floor:
            before += 1
        else:
            after += 1
    return before, after


def _progress(
    root: tree_sitter.Node, floor: int, failed: int, baseline: tuple[int, int]
) -> tuple[int, int] | None:
    """How well a repaired tree parses from ``floor`` (the errors from there on, then
    minus where the first starts: lower is better), or None when the repair does not get
    the parse past ``failed``, adds an error, or changes the errors before ``floor``."""
    before = after = 0
    first = root.end_byte + 1
    for node in outermost_errors(root, 0):
        if node.start_byte < floor:
            before += 1
            continue
        if after == 0:
            first = node.start_byte
            if first <= failed:
                return None
        after += 1
    if before != baseline[0] or after > baseline[1]:
        return None
    return after, -first


def _repair_points(
    units: list[_Unit], offending: tree_sitter.Node | None, first_row: int
) -> list[tree_sitter.Node]:
    """The tokens after which a repair is tried: the last one on each of the first
    :data:`REPAIR_LINES` lines, and the one before ``offending``; none after it."""
    last_on_row: dict[int, tree_sitter.Node] = {}
    points: list[tree_sitter.Node] = []
    for index, unit in enumerate(units):
        if offending is not None and unit.first.start_byte >= offending.start_byte:
            if index:
                points.append(units[index - 1].last)
            break
        row = unit.last.end_point.row
        if row < first_row + REPAIR_LINES:
            last_on_row[row] = unit.last
    points.extend(last_on_row.values())
    unique = {token.end_byte: token for token in points}
    return [unique[end] for end in sorted(unique)]


def _is_code(node: tree_sitter.Node) -> bool:
    """Not a comment (an extra, unlike a skipped token's ERROR) and not empty."""
    return (node.is_error or not node.is_extra) and node.end_byte > node.start_byte
