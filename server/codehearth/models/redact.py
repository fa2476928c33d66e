"""Replace secret-shaped strings with ``[REDACTED]`` before a prompt leaves the machine.

Applied to every prompt sent to a cloud endpoint. The index scanner keeps secret *files*
out of prompts by path (:data:`codehearth.index.scanner.SECRET_PATTERNS`); this module
catches secrets *inside* text that is allowed in: a key pasted into a chat question, a
token hard-coded in the file being edited. It recognises

* private key PEM blocks (an unterminated block, cut off by the prompt budget, is redacted
  to the end of the text);
* AWS access key ids (``AKIA``/``ASIA``) and the value after ``aws_secret_access_key``;
* GitHub (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``), Slack
  (``xoxb-``, ``xoxp-`` ...), OpenAI-style (``sk-``) and Google (``AIza``) API keys, JWTs
  and the token after ``Bearer``;
* npm's ``_authToken=`` and quoted values assigned to names ending in ``password``,
  ``secret``, ``token``, ``api_key`` and the like (``db_password = "..."``,
  ``"apiKey": "..."``, ``SECRET_KEY = '...'``), plus unquoted ``SCREAMING_CASE`` env lines.

Only the secret is replaced; the name it is assigned to stays, so the model still sees
what the code does. References such as ``"${NPM_TOKEN}"`` are not secrets and are kept.
Overlapping matches count once. Pure Python, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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


def redact_secrets(text: str) -> tuple[str, int]:
    """``text`` with every secret-shaped string replaced by ``[REDACTED]``, and how many."""
    spans: list[tuple[int, int]] = []
    for rule in _RULES:
        group = "secret" if "secret" in rule.groupindex else 0
        spans.extend(match.span(group) for match in rule.finditer(text))
    if not spans:
        return text, 0
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    pieces: list[str] = []
    position = 0
    for start, end in merged:
        pieces += [text[position:start], REDACTED]
        position = end
    pieces.append(text[position:])
    return "".join(pieces), len(merged)


def redact_messages(messages: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Chat messages with every string in them redacted (content, multi-part content and
    tool call arguments alike), and the number of secrets replaced. The input is not
    changed."""
    redacted: list[dict[str, Any]] = []
    total = 0
    for message in messages:
        cleaned: dict[str, Any] = {}
        for key, value in message.items():
            cleaned[key], count = _redact_value(value)
            total += count
        redacted.append(cleaned)
    return redacted, total


def _redact_value(value: Any) -> tuple[Any, int]:
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, Mapping):
        total = 0
        cleaned: dict[Any, Any] = {}
        for key, item in value.items():
            cleaned[key], count = _redact_value(item)
            total += count
        return cleaned, total
    if isinstance(value, list | tuple):
        results = [_redact_value(item) for item in value]
        return [item for item, _count in results], sum(count for _item, count in results)
    return value, 0


__all__ = ["REDACTED", "redact_messages", "redact_secrets"]
