"""A suggestion as the one entry of an editor's completion menu (``textDocument/completion``,
for editors without inline completion), shaped so that the editor inserts all of it and
deletes nothing the user typed.

Editors without a ``textEdit`` insert an entry's text in place of the word before the
cursor, as they find that word: Neovim's omnifunc the keywords before it ('iskeyword'),
eglot the symbol at point, Helix its word characters. So the entry carries that word
followed by the suggestion, and no range: a range from the line's indentation made Neovim
0.11, which inserts only the first word of a plain ``textEdit``, delete the typed text.

Several lines need a snippet: Neovim 0.7 inserts a line break of a plain entry as a NUL
byte, while clients with snippets expand them with the new lines indented like the cursor
line (Neovim's ``vim.snippet``, VS Code, yasnippet). So a multi-line suggestion becomes a
snippet whose later lines are indented relative to the cursor line (it ends before a line
indented less, which a snippet cannot express), and only its first line for a client
without snippets. Neovim 0.11's omnifunc inserts a snippet entry's *label* (its
``vim.lsp.completion`` expands the snippet only when the entry is accepted with CTRL-Y), and
inserts a label's line breaks with the cursor line's indentation: so the label is the text
itself.
"""

from __future__ import annotations

import re

import attrs

_WORD_BEFORE_CURSOR = re.compile(r"\w*\Z")
_SNIPPET_SPECIALS = re.compile(r"([\\$}])")


@attrs.frozen
class MenuEntry:
    """What the editor puts in place of the word before the cursor: ``text`` as inserted,
    and ``snippet``, the same text as an LSP snippet (None: insert ``text`` as it is)."""

    text: str
    snippet: str | None


def word_before(line_prefix: str) -> str:
    """The word characters right before the cursor, which the editor replaces."""
    match = _WORD_BEFORE_CURSOR.search(line_prefix)
    return match.group() if match else ""


def escape_snippet(text: str) -> str:
    """``text`` as an LSP snippet that expands to exactly ``text``."""
    return _SNIPPET_SPECIALS.sub(r"\\\1", text)


def relative_lines(lines: list[str], indent: str) -> list[str]:
    """``lines`` after the first without the cursor line's ``indent``, up to the first line
    indented less (blank lines become empty)."""
    kept = [lines[0]]
    for line in lines[1:]:
        if not line.strip():
            kept.append("")
        elif line.startswith(indent):
            kept.append(line[len(indent) :])
        else:
            break
    while len(kept) > 1 and not kept[-1]:
        kept.pop()
    return kept


def menu_entry(line_prefix: str, suggestion: str, *, snippets: bool) -> MenuEntry | None:
    """The entry for ``suggestion`` at a cursor with ``line_prefix`` before it on its line;
    None when nothing is left to insert."""
    lines = suggestion.rstrip().split("\n")
    word = word_before(line_prefix)
    if snippets and len(lines) > 1:
        indent = line_prefix[: len(line_prefix) - len(line_prefix.lstrip())]
        lines = relative_lines(lines, indent)
    if len(lines) == 1 or not snippets:
        if not lines[0].strip():
            return None
        return MenuEntry(text=word + lines[0], snippet=None)
    text = word + "\n".join(lines)
    return MenuEntry(text=text, snippet=escape_snippet(text))
