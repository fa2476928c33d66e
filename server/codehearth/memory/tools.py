"""The memory tools a model can call, their JSON schemas, a strict executor and a parser.

* :data:`TOOL_SCHEMAS`: Ollama/OpenAI-style function tools (``{"type": "function",
  "function": {name, description, parameters}}``), ``parameters`` being a JSON Schema object
  with ``additionalProperties: false``.
* :func:`execute_tool`: validates the arguments against those same schemas (unknown tool,
  missing, extra or wrong-typed arguments, sizes out of range) and runs the tool. It never
  raises: every outcome is a :class:`ToolResult`, whose ``content`` is what the model reads
  next and whose ``audit`` is the edit made (also kept in the store's audit log).
* :func:`parse_tool_call`: for models without native tool calling, exactly one JSON object
  ``{"tool": name, "arguments": {...}}``, optionally in a ```` ```json ```` fence, and nothing
  else around it; anything else (prose, two objects, duplicate keys, NaN) is None.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from codehearth.memory.store import (
    ARCHIVAL_MAX_CHARS,
    DEFAULT_CORE_LIMITS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    AuditEntry,
    EditResult,
    MemoryStore,
    RecallRecord,
)

MAX_QUERY_CHARS = 1000
MAX_RESULTS = 20
DEFAULT_RESULTS = 5
# The longest text parse_tool_call looks at.
MAX_CALL_CHARS = 32_000

_CORE_TEXT_MAX = max(DEFAULT_CORE_LIMITS.values())
_BLOCK = {
    "type": "string",
    "enum": list(DEFAULT_CORE_LIMITS),
    "description": "Which core memory block: " + ", ".join(DEFAULT_CORE_LIMITS) + ".",
}
_LIMIT = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_RESULTS,
    "description": f"How many results (default {DEFAULT_RESULTS}).",
}
_QUERY = {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS}


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


TOOL_SCHEMAS: list[dict[str, Any]] = [
    _tool(
        "core_memory_append",
        "Append a line to a core memory block (always visible to you). Use for lasting facts "
        "about the user, the project or yourself.",
        {
            "block": _BLOCK,
            "content": {"type": "string", "minLength": 1, "maxLength": _CORE_TEXT_MAX},
        },
        ["block", "content"],
    ),
    _tool(
        "core_memory_replace",
        "Replace text in a core memory block; an empty new_content deletes old_content.",
        {
            "block": _BLOCK,
            "old_content": {"type": "string", "minLength": 1, "maxLength": _CORE_TEXT_MAX},
            "new_content": {"type": "string", "maxLength": _CORE_TEXT_MAX},
        },
        ["block", "old_content", "new_content"],
    ),
    _tool(
        "archival_memory_insert",
        "Store a note in archival memory (unlimited, not visible until searched).",
        {
            "content": {"type": "string", "minLength": 1, "maxLength": ARCHIVAL_MAX_CHARS},
            "tags": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_CHARS},
                "maxItems": MAX_TAGS,
            },
        },
        ["content"],
    ),
    _tool(
        "archival_memory_search",
        "Search archival memory for notes related to a query.",
        {"query": _QUERY, "limit": _LIMIT},
        ["query"],
    ),
    _tool(
        "conversation_search",
        "Search past chat messages and completion suggestions, optionally within dates "
        "(ISO 8601, start inclusive, end exclusive). An empty query lists the newest.",
        {
            "query": {"type": "string", "maxLength": MAX_QUERY_CHARS},
            "limit": _LIMIT,
            "start": {"type": "string", "description": "e.g. 2025-01-31 or 2025-01-31T09:00"},
            "end": {"type": "string", "description": "e.g. 2025-02-01"},
        },
        ["query"],
    ),
]

_SCHEMAS = {tool["function"]["name"]: tool["function"]["parameters"] for tool in TOOL_SCHEMAS}
TOOL_NAMES = tuple(_SCHEMAS)


@attrs.frozen
class ToolResult:
    """What a tool call did: ``content`` is the text to give the model back."""

    ok: bool
    content: str
    audit: AuditEntry | None = None


@attrs.frozen
class ToolCall:
    name: str
    arguments: dict[str, Any]


def execute_tool(store: MemoryStore, name: object, arguments: object) -> ToolResult:
    """Validate and run one tool call; never raises."""
    if not isinstance(name, str) or name not in _SCHEMAS:
        return ToolResult(False, f"unknown tool {name!r}; known tools: {', '.join(TOOL_NAMES)}")
    if not isinstance(arguments, dict):
        return ToolResult(False, f"{name}: arguments must be a JSON object")
    problem = _validate(_SCHEMAS[name], arguments)
    if problem:
        return ToolResult(False, f"{name}: {problem}")
    return _RUNNERS[name](store, arguments)


def _validate(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> str | None:
    properties: Mapping[str, Any] = schema["properties"]
    missing = [key for key in schema["required"] if key not in arguments]
    if missing:
        return "missing argument(s): " + ", ".join(missing)
    extra = sorted(key for key in arguments if key not in properties)
    if extra:
        return "unexpected argument(s): " + ", ".join(map(str, extra))
    for key, value in arguments.items():
        problem = _check(properties[key], value)
        if problem:
            return f"argument {key!r} {problem}"
    return None


def _check(spec: Mapping[str, Any], value: object) -> str | None:
    kind = spec["type"]
    if kind == "string":
        if not isinstance(value, str):
            return "must be a string"
        if len(value) < spec.get("minLength", 0):
            return "must not be empty"
        if len(value) > spec.get("maxLength", len(value)):
            return f"is {len(value):,} characters, over the limit of {spec['maxLength']:,}"
        if "enum" in spec and value not in spec["enum"]:
            return "must be one of: " + ", ".join(spec["enum"])
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return "must be an integer"
        if not spec["minimum"] <= value <= spec["maximum"]:
            return f"must be between {spec['minimum']} and {spec['maximum']}"
    elif kind == "array":
        if not isinstance(value, list):
            return "must be an array"
        if len(value) > spec["maxItems"]:
            return f"has more than {spec['maxItems']} items"
        for item in value:
            problem = _check(spec["items"], item)
            if problem:
                return f"item {problem}"
    return None


def _edit(result: EditResult) -> ToolResult:
    return ToolResult(result.ok, result.message, result.audit)


def _archival_search(store: MemoryStore, arguments: Mapping[str, Any]) -> ToolResult:
    if not store.available:
        return ToolResult(False, f"memory unavailable: {store.problem}")
    hits = store.archival_search(arguments["query"], arguments.get("limit", DEFAULT_RESULTS))
    found = [
        {"id": h.note.id, "time": _iso(h.note.time), "tags": list(h.note.tags), "text": h.note.text}
        for h in hits
    ]
    return ToolResult(True, json.dumps(found, ensure_ascii=False))


def _conversation_search(store: MemoryStore, arguments: Mapping[str, Any]) -> ToolResult:
    if not store.available:
        return ToolResult(False, f"memory unavailable: {store.problem}")
    bounds: dict[str, float] = {}
    for key in ("start", "end"):
        if key in arguments:
            try:
                bounds[key] = datetime.fromisoformat(arguments[key]).timestamp()
            except ValueError:
                return ToolResult(
                    False, f"conversation_search: argument {key!r} is not an ISO 8601 date"
                )
    records = store.recall_search(
        arguments["query"], arguments.get("limit", DEFAULT_RESULTS), **bounds
    )
    return ToolResult(True, json.dumps([_recall_json(r) for r in records], ensure_ascii=False))


def _recall_json(record: RecallRecord) -> dict[str, Any]:
    if record.kind == "message":
        return {"time": _iso(record.time), "role": record.role, "text": record.text}
    return {
        "time": _iso(record.time),
        "suggestion_for": record.uri,
        "accepted": record.accepted,
        "text": record.text,
    }


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp).isoformat(timespec="seconds")


_RUNNERS: dict[str, Callable[[MemoryStore, Mapping[str, Any]], ToolResult]] = {
    "core_memory_append": lambda s, a: _edit(s.core_append(a["block"], a["content"])),
    "core_memory_replace": lambda s, a: _edit(
        s.core_replace(a["block"], a["old_content"], a["new_content"])
    ),
    "archival_memory_insert": lambda s, a: _edit(
        s.archival_insert(a["content"], a.get("tags", ()))
    ),
    "archival_memory_search": _archival_search,
    "conversation_search": _conversation_search,
}

_FENCE = re.compile(r"\A```(?:json)?[ \t]*\n(.*)\n[ \t]*```\Z", re.DOTALL)


def parse_tool_call(text: str) -> ToolCall | None:
    """The one tool call ``text`` consists of, or None (see the module docstring)."""
    if not isinstance(text, str) or len(text) > MAX_CALL_CHARS:
        return None
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body.startswith("{"):
        return None
    try:
        data = json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) != {"tool", "arguments"}:
        return None
    name, arguments = data["tool"], data["arguments"]
    if not isinstance(name, str) or not name or not isinstance(arguments, dict):
        return None
    return ToolCall(name, arguments)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")
