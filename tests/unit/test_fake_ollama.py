"""The fake Ollama server, exercised through the real `ollama` client and httpx."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import math
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest
from tests.fakes.fake_ollama import (
    DEFAULT_TEXT,
    EMBEDDING_DIMENSIONS,
    VERSION,
    FakeOllama,
    RecordedRequest,
)

CODER = "qwen2.5-coder:1.5b"
BASE_CODER = "qwen2.5-coder:1.5b-base"
CLOUD = "qwen3-coder:480b-cloud"
CHATTER = "llama3.2:3b"
EMBEDDER = "nomic-embed-text"
ROOT = Path(__file__).resolve().parents[2]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
WEATHER_CALL = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}


def sync_client(url: str, timeout: float = 5) -> ollama.Client:
    # Plain HTTP only: skipping the CA bundle makes each client ~50x cheaper to build.
    return ollama.Client(host=url, timeout=timeout, verify=False)


def async_client(url: str) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=url, timeout=5, verify=False)


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def client(fake: FakeOllama) -> Iterator[ollama.Client]:
    with sync_client(fake.url) as ollama_client:
        yield ollama_client


@pytest.fixture
def web(fake: FakeOllama) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=5, verify=False) as http_client:
        yield http_client


def streamed_text(client: ollama.Client, **options: Any) -> str:
    return "".join(
        part.response or "" for part in client.generate(CODER, "x", stream=True, **options)
    )


def last_request(fake: FakeOllama) -> RecordedRequest:
    return fake.requests[-1]


def settled_requests(fake: FakeOllama) -> list[RecordedRequest]:
    """The log once every request has finished (the client can see the end first)."""
    assert fake.wait_for(lambda: all(r.finished_at is not None for r in fake.requests), 1)
    return fake.requests


# -- generation ---------------------------------------------------------------


def test_generate_streams_the_text_token_by_token(client: ollama.Client) -> None:
    parts = list(client.generate(CODER, "def add(a, b):\n    ", stream=True))

    assert [part.response for part in parts] == ["return", " a", " +", " b", "\n", ""]
    final = parts[-1]
    assert (final.done, final.done_reason, final.eval_count) == (True, "stop", 5)
    assert final.prompt_eval_count == len("def add(a, b):\n    ") // 4
    assert final.context


def test_generate_without_streaming_returns_one_object(web: httpx.Client) -> None:
    body = {"model": CODER, "prompt": "x", "stream": False}
    response = web.post("/api/generate", json=body)

    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert int(response.headers["content-length"]) == len(response.content)
    reply = response.json()
    assert (reply["response"], reply["done"], reply["done_reason"]) == (DEFAULT_TEXT, True, "stop")


def test_stream_is_chunked_ndjson(web: httpx.Client) -> None:
    body = {"model": CODER, "prompt": "x"}
    with web.stream("POST", "/api/generate", json=body) as response:
        lines = [json.loads(line) for line in response.iter_lines()]

    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["transfer-encoding"] == "chunked"
    assert [line["done"] for line in lines] == [False] * 5 + [True]


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        pytest.param(["+"], "return a ", id="cut-before-stop"),
        pytest.param(["\n"], "return a + b", id="newline"),
        pytest.param([" b", "+"], "return a ", id="earliest-stop-wins"),
        pytest.param(["zzz"], DEFAULT_TEXT, id="absent-stop"),
    ],
)
def test_stop_strings_cut_the_text(client: ollama.Client, stop: list[str], expected: str) -> None:
    assert streamed_text(client, options={"stop": stop}) == expected
    assert client.generate(CODER, "x", options={"stop": stop}).response == expected


def test_num_predict_limits_tokens(client: ollama.Client) -> None:
    reply = client.generate(CODER, "x", options={"num_predict": 2})

    assert (reply.response, reply.done_reason, reply.eval_count) == ("return a", "length", 2)


def test_responder_sees_the_request(fake: FakeOllama, client: ollama.Client) -> None:
    fake.responder = lambda body: f"{body['prompt']}|{body['suffix']}"

    assert client.generate(CODER, "pre", suffix="post").response == "pre|post"


def test_empty_prompt_loads_and_keep_alive_zero_unloads(client: ollama.Client) -> None:
    assert client.generate(CODER).done_reason == "load"
    assert [model.model for model in client.ps().models] == [CODER]
    assert client.generate(CODER, keep_alive=0).done_reason == "unload"
    assert client.ps().models == []


def test_token_delays_pace_the_stream(fake: FakeOllama, client: ollama.Client) -> None:
    fake.first_token_delay, fake.token_delay = 0.05, 0.01
    started = time.monotonic()
    parts = []
    arrivals = []
    for part in client.generate(CODER, "x", stream=True):
        parts.append(part)
        arrivals.append(time.monotonic() - started)

    assert arrivals[0] >= 0.05
    assert arrivals[-1] >= 0.05 + 5 * 0.01
    assert (parts[-1].prompt_eval_duration, parts[-1].eval_duration) == (50_000_000, 50_000_000)


# -- chat -----------------------------------------------------------------------


def test_chat_streams_an_assistant_message(client: ollama.Client) -> None:
    messages = [{"role": "user", "content": "add two numbers"}]
    parts = list(client.chat(CHATTER, messages=messages, stream=True))

    assert "".join(part.message.content or "" for part in parts) == DEFAULT_TEXT
    assert {part.message.role for part in parts} == {"assistant"}
    assert (parts[-1].done, parts[-1].done_reason) == (True, "stop")
    assert client.chat(CHATTER, messages=messages).message.content == DEFAULT_TEXT


@pytest.mark.parametrize(
    "stream", [pytest.param(True, id="stream"), pytest.param(False, id="whole")]
)
def test_chat_emits_tool_calls_when_tools_are_offered(
    fake: FakeOllama, client: ollama.Client, stream: bool
) -> None:
    fake.responder = lambda _body: {"content": "", "tool_calls": [WEATHER_CALL]}
    messages = [{"role": "user", "content": "weather in Paris?"}]
    reply = client.chat(CHATTER, messages=messages, tools=[WEATHER_TOOL], stream=stream)

    parts = list(reply) if stream else [reply]
    calls = [call for part in parts for call in part.message.tool_calls or []]
    assert [(call.function.name, call.function.arguments) for call in calls] == [
        ("get_weather", {"city": "Paris"})
    ]


@pytest.mark.parametrize(
    ("think", "thinking"),
    [
        pytest.param(None, "let me see", id="thinks-by-default"),
        pytest.param(True, "let me see", id="think-true"),
        pytest.param(False, "", id="think-false"),
    ],
)
@pytest.mark.parametrize(
    "stream", [pytest.param(True, id="stream"), pytest.param(False, id="whole")]
)
def test_a_thinking_model_thinks_unless_told_not_to(
    fake: FakeOllama, client: ollama.Client, think: bool | None, thinking: str, stream: bool
) -> None:
    fake.add_model("qwen3:8b", architecture="qwen3", capabilities=["thinking"])
    fake.responder = lambda _body: {"content": "42", "thinking": "let me see"}
    messages = [{"role": "user", "content": "x"}]
    reply = client.chat("qwen3:8b", messages=messages, think=think, stream=stream)

    parts = list(reply) if stream else [reply]
    assert "".join(part.message.thinking or "" for part in parts) == thinking
    assert "".join(part.message.content or "" for part in parts) == "42"


def test_tool_calls_need_tools_in_the_request(fake: FakeOllama, client: ollama.Client) -> None:
    fake.responder = lambda _body: {"content": "no tools here", "tool_calls": [WEATHER_CALL]}
    reply = client.chat(CHATTER, messages=[{"role": "user", "content": "hi"}])

    assert (reply.message.content, reply.message.tool_calls) == ("no tools here", None)


# -- model metadata ---------------------------------------------------------------


def show_json(web: httpx.Client, model: str, **options: Any) -> dict[str, Any]:
    """/api/show's body as raw JSON (ollama-python's ShowResponse hides absent fields)."""
    response = web.post("/api/show", json={"model": model, **options})
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    return shown


@pytest.mark.parametrize(
    ("model", "architecture", "capabilities", "context_length"),
    [
        pytest.param(CODER, "qwen2", ["completion", "insert"], 32768, id="coder-1.5b"),
        pytest.param(BASE_CODER, "qwen2", ["completion"], 32768, id="coder-1.5b-base"),
        pytest.param("qwen2.5-coder:7b", "qwen2", ["completion", "insert"], 32768, id="coder-7b"),
        pytest.param(CHATTER, "llama", ["completion", "tools"], 131072, id="llama"),
        pytest.param(EMBEDDER, "nomic-bert", ["embedding"], 2048, id="embedder"),
    ],
)
def test_show_describes_the_model(
    client: ollama.Client,
    model: str,
    architecture: str,
    capabilities: list[str],
    context_length: int,
) -> None:
    shown = client.show(model)

    assert shown.capabilities == capabilities
    assert shown.modelinfo is not None
    assert shown.modelinfo["general.architecture"] == architecture
    assert shown.modelinfo[f"{architecture}.context_length"] == context_length
    assert shown.details is not None
    assert (shown.details.family, shown.details.format) == (architecture, "gguf")
    assert shown.modified_at is not None
    assert shown.modelfile


def test_coder_template_has_fim_tokens(client: ollama.Client) -> None:
    template = client.show(CODER).template or ""

    assert all(
        token in template for token in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
    )


def test_model_info_is_the_gguf_metadata_without_the_name_and_chat_template(
    web: httpx.Client,
) -> None:
    info = show_json(web, CODER)["model_info"]

    assert {
        "general.architecture": "qwen2",
        "general.basename": "Qwen2.5-Coder",
        "general.finetune": "Instruct",
        "qwen2.context_length": 32768,
        "qwen2.embedding_length": 1536,
        "tokenizer.ggml.model": "gpt2",
    }.items() <= info.items()
    assert "general.name" not in info and "tokenizer.chat_template" not in info
    assert "general.finetune" not in show_json(web, BASE_CODER)["model_info"]


@pytest.mark.parametrize(
    ("options", "has_tokens"),
    [
        pytest.param({}, False, id="arrays-blanked"),
        pytest.param({"verbose": False}, False, id="not-verbose"),
        pytest.param({"verbose": True}, True, id="verbose"),
    ],
)
def test_vocabulary_arrays_are_blanked_unless_verbose(
    web: httpx.Client, options: dict[str, Any], has_tokens: bool
) -> None:
    info = show_json(web, BASE_CODER, **options)["model_info"]

    tokens, types = info["tokenizer.ggml.tokens"], info["tokenizer.ggml.token_type"]
    assert ("<|fim_prefix|>" in tokens, len(types) == len(tokens)) == (has_tokens, True)
    assert bool(tokens) is has_tokens


@pytest.mark.parametrize(
    ("fields", "capabilities", "template"),
    [
        pytest.param(
            {"template": "{{ .Prompt }}"}, ["completion"], "{{ .Prompt }}", id="bare-go-template"
        ),
        pytest.param(
            {"template": "{{ if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>{{ end }}"},
            ["completion", "insert"],
            "<PRE>",
            id="suffix-means-insert",
        ),
        pytest.param(
            {"template": "{{ if .Tools }}{{ .Tools }}{{ end }}{{ .Prompt }}"},
            ["completion", "tools"],
            ".Tools",
            id="tools-from-the-go-template",
        ),
        pytest.param(
            {
                "template": "{{ if .Suffix }}{{ .Suffix }}{{ end }}",
                "chat_template": "{%- if tools %}{{ tools }}{% endif %}<think></think>",
            },
            ["completion", "tools", "thinking"],
            "{%- if tools %}",
            id="jinja-selected-drops-insert",
        ),
        pytest.param({"embedding": True}, ["embedding"], "", id="pooling-type-means-embedding"),
        pytest.param(
            {"capabilities": ["vision"], "template": "{{ .Prompt }}"},
            ["vision", "completion"],
            "{{ .Prompt }}",
            id="config-capabilities-first",
        ),
    ],
)
def test_capabilities_are_computed_like_ollama(
    fake: FakeOllama,
    web: httpx.Client,
    fields: dict[str, Any],
    capabilities: list[str],
    template: str,
) -> None:
    fake.add_model("probe:1b", architecture="llama", **fields)

    shown = show_json(web, "probe:1b")
    assert shown.get("capabilities") == capabilities
    assert template in shown.get("template", "")
    [listed] = [m for m in web.get("/api/tags").json()["models"] if m["name"] == "probe:1b"]
    assert listed["capabilities"] == capabilities


def test_a_cloud_model_names_its_remote_host(web: httpx.Client) -> None:
    shown = show_json(web, CLOUD)
    [listed] = [m for m in web.get("/api/tags").json()["models"] if m["name"] == CLOUD]

    for entry in (shown, listed):
        assert (entry["remote_host"], entry["remote_model"]) == (
            "https://ollama.com:443",
            "qwen3-coder:480b",
        )
    assert shown["model_info"] == {
        "general.architecture": "qwen3moe",
        "general.basename": "Qwen3-Coder",
        "qwen3moe.context_length": 262144,
        "qwen3moe.embedding_length": 6144,
    }
    assert "remote_host" not in show_json(web, CODER)


@pytest.mark.parametrize(
    ("version", "model_info", "tag_capabilities"),
    [
        pytest.param("0.12.0", False, False, id="0.12-omits-both"),
        pytest.param("0.14.3", True, False, id="0.14.3-sends-empty-model-info"),
        pytest.param(VERSION, True, True, id="current"),
    ],
)
def test_older_versions_leave_out_what_they_did_not_send(
    fake: FakeOllama, web: httpx.Client, version: str, model_info: bool, tag_capabilities: bool
) -> None:
    fake.version = version
    fake.add_model("remote:1b", architecture="", remote_host="https://ollama.com:443")

    assert web.get("/api/version").json() == {"version": version}
    assert ("model_info" in show_json(web, "remote:1b")) is model_info
    listed = web.get("/api/tags").json()["models"]
    assert all(
        ("capabilities" in m) is tag_capabilities for m in listed if m["name"] != "remote:1b"
    )


def test_tags_lists_every_model(fake: FakeOllama, client: ollama.Client) -> None:
    fake.add_model(
        "starcoder2:3b", architecture="starcoder2", capabilities=["completion", "insert"]
    )

    listed = client.list().models
    assert [model.model for model in listed] == [
        CODER,
        BASE_CODER,
        "qwen2.5-coder:7b",
        CHATTER,
        "nomic-embed-text:latest",
        CLOUD,
        "starcoder2:3b",
    ]
    assert all(model.digest and model.size and model.details for model in listed)


def test_added_and_removed_models(fake: FakeOllama, client: ollama.Client) -> None:
    fake.add_model(
        "deepseek-coder",
        architecture="llama",
        capabilities=["completion", "insert"],
        template="<｜fim▁begin｜>",
        context_length=16384,
        parameter_size="1B",
    )
    shown = client.show("deepseek-coder:latest")
    assert shown.modelinfo is not None
    assert shown.modelinfo["llama.context_length"] == 16384

    fake.remove_model("deepseek-coder")
    with pytest.raises(ollama.ResponseError) as caught:
        client.show("deepseek-coder")
    assert caught.value.status_code == 404


def test_embed_is_deterministic_and_normalised(client: ollama.Client) -> None:
    single = client.embed(EMBEDDER, input="def add").embeddings
    both = client.embed(EMBEDDER, input=["def add", "def sub"]).embeddings

    assert both[0] == single[0] != both[1]
    assert all(len(vector) == EMBEDDING_DIMENSIONS for vector in both)
    assert all(math.isclose(math.hypot(*vector), 1.0) for vector in both)


def test_version_and_root(web: httpx.Client) -> None:
    assert web.get("/api/version").json() == {"version": VERSION}
    assert web.get("/").text == "Ollama is running"
    assert web.get("/api/nope").status_code == 404


@pytest.mark.parametrize(
    ("call", "status", "message"),
    [
        pytest.param(
            lambda c: c.generate("nope:1b", "x"),
            404,
            "model 'nope:1b' not found",
            id="generate-unknown-model",
        ),
        pytest.param(
            lambda c: list(c.generate("nope:1b", "x", stream=True)),
            404,
            "model 'nope:1b' not found",
            id="stream-unknown-model",
        ),
        pytest.param(
            lambda c: c.chat("nope", messages=[{"role": "user", "content": "x"}]),
            404,
            "model 'nope' not found",
            id="chat-unknown-model",
        ),
        pytest.param(
            lambda c: c.embed("nope", input="x"),
            404,
            'model "nope" not found, try pulling it first',
            id="embed-unknown-model-through-the-scheduler",
        ),
        pytest.param(
            lambda c: c.show("nope"), 404, "model 'nope:latest' not found", id="show-unknown-model"
        ),
        pytest.param(
            lambda c: c.generate(EMBEDDER, "x"),
            400,
            '"nomic-embed-text" does not support generate',
            id="generate-on-embedder",
        ),
        pytest.param(
            lambda c: c.generate(CHATTER, "x", suffix="y"),
            400,
            "registry.ollama.ai/library/llama3.2:3b does not support insert",
            id="fim-without-insert",
        ),
        pytest.param(
            lambda c: c.chat(
                CODER, messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL]
            ),
            400,
            "registry.ollama.ai/library/qwen2.5-coder:1.5b does not support tools",
            id="tools-without-capability",
        ),
    ],
)
def test_request_errors_match_ollama(
    client: ollama.Client, call: Callable[[ollama.Client], object], status: int, message: str
) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        call(client)

    assert (caught.value.status_code, caught.value.error) == (status, message)


# -- faults ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "stream", "expected", "status"),
    [
        pytest.param("not_found", True, ollama.ResponseError, 404, id="404"),
        pytest.param("server_error", True, ollama.ResponseError, 500, id="500"),
        pytest.param("overloaded", True, ollama.ResponseError, 503, id="503"),
        pytest.param("drop_mid_stream", True, httpx.RemoteProtocolError, None, id="drop"),
        pytest.param("error_line", True, ollama.ResponseError, -1, id="error-line"),
        pytest.param("bad_json", True, json.JSONDecodeError, None, id="bad-json"),
        pytest.param("server_error", False, ollama.ResponseError, 500, id="500-whole"),
        pytest.param("drop_mid_stream", False, httpx.RemoteProtocolError, None, id="drop-whole"),
        pytest.param("error_line", False, ollama.ResponseError, 500, id="error-whole"),
        pytest.param("bad_json", False, json.JSONDecodeError, None, id="bad-json-whole"),
    ],
)
def test_faults_raise_what_the_real_client_raises(
    fake: FakeOllama,
    client: ollama.Client,
    fault: str,
    stream: bool,
    expected: type[Exception],
    status: int | None,
) -> None:
    fake.inject(fault, times=1)

    with pytest.raises(expected) as caught:
        if stream:
            list(client.generate(CODER, "x", stream=True))
        else:
            client.generate(CODER, "x")

    if status is not None:
        assert caught.value.status_code == status
    assert streamed_text(client) == DEFAULT_TEXT, "times=1 clears the fault"


@pytest.mark.parametrize(
    ("text", "status", "received"),
    [
        pytest.param("", 500, [], id="no-token-http-status"),
        pytest.param("one", 500, [], id="one-token-http-status"),
        pytest.param("one two", -1, ["one"], id="mid-stream-ndjson-line"),
        pytest.param(DEFAULT_TEXT, -1, ["return", " a"], id="after-two-tokens"),
    ],
)
def test_a_model_error_before_any_content_is_an_http_status(
    fake: FakeOllama, client: ollama.Client, text: str, status: int, received: list[str]
) -> None:
    fake.set_text(text)
    fake.inject("error_line", times=1)
    parts: list[str] = []

    with pytest.raises(ollama.ResponseError) as caught:
        for part in client.generate(CODER, "x", stream=True):
            parts.append(part.response or "")

    assert (caught.value.status_code, caught.value.error, parts) == (
        status,
        "an error was encountered while running the model: unexpected EOF",
        received,
    )


def test_drop_delivers_a_couple_of_chunks_first(fake: FakeOllama, client: ollama.Client) -> None:
    fake.inject("drop_mid_stream")
    received = []

    with pytest.raises(httpx.RemoteProtocolError):
        for part in client.generate(CODER, "x", stream=True):
            received.append(part.response)

    assert received == ["return", " a"]
    dropped = settled_requests(fake)[-1]
    assert (dropped.completed, dropped.client_disconnected) == (False, False)


@pytest.mark.parametrize(
    ("fault", "delay"),
    [pytest.param("hang", None, id="hang"), pytest.param("slow_headers", 1.0, id="slow-headers")],
)
def test_stalls_time_out_and_record_the_hang_up(
    fake: FakeOllama, fault: str, delay: float | None
) -> None:
    fake.inject(fault, delay=delay)

    with sync_client(fake.url, timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.generate(CODER, "x")

    assert fake.wait_for(lambda: last_request(fake).client_disconnected, timeout=0.5)
    assert last_request(fake).status is None


def test_slow_headers_eventually_answer(fake: FakeOllama, client: ollama.Client) -> None:
    fake.inject("slow_headers", delay=0.15)
    started = time.monotonic()

    assert client.generate(CODER, "x").response == DEFAULT_TEXT
    assert time.monotonic() - started >= 0.15


def test_trickle_sends_one_byte_at_a_time(fake: FakeOllama, web: httpx.Client) -> None:
    fake.inject("trickle", delay=0.02)
    body = {"model": CODER, "prompt": "x"}
    with web.stream("POST", "/api/generate", json=body) as response:
        started = time.monotonic()
        pieces = [piece for piece, _ in zip(response.iter_raw(), range(4), strict=False)]
        elapsed = time.monotonic() - started

    assert pieces == [b"{", b'"', b"m", b"o"]
    assert elapsed >= 3 * 0.02


def test_faults_apply_to_generation_paths_unless_told_otherwise(
    fake: FakeOllama, client: ollama.Client
) -> None:
    messages = [{"role": "user", "content": "x"}]
    fake.inject("server_error")
    assert client.list().models
    with pytest.raises(ollama.ResponseError):
        client.chat(CHATTER, messages=messages)

    fake.reset()
    fake.inject("server_error", path="/api/chat")
    assert client.generate(CODER, "x").response == DEFAULT_TEXT
    with pytest.raises(ollama.ResponseError):
        client.chat(CHATTER, messages=messages)

    fake.reset()
    fake.inject("overloaded", path="*", times=1)
    with pytest.raises(ollama.ResponseError):
        client.list()
    assert client.list().models


def test_fault_times_counts_down_and_none_lasts_until_reset(
    fake: FakeOllama, client: ollama.Client
) -> None:
    def outcomes(count: int) -> list[str]:
        results = []
        for _ in range(count):
            try:
                results.append(client.generate(CODER, "x").response or "")
            except ollama.ResponseError as exc:
                results.append(str(exc.status_code))
        return results

    fake.inject("server_error", times=2)
    assert outcomes(3) == ["500", "500", DEFAULT_TEXT]
    fake.inject("overloaded")
    assert outcomes(3) == ["503"] * 3
    fake.reset()
    assert outcomes(1) == [DEFAULT_TEXT]
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("fault", "times"),
    [pytest.param("explode", None, id="unknown-fault"), pytest.param("hang", 0, id="zero-times")],
)
def test_inject_rejects_nonsense(fake: FakeOllama, fault: str, times: int | None) -> None:
    with pytest.raises(ValueError):
        fake.inject(fault, times=times)


# -- recording and disconnects ----------------------------------------------------------


def test_requests_are_recorded(fake: FakeOllama, client: ollama.Client) -> None:
    client.list()
    client.generate(CODER, "x")

    tags, generate = settled_requests(fake)
    assert (tags.method, tags.path, tags.body) == ("GET", "/api/tags", None)
    assert (generate.method, generate.path, generate.body["prompt"]) == (
        "POST",
        "/api/generate",
        "x",
    )
    assert (generate.completed, generate.client_disconnected, generate.status) == (True, False, 200)
    assert generate.finished_at is not None and generate.finished_at >= generate.started_at
    assert fake.generations() == [generate]


async def test_cancelled_async_consumer_is_seen_between_tokens(fake: FakeOllama) -> None:
    fake.token_delay = 1.0  # a write-only check would notice nothing for a second
    first_token = asyncio.Event()

    async def consume() -> None:
        async with async_client(fake.url) as client:
            async for _part in await client.generate(CODER, "x", stream=True):
                first_token.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(2):
        await first_token.wait()
    assert fake.open_streams == 1
    cancelled_at = time.monotonic()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    assert await fake.wait_for_async(lambda: last_request(fake).client_disconnected, timeout=0.2)
    assert last_request(fake).finished_at - cancelled_at < 0.2
    assert (last_request(fake).completed, fake.open_streams) == (False, 0)


def test_abandoned_sync_stream_is_recorded(fake: FakeOllama, client: ollama.Client) -> None:
    fake.token_delay = 1.0
    stream = client.generate(CODER, "x", stream=True)
    next(stream)
    stream.close()

    assert fake.wait_for(lambda: last_request(fake).client_disconnected, timeout=0.2)
    assert fake.open_streams == 0


def test_connections_are_kept_alive(fake: FakeOllama) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
    sockets = []
    for stream in (True, False, True):
        body = json.dumps({"model": CODER, "prompt": "x", "stream": stream})
        connection.request("POST", "/api/generate", body=body)
        assert connection.getresponse().read().endswith(b"}" if not stream else b"}\n")
        sockets.append(connection.sock)
    connection.close()

    assert sockets[0] is not None and sockets == [sockets[0]] * 3
    assert [request.completed for request in settled_requests(fake)] == [True] * 3


# -- lifecycle ----------------------------------------------------------------------------


def test_stop_and_start_on_the_same_port(fake: FakeOllama, client: ollama.Client) -> None:
    url = fake.url
    assert client.list().models

    fake.stop()
    with pytest.raises(ConnectionError):
        client.list()
    with pytest.raises(httpx.ConnectError):
        list(client.generate(CODER, "x", stream=True))

    assert fake.start() == url
    assert client.list().models
    assert fake.restart() == url
    assert streamed_text(client) == DEFAULT_TEXT


def test_a_given_port_is_used() -> None:
    with FakeOllama() as probe:
        port = probe.port
    with FakeOllama(port=port) as fake:
        assert fake.url == f"http://127.0.0.1:{port}"
        with sync_client(fake.url) as client:
            assert client.list().models


def test_stop_does_not_wait_for_hung_requests(fake: FakeOllama) -> None:
    fake.inject("hang")
    errors: list[Exception] = []

    def call() -> None:
        with sync_client(fake.url, timeout=10) as client:
            try:
                client.generate(CODER, "x")
            except Exception as exc:
                errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert fake.wait_for(lambda: len(fake.requests) == 1, timeout=2)
    started = time.monotonic()
    fake.stop()
    caller.join(2)

    assert time.monotonic() - started < 1
    assert [type(error) for error in errors] == [httpx.RemoteProtocolError]


async def test_async_context_manager_serves_the_async_client() -> None:
    async with FakeOllama() as fake:
        async with async_client(fake.url) as client:
            parts = [part.response async for part in await client.generate(CODER, "x", stream=True)]

    assert "".join(part or "" for part in parts) == DEFAULT_TEXT
    assert not fake.running


def test_command_line_serves_until_killed() -> None:
    command = [sys.executable, "-m", "tests.fakes.fake_ollama", "--port", "0", "--text", "hi there"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
            with sync_client(url) as client:
                assert client.generate(CODER, "x").response == "hi there"
        finally:
            process.terminate()
