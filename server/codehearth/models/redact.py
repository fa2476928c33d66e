"""Keep secret-shaped strings out of every prompt, and put them back into the answer.

Applied to every prompt sent to any model, on this machine or not: a key in the code is
not something a model needs to see, and a local model's server may log prompts. The index
scanner keeps secret *files*
out of prompts by path (:data:`codehearth.index.scanner.SECRET_PATTERNS`); this module
catches secrets *inside* text that is allowed in: a key pasted into a chat question, a
token hard-coded in the file being edited. It recognises

* private key PEM blocks (an unterminated block, cut off by the prompt budget, is redacted
  to the end of the text; one whose BEGIN line was cut off, from its first base64 line);
* AWS access key ids (``AKIA``/``ASIA``) and the value after ``aws_secret_access_key``;
* GitHub (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``), Slack
  (``xoxb-``, ``xoxp-`` ...), OpenAI-style (``sk-``) and Google (``AIza``) API keys, JWTs
  and the token after ``Bearer``;
* npm's ``_authToken=`` and quoted values assigned to names ending in ``password``,
  ``secret``, ``token``, ``api_key`` and the like (``db_password = "..."``,
  ``"apiKey": "..."``, ``SECRET_KEY = '...'``), plus unquoted ``SCREAMING_CASE`` env lines.

Only the secret is replaced; the name it is assigned to stays, so the model still sees
what the code does. References such as ``"${NPM_TOKEN}"`` are not secrets and are kept.
Overlapping matches count once.

:func:`redact_secrets` replaces each with ``[REDACTED]`` (for text that never comes back,
such as embeddings and error messages). :class:`SecretMask` gives each distinct secret of
one request a numbered placeholder (``[REDACTED_1]``) and :class:`RevealingStream` turns
those placeholders in the model's streamed answer back into the secret, so an edit of a
line holding a key keeps the key instead of writing the placeholder into the user's file.
Pure Python, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

REDACTED = "[REDACTED]"

_SECRET_NAME = (
    r"(?:password|passwd|passphrase|secret|token"
    r"|(?:api|access|secret|private|signing|encryption)[_-]?key)"
)
# A value that only names where the secret comes from: $VAR, ${VAR}, {{ var }}, <your-key>.
_REFERENCE = r"(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{[^}]*\}\}|<[^>]*>)"

_RULES: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|.*)",
        re.DOTALL,
    ),
    re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    re.compile(
        r"(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key)[\"']?\s*[:=]\s*[\"']?"
        r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
    ),
    re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    re.compile(r"(?<![A-Za-z0-9_-])xox[abeprs]-[0-9]+-[A-Za-z0-9-]{8,}"),
    # sk- keys are random: a run of 20 letters or digits and at least one digit, which
    # words joined by hyphens (sk-learn-compatible-estimator) never have.
    re.compile(
        r"(?<![A-Za-z0-9_-])sk-(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*?[A-Za-z0-9]{20})"
        r"[A-Za-z0-9_-]{20,}"
    ),
    re.compile(r"(?<![A-Za-z0-9_-])AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])"),
    re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"),
    re.compile(r"(?i:bearer)[ \t]+(?=[A-Za-z0-9._~+/-]*[0-9])(?P<secret>[A-Za-z0-9._~+/-]{16,}=*)"),
    re.compile(rf"_authToken\s*=\s*[\"']?(?!{_REFERENCE})(?P<secret>[^\s\"']+)"),
)
# Secrets found by the name they are assigned to: only worth running (they are the costly
# ones) when such a name occurs at all.
_SECRET_NAME_ANYWHERE = re.compile(_SECRET_NAME, re.IGNORECASE)
_NAMED_RULES: tuple[re.Pattern[str], ...] = (
    # The name is bounded (and must start where an identifier starts) so a long run of
    # identifier characters cannot make the search quadratic.
    re.compile(
        rf"(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]{{0,60}}?{_SECRET_NAME}[\"']?\]?"
        r"(?:\s*:\s*[A-Za-z_][A-Za-z0-9_.]*)?\s*(?::=|=>|=|:)\s*"
        rf"(?P<quote>[\"'`])(?!{_REFERENCE}(?P=quote))(?P<secret>(?:(?!(?P=quote))[^\n]){{4,}})"
        r"(?P=quote)",
        re.IGNORECASE,
    ),
    re.compile(
        rf"^[ \t]*(?:export[ \t]+)?[A-Z0-9_]{{0,60}}?{_SECRET_NAME.upper()}[ \t]*=[ \t]*"
        rf"(?![\"'`=]|{_REFERENCE})(?P<secret>[^\s#]{{4,}})",
        re.MULTILINE,
    ),
)


_KEY_END = re.compile(r"-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]{16,}[ \t]*\r?")


def _headless_key_spans(text: str) -> list[tuple[int, int]]:
    """Private keys whose BEGIN line was cut off (a prompt clipped from the top): the
    whole base64 lines just before an END line, and the END line."""
    spans: list[tuple[int, int]] = []
    for end in _KEY_END.finditer(text):
        start = end.start()
        while start > 0 and text[start - 1] == "\n":
            line_start = text.rfind("\n", 0, start - 1) + 1
            if not _BASE64_LINE.fullmatch(text, line_start, start - 1):
                break
            start = line_start
        if start < end.start():
            spans.append((start, end.end()))
    return spans


def secret_spans(text: str) -> list[tuple[int, int]]:
    """Where the secret-shaped strings of ``text`` are: sorted, overlapping matches merged."""
    spans = _headless_key_spans(text) if "PRIVATE KEY" in text else []
    rules = _RULES + _NAMED_RULES if _SECRET_NAME_ANYWHERE.search(text) else _RULES
    for rule in rules:
        group = "secret" if "secret" in rule.groupindex else 0
        spans.extend(match.span(group) for match in rule.finditer(text))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _replace_spans(text: str, spans: Sequence[tuple[int, int]], replace: Any) -> str:
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        pieces += [text[position:start], replace(text[start:end])]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def redact_secrets(text: str) -> tuple[str, int]:
    """``text`` with every secret-shaped string replaced by ``[REDACTED]``, and how many."""
    spans = secret_spans(text)
    if not spans:
        return text, 0
    return _replace_spans(text, spans, lambda _secret: REDACTED), len(spans)


_PLACEHOLDER = re.compile(r"\[REDACTED_([0-9]+)\]")
# The unfinished tail of a streamed answer that may still become a placeholder.
_PLACEHOLDER_START = re.compile(r"\[(?:R(?:E(?:D(?:A(?:C(?:T(?:E(?:D(?:_[0-9]*)?)?)?)?)?)?)?)?)?\Z")


class SecretMask:
    """The secrets of one request, each replaced by its own numbered placeholder.

    The same secret gets the same placeholder wherever it appears (in the prompt, every
    message and tool call), and a number already written in the text itself is skipped,
    so :meth:`reveal` only ever puts back what :meth:`hide` took out."""

    def __init__(self) -> None:
        self._placeholder_of: dict[str, str] = {}
        self._secret_of: dict[str, str] = {}
        self._taken: set[str] = set()

    @property
    def count(self) -> int:
        """How many distinct secrets have been hidden."""
        return len(self._secret_of)

    def hide(self, text: str) -> str:
        self._reserve_written(text)
        spans = secret_spans(text)
        if not spans:
            return text
        return _replace_spans(text, spans, self._placeholder)

    def hide_messages(self, messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Chat messages with every string in them hidden (content, multi-part content and
        tool call arguments alike; not the role or base64 images). The input is not
        changed. Placeholders written in any message are reserved before any is given."""
        for message in messages:
            _map_strings(_maskable(message), self._reserve_written)
        return [{**message, **_map_strings(_maskable(message), self.hide)} for message in messages]

    def reveal(self, text: str) -> str:
        """``text`` with this mask's placeholders turned back into their secrets."""
        if not self._secret_of or "[REDACTED_" not in text:
            return text
        return _PLACEHOLDER.sub(lambda m: self._secret_of.get(m.group(0), m.group(0)), text)

    def reveal_value(self, value: Any) -> Any:
        """:meth:`reveal` over every string in a structure (tool call arguments)."""
        return _map_strings(value, self.reveal)

    def _reserve_written(self, text: str) -> str:
        if "[REDACTED_" in text:
            self._taken.update(_PLACEHOLDER.findall(text))
        return text

    def _placeholder(self, secret: str) -> str:
        placeholder = self._placeholder_of.get(secret)
        if placeholder is None:
            number = len(self._secret_of) + 1
            while str(number) in self._taken:
                number += 1
            self._taken.add(str(number))
            placeholder = f"[REDACTED_{number}]"
            self._placeholder_of[secret] = placeholder
            self._secret_of[placeholder] = secret
        return placeholder


_NOT_MASKED = frozenset({"role", "images"})


def _maskable(message: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key not in _NOT_MASKED}


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of ``value`` with ``change`` applied to every string in it, however nested."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {key: _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_map_strings(item, change) for item in value]
    return value


class RevealingStream:
    """Reveals a streamed answer piece by piece: a placeholder split across two pieces is
    held back until it is whole (or turns out not to be one)."""

    def __init__(self, mask: SecretMask) -> None:
        self.mask = mask
        self._held = ""

    def feed(self, piece: str) -> str:
        """The revealed text that can be shown now."""
        if not self.mask.count:
            return piece
        text = self._held + piece
        bracket = text.rfind("[")
        if bracket >= 0 and _PLACEHOLDER_START.match(text, bracket):
            text, self._held = text[:bracket], text[bracket:]
        else:
            self._held = ""
        return self.mask.reveal(text)

    def flush(self) -> str:
        """Whatever is still held back, at the end of the answer."""
        text, self._held = self._held, ""
        return self.mask.reveal(text)


__all__ = [
    "REDACTED",
    "RevealingStream",
    "SecretMask",
    "redact_secrets",
    "secret_spans",
]
