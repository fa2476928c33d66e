"""Memory tools: schemas, strict execution and the JSON protocol parser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codehearth.memory.store import MemoryStore
from codehearth.memory.tools import TOOL_NAMES, TOOL_SCHEMAS, execute_tool, parse_tool_call


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return MemoryStore(tmp_path / "memory", "ws")


def test_schemas_are_valid_function_tools() -> None:
    assert set(TOOL_NAMES) == {
        "core_memory_append",
        "core_memory_replace",
        "archival_memory_insert",
        "archival_memory_search",
        "conversation_search",
    }
    for tool in TOOL_SCHEMAS:
        assert set(tool) == {"type", "function"} and tool["type"] == "function"
        function = tool["function"]
        assert set(function) == {"name", "description", "parameters"}
        parameters = function["parameters"]
        assert parameters["type"] == "object" and parameters["additionalProperties"] is False
        assert set(parameters["required"]) <= set(parameters["properties"])
        for spec in parameters["properties"].values():
            assert spec["type"] in {"string", "integer", "array"}
        json.dumps(tool)


def test_every_tool_runs(store: MemoryStore) -> None:
    appended = execute_tool(store, "core_memory_append", {"block": "user", "content": "Ana"})
    assert appended.ok and appended.audit is not None and appended.audit.action == "core_append"
    replaced = execute_tool(
        store,
        "core_memory_replace",
        {"block": "user", "old_content": "Ana", "new_content": "Ana (she/her)"},
    )
    assert replaced.ok and store.core_get()["user"] == "Ana (she/her)"
    inserted = execute_tool(
        store, "archival_memory_insert", {"content": "CI runs on Forgejo", "tags": ["ci"]}
    )
    assert inserted.ok and inserted.audit is not None
    found = execute_tool(store, "archival_memory_search", {"query": "forgejo", "limit": 3})
    assert found.ok and json.loads(found.content)[0]["text"] == "CI runs on Forgejo"
    assert found.audit is None
    store.add_message("user", "where does CI run?", "c1", at=1_700_000_000.0)
    searched = execute_tool(store, "conversation_search", {"query": "CI"})
    assert searched.ok and json.loads(searched.content)[0]["role"] == "user"
    dated = execute_tool(
        store, "conversation_search", {"query": "", "start": "2030-01-01", "end": "2031-01-01"}
    )
    assert dated.ok and json.loads(dated.content) == []
    assert [e.action for e in store.audit()] == [
        "core_append",
        "core_replace",
        "archival_insert",
    ]


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        pytest.param("rm_rf", {}, "unknown tool", id="unknown-tool"),
        pytest.param(None, {}, "unknown tool", id="name-not-string"),
        pytest.param("archival_memory_search", [], "must be a JSON object", id="args-not-dict"),
        pytest.param("core_memory_append", {"block": "user"}, "missing", id="missing"),
        pytest.param("archival_memory_search", {"query": "x", "page": 2}, "unexpected", id="extra"),
        pytest.param(
            "archival_memory_search", {"query": 3}, "must be a string", id="wrong-type-string"
        ),
        pytest.param(
            "archival_memory_search", {"query": "x", "limit": "3"}, "integer", id="limit-string"
        ),
        pytest.param(
            "archival_memory_search", {"query": "x", "limit": True}, "integer", id="limit-bool"
        ),
        pytest.param(
            "archival_memory_search", {"query": "x", "limit": 0}, "between", id="limit-range"
        ),
        pytest.param("archival_memory_search", {"query": ""}, "empty", id="empty-query"),
        pytest.param(
            "core_memory_append", {"block": "secrets", "content": "x"}, "one of", id="bad-block"
        ),
        pytest.param(
            "core_memory_append",
            {"block": "user", "content": "x" * 2001},
            "over the limit",
            id="too-long",
        ),
        pytest.param(
            "archival_memory_insert",
            {"content": "x", "tags": "ci"},
            "must be an array",
            id="tags-not-array",
        ),
        pytest.param(
            "archival_memory_insert", {"content": "x", "tags": [1]}, "item", id="tag-not-string"
        ),
        pytest.param(
            "conversation_search", {"query": "x", "start": "yesterday"}, "ISO", id="bad-date"
        ),
        pytest.param(
            "core_memory_replace",
            {"block": "user", "old_content": "absent", "new_content": ""},
            "does not occur",
            id="replace-absent",
        ),
    ],
)
def test_validation_failures(store: MemoryStore, name: Any, arguments: Any, message: str) -> None:
    result = execute_tool(store, name, arguments)
    assert not result.ok and message in result.content and result.audit is None
    assert store.audit() == []


def test_tools_on_a_switched_off_store(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    store = MemoryStore(tmp_path / "file" / "memory", "ws")
    for name, arguments in [
        ("core_memory_append", {"block": "user", "content": "x"}),
        ("archival_memory_insert", {"content": "x"}),
        ("archival_memory_search", {"query": "x"}),
        ("conversation_search", {"query": "x"}),
    ]:
        result = execute_tool(store, name, arguments)
        assert not result.ok and "unavailable" in result.content


CALL = '{"tool": "archival_memory_search", "arguments": {"query": "ci"}}'


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(CALL, id="bare"),
        pytest.param(f"  \n{CALL}\n ", id="whitespace"),
        pytest.param(f"```json\n{CALL}\n```", id="json-fence"),
        pytest.param(f"```\n{CALL}\n```", id="plain-fence"),
    ],
)
def test_parse_tool_call_accepts(text: str) -> None:
    call = parse_tool_call(text)
    assert call is not None
    assert (call.name, call.arguments) == ("archival_memory_search", {"query": "ci"})


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("I will search my memory.", id="prose"),
        pytest.param(f"Sure! {CALL}", id="prose-before"),
        pytest.param(f"{CALL} done", id="text-after"),
        pytest.param(f"{CALL}\n{CALL}", id="two-objects"),
        pytest.param(f"[{CALL}]", id="array"),
        pytest.param('{"tool": "x", "arguments": {}, "why": "y"}', id="extra-key"),
        pytest.param('{"tool": "x"}', id="no-arguments"),
        pytest.param('{"tool": "", "arguments": {}}', id="empty-name"),
        pytest.param('{"tool": 3, "arguments": {}}', id="name-not-string"),
        pytest.param('{"tool": "x", "arguments": []}', id="arguments-not-object"),
        pytest.param('{"tool": "x", "tool": "y", "arguments": {}}', id="duplicate-key"),
        pytest.param('{"tool": "x", "arguments": {"limit": NaN}}', id="nan"),
        pytest.param("{'tool': 'x', 'arguments': {}}", id="single-quotes"),
        pytest.param(f"```python\n{CALL}\n```", id="wrong-fence"),
        pytest.param(f"```json\n{CALL}", id="unclosed-fence"),
        pytest.param('{"tool": "x", "arguments": {"a": "' + "x" * 40_000 + '"}}', id="huge"),
    ],
)
def test_parse_tool_call_rejects(text: str) -> None:
    assert parse_tool_call(text) is None
