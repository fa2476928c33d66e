"""Text edits proposed by a model, and the rules an edit must pass before it reaches a user.

Positions are 0-based lines and characters counted in Unicode code points (Python string
indices); the LSP layer converts from and to the client's position encoding (UTF-16 by
default). A line ends at ``\\n``, ``\\r\\n`` or ``\\r``, as in LSP.

A model never writes to the workspace directly: its answer is a replacement for one region
of one document (:func:`edits_from_answer`), and :func:`validate_proposal` refuses anything
else — another document, a file outside the workspace, version-control, editor or CI
configuration, secrets, a stale document version, or a range outside the region the user
asked about (a prompt-injection defence: instructions hidden in the code must not be able
to widen what the model may rewrite).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from pathlib import Path

import attrs

from codehearth.index.scanner import is_denied

CONTENT_MODIFIED = "content-modified"
"""The reason given when the document changed since the proposal was made."""

PROTECTED_FOLDERS = frozenset({".git", ".vscode", ".github", ".circleci"})
"""Folders whose files a model may never edit (version control, editor settings, CI)."""

PROTECTED_FILES = frozenset({".gitlab-ci.yml", "Jenkinsfile", "azure-pipelines.yml"})
"""CI files a model may never edit, wherever they are in the workspace."""

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[^\n`]*\n", re.MULTILINE)


class EditError(ValueError):
    """An edit that cannot be applied: out of the document, or overlapping another."""


class AnswerError(ValueError):
    """A model answer with no code in it."""


@attrs.frozen
class TextRange:
    """A range between two positions (line, character), end exclusive."""

    start_line: int
    start_char: int
    end_line: int
    end_char: int

    @property
    def start(self) -> tuple[int, int]:
        return (self.start_line, self.start_char)

    @property
    def end(self) -> tuple[int, int]:
        return (self.end_line, self.end_char)

    def contains(self, other: TextRange) -> bool:
        """True when ``other`` lies entirely within this range."""
        return self.start <= other.start and other.end <= self.end


@attrs.frozen
class TextEdit:
    """Replace the text between two positions with ``new_text``."""

    start_line: int
    start_char: int
    end_line: int
    end_char: int
    new_text: str

    @property
    def range(self) -> TextRange:
        return TextRange(self.start_line, self.start_char, self.end_line, self.end_char)


@attrs.frozen
class EditProposal:
    """Edits to one document at one version, as a model proposed them."""

    uri: str
    version: int | None
    edits: tuple[TextEdit, ...]


@attrs.frozen
class Validation:
    """Whether a proposal may be shown to the user; ``reason`` says why not."""

    ok: bool
    reason: str = ""


def line_starts(text: str) -> list[int]:
    """The offset where each line of ``text`` starts (there is always a first line)."""
    return [0, *(match.end() for match in _LINE_BREAK.finditer(text))]


def offset_at(text: str, line: int, char: int, starts: Sequence[int] | None = None) -> int:
    """The string index of a position; raise :class:`EditError` when it is not in the text
    (a character past the end of its line included)."""
    starts = line_starts(text) if starts is None else starts
    if line < 0 or char < 0 or line >= len(starts):
        raise EditError(f"position {line}:{char} is outside the document")
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    content_end = end
    while content_end > starts[line] and text[content_end - 1] in "\r\n":
        content_end -= 1
    if starts[line] + char > content_end:
        raise EditError(f"position {line}:{char} is past the end of its line")
    return starts[line] + char


def position_at(text: str, offset: int) -> tuple[int, int]:
    """The (line, character) of a string index of ``text``."""
    starts = line_starts(text[:offset])
    return (len(starts) - 1, offset - starts[-1])


def range_text(text: str, region: TextRange) -> str:
    """The text a range covers."""
    starts = line_starts(text)
    return text[
        offset_at(text, *region.start, starts=starts) : offset_at(text, *region.end, starts=starts)
    ]


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """Apply non-overlapping edits (back to front, so their positions all refer to
    ``text``); raise :class:`EditError` on an edit outside the text or overlapping another.
    Two insertions at the same position are applied in the order given."""
    starts = line_starts(text)
    spans = []
    for index, edit in enumerate(edits):
        start = offset_at(text, edit.start_line, edit.start_char, starts)
        end = offset_at(text, edit.end_line, edit.end_char, starts)
        if end < start:
            raise EditError(f"edit {index} ends before it starts")
        spans.append((start, end, index, edit.new_text))
    spans.sort()
    for (_, end, _, _), (start, _, _, _) in itertools.pairwise(spans):
        if start < end:
            raise EditError("edits overlap")
    pieces = []
    position = 0
    for start, end, _, new_text in spans:
        pieces.append(text[position:start])
        pieces.append(new_text)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _is_protected(relative: Path) -> bool:
    return relative.name in PROTECTED_FILES or any(
        part in PROTECTED_FOLDERS for part in relative.parts[:-1]
    )


def editable_path(path: str | Path, workspace_root: str | Path | None) -> bool:
    """May an action edit this file at all: inside the workspace, not protected (``.git/``,
    editor and CI settings), not a secret file. (Cheap: no edit is looked at.)"""
    if workspace_root is None:
        return False
    root = Path(workspace_root).resolve()
    try:
        relative = Path(path).resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    return not _is_protected(relative) and not is_denied(path, root)


def validate_proposal(
    proposal: EditProposal,
    *,
    target_uri: str,
    current_version: int | None,
    workspace_root: str | Path,
    target_path: str | Path,
    document_text: str,
    allowed_range: TextRange | None = None,
) -> Validation:
    """Check a proposal against the edit safety rules; the first broken rule is the reason.

    ``target_uri``/``target_path`` are the document the action was asked for,
    ``document_text`` and ``current_version`` its content and version now, and
    ``allowed_range`` the region the model may rewrite (the selection or diagnostic range,
    possibly extended to the enclosing definition); ``None`` allows the whole document.
    """
    if proposal.uri != target_uri:
        return Validation(False, "other-document")
    root = Path(workspace_root).resolve()
    try:
        relative = Path(target_path).resolve().relative_to(root)
    except (ValueError, OSError):
        return Validation(False, "outside-workspace")
    if _is_protected(relative):
        return Validation(False, "protected-path")
    if is_denied(target_path, root):
        return Validation(False, "secret-file")
    if proposal.version != current_version:
        return Validation(False, CONTENT_MODIFIED)
    if not proposal.edits:
        return Validation(False, "no-edits")
    for edit in proposal.edits:
        if allowed_range is not None and not allowed_range.contains(edit.range):
            return Validation(False, "outside-allowed-range")
    try:
        apply_edits(document_text, proposal.edits)
    except EditError as error:
        return Validation(False, f"invalid-edit: {error}")
    return Validation(True)


def extract_code(answer: str) -> str:
    """The code in a model answer: the body of its first fenced block (to the end of the
    answer when the fence is never closed), or the whole answer when it has no fence.
    Raise :class:`AnswerError` when the answer is blank."""
    answer = answer.replace("\r\n", "\n")
    match = _FENCE_OPEN.search(answer)
    if match is None:
        if not answer.strip():
            raise AnswerError("the answer is empty")
        return answer.strip("\n")
    fence = match.group("fence")
    closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
    body = answer[match.end() :]
    end = closing.search(body)
    return body[: end.start()] if end is not None else body


def _common_indent(lines: Sequence[str]) -> str:
    indents = [line[: len(line) - len(line.lstrip(" \t"))] for line in lines if line.strip()]
    if not indents:
        return ""
    shortest = min(indents, key=len)
    return shortest if all(indent.startswith(shortest) for indent in indents) else ""


def _fit_to_region(code: str, original: str, region: TextRange) -> str:
    """Match the original region's line breaks, trailing newline and (for a region that
    starts at a line start) indentation, which models tend to drop."""
    original_lines = original.replace("\r\n", "\n").split("\n")
    lines = code.split("\n")
    if region.start_char == 0:
        indent = _common_indent(original_lines)
        if indent and not _common_indent(lines):
            lines = [indent + line if line.strip() else line for line in lines]
    code = "\n".join(lines)
    if original.endswith(("\n", "\r")):
        if code and not code.endswith("\n"):
            code += "\n"
    else:
        code = code.removesuffix("\n")
    if "\r\n" in original:
        code = code.replace("\n", "\r\n")
    return code


def edits_from_answer(original_region_text: str, answer: str, region: TextRange) -> list[TextEdit]:
    """Turn a model's replacement for ``region`` into the smallest edit that makes it.

    The replacement is the first fenced block of the answer (prose around it is dropped),
    or the whole answer without a fence; an empty fenced block deletes the region. The
    result is ``[]`` when the replacement changes nothing. Raise :class:`AnswerError` when
    the answer is blank.
    """
    new = _fit_to_region(extract_code(answer), original_region_text, region)
    old = original_region_text
    if new == old:
        return []
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    if prefix and old[prefix - 1] == "\r":
        prefix -= 1  # never split a CRLF
    suffix = 0
    limit -= prefix
    while suffix < limit and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    cut = len(old) - suffix
    if 0 < cut < len(old) and old[cut - 1] == "\r" and old[cut] == "\n":
        suffix -= 1  # never split a CRLF
    start = _absolute(region, *position_at(old, prefix))
    end = _absolute(region, *position_at(old, len(old) - suffix))
    return [TextEdit(*start, *end, new[prefix : len(new) - suffix])]


def _absolute(region: TextRange, line: int, char: int) -> tuple[int, int]:
    """A position inside a region's text, relative to the document."""
    if line == 0:
        return (region.start_line, region.start_char + char)
    return (region.start_line + line, char)
