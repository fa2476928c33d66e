"""The user's own rules for prompts: ``~/.config/codehearth/rules.md`` (global) and
``.codehearth/rules.md`` in the workspace, merged global first.

Rules go into prompts verbatim, so they are cleaned first: invisible and bidirectional
control characters (zero-width spaces and joiners, direction marks, embeddings,
overrides and isolates, the byte order mark and every other Unicode format character)
are stripped and counted in a warning, as they can hide instructions from the person
reading the file (prompt injection). The merged text is capped at
:data:`MAX_RULES_CHARS`, with a warning when it is cut.
"""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from pathlib import Path

import attrs

from codehearth.index.scanner import read_workspace_file

MAX_RULES_CHARS = 4_000
WORKSPACE_RULES = Path(".codehearth") / "rules.md"


def global_rules_path() -> Path:
    """``$XDG_CONFIG_HOME/codehearth/rules.md``, else ``~/.config/codehearth/rules.md``."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "codehearth" / "rules.md"


_ALWAYS_STRIPPED = frozenset(
    [*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]
)


@attrs.frozen
class Rules:
    """The merged, cleaned rules text and what happened to it on the way."""

    text: str
    warnings: tuple[str, ...] = ()


def strip_control_characters(text: str) -> tuple[str, Counter[str]]:
    """``text`` without invisible and bidirectional control characters, and how many of
    each were removed (keyed ``U+XXXX``). Ordinary whitespace is kept."""
    removed: Counter[str] = Counter()
    kept: list[str] = []
    for char in text:
        code = ord(char)
        if code in _ALWAYS_STRIPPED or (
            unicodedata.category(char) == "Cf" and char not in "\t\n\r "
        ):
            removed[f"U+{code:04X}"] += 1
        else:
            kept.append(char)
    return "".join(kept), removed


def load_rules(
    workspace: Path | None,
    global_path: Path | None = None,
    *,
    max_chars: int = MAX_RULES_CHARS,
) -> Rules:
    """Read and merge the global rules (``global_path``, default
    :func:`global_rules_path`) and the workspace's ``.codehearth/rules.md``.
    Missing files are fine; unreadable ones produce a warning."""
    sources = [
        ("global", (global_path or global_rules_path()).expanduser()),
        *([("workspace", workspace / WORKSPACE_RULES)] if workspace is not None else []),
    ]
    parts: list[str] = []
    warnings: list[str] = []
    for label, path in sources:
        try:
            raw = read_workspace_file(path).decode("utf-8", errors="replace")
        except FileNotFoundError:
            continue
        except OSError as error:
            warnings.append(f"{label} rules {path} cannot be read: {error.strerror}")
            continue
        text, removed = strip_control_characters(raw)
        if removed:
            counts = ", ".join(f"{code} x{count}" for code, count in sorted(removed.items()))
            warnings.append(
                f"{label} rules {path}: removed {sum(removed.values())} invisible or "
                f"bidirectional control characters ({counts})"
            )
        if text.strip():
            parts.append(text.strip())
    merged = "\n\n".join(parts)
    if len(merged) > max_chars:
        cut = merged.rfind("\n", 0, max_chars + 1)
        cut = cut if cut > max_chars // 2 else max_chars
        warnings.append(
            f"rules are {len(merged)} characters; only the first {cut} are used (limit {max_chars})"
        )
        merged = merged[:cut].rstrip()
    return Rules(merged, tuple(warnings))
