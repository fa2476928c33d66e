"""EmbeddedBackend: llama.cpp in process, serving the bundled Gemma 3 270M.

Tests marked ``model`` run the real model (a few seconds in all) and are skipped when
llama-cpp-python is not installed; the error paths (llama-cpp-python missing, simulated;
a model name it does not serve; tools) always run. Cancellation latencies are printed
(``pytest -s``) and asserted generously.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from codehearth.models.capabilities import detect_capabilities
from codehearth.models.embedded_backend import (
    DEFAULT_EMBEDDED_MODEL,
    DEFAULT_INSTRUCT_MODEL,
    INSTALL_HINT,
    EmbeddedBackend,
    EmbeddedModels,
    _apply_builtin_template,
    _first_token_among,
    _heal,
    _RepeatedLines,
    _Vocabulary,
    assemble_bundled_model,
    embedded_available,
)
from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.ollama_backend import GenerateChunk, GenerateRequest
from codehearth.prompts.family import context_length, detect_family

PROMPT = "def fibonacci(n):\n"
HELLO = [
    {"role": "system", "content": "Answer in one word."},
    {"role": "user", "content": "What is the capital of France?"},
]
# ~4000 tokens, which just fit the default context: evaluating them takes seconds on a laptop.
LONG_PROMPT = "x = 1\n" * 800

needs_llama_cpp = pytest.mark.skipif(
    not embedded_available(), reason=f"llama-cpp-python is not installed: {INSTALL_HINT}"
)


def request(**changes: object) -> GenerateRequest:
    fields: dict[str, object] = {
        "model": DEFAULT_EMBEDDED_MODEL,
        "prompt": PROMPT,
        "num_ctx": 4096,
        "max_tokens": 24,
        "temperature": 0.0,
    }
    fields.update(changes)
    return GenerateRequest(**fields)  # type: ignore[arg-type]


async def collect(backend: EmbeddedBackend, generate: GenerateRequest) -> list[GenerateChunk]:
    return [chunk async for chunk in backend.generate(generate)]


def text_of(chunks: list[GenerateChunk]) -> str:
    return "".join(chunk.text for chunk in chunks)


@pytest.fixture
async def backend() -> AsyncIterator[EmbeddedBackend]:
    made = EmbeddedBackend()
    yield made
    await made.aclose()


# -- the real model -------------------------------------------------------------------


@pytest.mark.model
@needs_llama_cpp
async def test_generates_text_and_reports_token_counts(backend: EmbeddedBackend) -> None:
    chunks = await collect(backend, request())
    assert text_of(chunks).strip()
    last = chunks[-1]
    assert last.done and last.text == ""
    assert not any(chunk.done for chunk in chunks[:-1])
    assert last.prompt_eval_count is not None and last.prompt_eval_count > 3
    assert last.eval_count == 24


@pytest.mark.model
@needs_llama_cpp
async def test_greedy_text_matches_llama_cpp_python_called_directly(
    backend: EmbeddedBackend,
) -> None:
    import llama_cpp

    direct = llama_cpp.Llama(model_path=str(assemble_bundled_model()), n_ctx=4096, verbose=False)
    try:
        for stop in ((), ("return 1",)):
            expected = direct.create_completion(
                PROMPT, max_tokens=32, temperature=0, stop=list(stop)
            )
            chunks = await collect(backend, request(max_tokens=32, stop=stop))
            assert text_of(chunks) == expected["choices"][0]["text"]  # type: ignore[index]
            assert chunks[-1].prompt_eval_count == expected["usage"]["prompt_tokens"]  # type: ignore[index]
    finally:
        direct.close()


@pytest.mark.model
@needs_llama_cpp
async def test_stop_strings_end_the_text_before_them(backend: EmbeddedBackend) -> None:
    unstopped = text_of(await collect(backend, request(max_tokens=32)))
    assert "return 1" in unstopped
    chunks = await collect(backend, request(max_tokens=32, stop=("return 1",)))
    text = text_of(chunks)
    assert text == unstopped[: unstopped.index("return 1")]
    assert chunks[-1].eval_count is not None and chunks[-1].eval_count < 32


@pytest.mark.model
@needs_llama_cpp
async def test_stopping_early_stops_the_worker_within_a_token(backend: EmbeddedBackend) -> None:
    stream = backend.generate(request(max_tokens=2000))
    first = await anext(stream)
    assert not first.done
    started = time.monotonic()
    await stream.aclose()  # returns once the worker thread has stopped
    elapsed = time.monotonic() - started
    print(f"\nworker stopped {elapsed * 1000:.1f} ms after the consumer closed the stream")
    assert elapsed < 0.5
    assert text_of(await collect(backend, request(max_tokens=4))).strip()


@pytest.mark.model
@needs_llama_cpp
async def test_cancelling_the_consumer_stops_the_worker(backend: EmbeddedBackend) -> None:
    first_chunk = asyncio.Event()

    async def consume() -> None:
        async for _chunk in backend.generate(request(max_tokens=2000)):
            first_chunk.set()

    task = asyncio.create_task(consume())
    await first_chunk.wait()
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # the stream's cleanup waits for the worker thread
    elapsed = time.monotonic() - started
    print(f"\nworker stopped {elapsed * 1000:.1f} ms after cancellation")
    assert elapsed < 0.5


@pytest.mark.model
@needs_llama_cpp
async def test_cancelling_during_prompt_evaluation_aborts_llama_decode(
    backend: EmbeddedBackend,
) -> None:
    expected = text_of(await collect(backend, request()))
    task = asyncio.create_task(collect(backend, request(prompt=LONG_PROMPT, max_tokens=8)))
    await asyncio.sleep(0.1)
    if task.done():
        pytest.skip("this machine evaluated the long prompt before it could be cancelled")
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    elapsed = time.monotonic() - started
    print(f"\nprompt evaluation aborted {elapsed * 1000:.1f} ms after cancellation")
    assert elapsed < 0.5
    assert text_of(await collect(backend, request())) == expected  # the context is sound


@pytest.mark.model
@needs_llama_cpp
async def test_a_cancelled_waiting_request_never_runs_and_blocks_no_one(
    backend: EmbeddedBackend,
) -> None:
    running = backend.generate(request(max_tokens=2000))
    await anext(running)
    waiting = asyncio.create_task(collect(backend, request()))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # queued behind the running generation
    started = time.monotonic()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert time.monotonic() - started < 0.1
    assert not (await anext(running)).done  # the running one carries on
    await running.aclose()


@pytest.mark.model
@needs_llama_cpp
async def test_the_model_loads_once_and_nothing_is_printed(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import llama_cpp

    real = llama_cpp.Llama
    loads: list[str] = []

    def counting_llama(**kwargs: object) -> object:
        loads.append(str(kwargs["model_path"]))
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(llama_cpp, "Llama", counting_llama)
    made = EmbeddedBackend()
    try:
        together = await asyncio.gather(*(collect(made, request(max_tokens=4)) for _ in range(2)))
        later = await collect(made, request(max_tokens=4))
    finally:
        await made.aclose()
    assert len(loads) == 1
    assert all(text_of(chunks) == text_of(later) for chunks in together)
    assert made.load_seconds is not None and made.load_seconds > 0
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # llama.cpp's chatter went to logging, not the LSP channel


@pytest.mark.model
@needs_llama_cpp
async def test_chat_streams_an_answer(backend: EmbeddedBackend) -> None:
    chunks = [
        chunk
        async for chunk in backend.chat(
            DEFAULT_EMBEDDED_MODEL, HELLO, num_ctx=4096, max_tokens=12, temperature=0.0
        )
    ]
    assert "".join(chunk.content for chunk in chunks).strip()
    assert chunks[-1].done and chunks[-1].prompt_eval_count
    assert not any(chunk.done for chunk in chunks[:-1])


@pytest.mark.model
@needs_llama_cpp
async def test_show_describes_a_prefix_only_model_and_its_usable_context(
    backend: EmbeddedBackend,
) -> None:
    shown = await backend.show(DEFAULT_EMBEDDED_MODEL)
    assert shown["model_info"]["general.architecture"] == "gemma3"
    detection = detect_family(shown)
    assert detection.family == "plain" and not detection.supports_fim
    assert context_length(shown) == 4096  # n_ctx caps the trained 32768
    assert await backend.list_models() == [DEFAULT_EMBEDDED_MODEL]


@pytest.mark.model
@needs_llama_cpp
async def test_the_prompt_reading_speed_is_measured_at_load_and_leaves_nothing_behind(
    backend: EmbeddedBackend,
) -> None:
    shown = await backend.show(DEFAULT_EMBEDDED_MODEL)
    speed = shown["prefill_tokens_per_second"]
    print(f"reads {speed:.0f} prompt tokens/s")
    # Gemma 3 270M reads hundreds of tokens a second on one laptop core, thousands on a GPU.
    assert 20 < speed < 1_000_000
    assert backend.describe()["prefillTokensPerSecond"] == round(speed)
    # The measurement's tokens are not taken for the start of the next prompt.
    chunks = await collect(backend, request())
    fresh = EmbeddedBackend(reuse_prompt=False)
    try:
        assert text_of(await collect(fresh, request())) == text_of(chunks)
    finally:
        await fresh.aclose()


@pytest.mark.model
@needs_llama_cpp
async def test_a_prompt_longer_than_the_context_is_refused() -> None:
    made = EmbeddedBackend(n_ctx=512)
    try:
        with pytest.raises(BackendError) as raised:
            await collect(made, request(prompt=LONG_PROMPT))
    finally:
        await made.aclose()
    assert raised.value.kind is ProblemKind.CONTEXT_EXCEEDED
    assert "512" in raised.value.message


@pytest.mark.model
@needs_llama_cpp
async def test_closing_the_backend_ends_a_stream_with_a_classified_error(
    backend: EmbeddedBackend,
) -> None:
    stream = backend.generate(request(max_tokens=2000))
    await anext(stream)
    await backend.aclose()
    with pytest.raises(BackendError) as raised:
        async for _chunk in stream:
            pass
    assert raised.value.kind is ProblemKind.STREAM_DROPPED


# -- no model needed ------------------------------------------------------------------


@needs_llama_cpp
def test_gemma_chat_template_merges_the_system_message_into_the_first_turn() -> None:
    assert _apply_builtin_template("gemma", HELLO) == (
        "<start_of_turn>user\nAnswer in one word.\n\nWhat is the capital of France?"
        "<end_of_turn>\n<start_of_turn>model\n"
    )


@needs_llama_cpp
async def test_a_missing_model_file_is_classified(tmp_path: Path) -> None:
    made = EmbeddedBackend(f"{tmp_path}/absent.gguf")
    try:
        assert made.model_name == "absent"
        assert await made.list_models() == []
        with pytest.raises(BackendError) as raised:
            await collect(made, request(model="absent"))
    finally:
        await made.aclose()
    assert raised.value.kind is ProblemKind.MODEL_MISSING
    assert "absent.gguf" in raised.value.message


async def test_a_model_it_does_not_serve_is_missing() -> None:
    made = EmbeddedBackend()
    with pytest.raises(BackendError) as raised:
        await collect(made, request(model="qwen2.5-coder:1.5b"))
    assert raised.value.kind is ProblemKind.MODEL_MISSING
    assert DEFAULT_EMBEDDED_MODEL in raised.value.message


async def test_chat_with_tools_is_unsupported() -> None:
    made = EmbeddedBackend()
    tool = {"type": "function", "function": {"name": "remember", "parameters": {}}}
    with pytest.raises(BackendError) as raised:
        async for _chunk in made.chat(DEFAULT_EMBEDDED_MODEL, HELLO, num_ctx=4096, tools=[tool]):
            pass
    assert raised.value.kind is ProblemKind.UNSUPPORTED


async def test_without_llama_cpp_every_call_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    assert not embedded_available()
    made = EmbeddedBackend()
    calls = {
        "list_models": made.list_models(),
        "show": made.show(DEFAULT_EMBEDDED_MODEL),
        "warm_up": made.warm_up(DEFAULT_EMBEDDED_MODEL, 4096),
        "generate": collect(made, request()),
    }
    for name, call in calls.items():
        with pytest.raises(BackendError) as raised:
            await call
        assert raised.value.kind is ProblemKind.UNREACHABLE, name
        assert INSTALL_HINT in raised.value.message, name
    await made.aclose()


@pytest.mark.model
@needs_llama_cpp
@pytest.mark.parametrize(
    ("bundled", "follows"),
    [
        pytest.param(DEFAULT_EMBEDDED_MODEL, False, id="gemma-base"),
        pytest.param(DEFAULT_INSTRUCT_MODEL, True, id="smollm2-instruct"),
    ],
)
async def test_each_built_in_model_says_whether_it_follows_instructions(
    bundled: str, follows: bool
) -> None:
    made = EmbeddedModels([EmbeddedBackend(n_ctx=512, bundled=bundled)])
    try:
        assert await made.list_models() == [bundled]
        capabilities = detect_capabilities(await made.show(bundled))
    finally:
        await made.aclose()
    assert capabilities.follows_instructions is follows, capabilities.reason


@pytest.mark.model
@needs_llama_cpp
async def test_the_instruct_model_answers_a_chat_in_its_own_template() -> None:
    made = EmbeddedModels([EmbeddedBackend(n_ctx=1024, bundled=DEFAULT_INSTRUCT_MODEL)])
    try:
        chunks = [
            chunk
            async for chunk in made.chat(
                DEFAULT_INSTRUCT_MODEL, HELLO, num_ctx=1024, max_tokens=16, temperature=0.0
            )
        ]
    finally:
        await made.aclose()
    answer = "".join(chunk.content for chunk in chunks)
    print(f"\nSmolLM2-135M-Instruct says: {answer!r}")
    assert "Paris" in answer  # what this tiny model really answers, at temperature 0
    assert "<|im_start|>" not in answer and "Answer in one word" not in answer


@pytest.mark.parametrize(
    ("pieces", "shown", "cut"),
    [
        pytest.param(
            ["The add function adds two numbers together.\n", "It returns the sum.\n"],
            "The add function adds two numbers together.\nIt returns the sum.\n",
            False,
            id="no-repeat",
        ),
        pytest.param(
            [
                "The add function adds two numbers together.\n",
                "More.\n",
                "The add function ",
                "adds two numbers together.\n",
                "And so on.\n",
            ],
            "The add function adds two numbers together.\nMore.\n",
            True,
            id="a-repeated-line-stops-it-unshown",
        ),
        pytest.param(
            ["```python\n", "x = 1\n", "```\n", "```python\n", "y = 2\n", "```\n"],
            "```python\nx = 1\n```\n```python\ny = 2\n```\n",
            False,
            id="short-lines-may-repeat",
        ),
        pytest.param(
            ["The add function adds two numbers together.\n", "The add function is pure.\n"],
            "The add function adds two numbers together.\nThe add function is pure.\n",
            False,
            id="a-shared-start-is-shown-once-it-differs",
        ),
    ],
)
def test_repeated_lines_end_a_chat_answer(pieces: list[str], shown: str, cut: bool) -> None:
    """What a looping small model's answer shows, fed as a generation feeds it."""
    repeats = _RepeatedLines()
    text = bytearray()
    visible = 0
    stopped = False
    for piece in pieces:
        text += piece.encode()
        at = repeats.check(text)
        if at is not None:
            del text[at:]
            stopped = True
            break
        visible = max(visible, repeats.hold_from(text))
    if stopped:
        visible = len(text)
    assert bytes(text[:visible]).decode() == shown and stopped is cut


@needs_llama_cpp
@pytest.mark.parametrize(
    "bundled",
    [
        pytest.param(DEFAULT_EMBEDDED_MODEL, id="base"),
        pytest.param(DEFAULT_INSTRUCT_MODEL, id="instruct"),
    ],
)
async def test_a_corrupt_model_file_is_one_clear_error_and_the_next_request_tries_again(
    tmp_path: Path, bundled: str
) -> None:
    corrupt = tmp_path / "broken.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x00" * 64)  # a header and nothing a loader can read
    made = EmbeddedModels([EmbeddedBackend(str(corrupt), n_ctx=512, bundled=bundled)])
    try:
        for _ in range(2):  # a failed load is not cached: a fixed file would be read
            with pytest.raises(BackendError) as raised:
                await made.show("broken")
            assert raised.value.kind is ProblemKind.SERVER_ERROR
            assert raised.value.message == (
                f"llama.cpp could not load {corrupt}: is it a GGUF model this llama.cpp supports?"
            )
    finally:
        await made.aclose()


# -- token healing ----------------------------------------------------------------------

VOCABULARY = [
    b"",  # 0: a control token (no text)
    b"se",  # 1
    b"self",  # 2
    b"sel",  # 3
    b" ",  # 4
    b" name",  # 5
    b"\n",  # 6
    b"    ",  # 7
    b"for",  # 8
    b"..",  # 9
    b"...",  # 10
    b"s",  # 11
    b"\xff",  # 12
    b"\xff\xfe",  # 13
    b"    return",  # 14
    b":\n",  # 15
    b"bre",  # 16
    b"a",  # 17
    b"break",  # 18
    b"breath",  # 19
    b"re",  # 20
    b"sbreak",  # 21
    b"resbreak",  # 22
]


@pytest.mark.parametrize(
    ("tokens", "kept", "healed", "first"),
    [
        pytest.param([8, 4, 1], [8, 4], b"se", [1, 2, 3], id="a-word-begun"),
        pytest.param([6, 7, 8, 4], [6, 7, 8], b" ", [4, 5, 7, 14], id="a-space-after-a-word"),
        pytest.param([8, 9], [8], b"..", [9, 10], id="punctuation-begun"),
        pytest.param([8, 16, 17], [8], b"brea", [18, 19], id="a-word-split-in-two"),
        pytest.param([8, 4, 16, 17], [8, 4], b"brea", [18, 19], id="not-past-what-no-token-covers"),
        pytest.param([8, 20, 11, 16, 17], [8, 20], b"sbrea", [21], id="nor-past-the-third-token"),
        pytest.param([8, 6], [8, 6], b"", None, id="a-line-break-is-not-healed"),
        pytest.param([8, 15], [8, 15], b"", None, id="nor-a-token-ending-a-line"),
        pytest.param([8, 6, 7], [8, 6, 7], b"", None, id="nor-indentation-after-a-line-break"),
        pytest.param([8, 0], [8, 0], b"", None, id="nor-a-control-token"),
        pytest.param([1], [1], b"", None, id="nor-a-prompt-of-one-token"),
        pytest.param([0, 4], [0, 4], b"", None, id="nor-whitespace-after-a-control-token"),
    ],
)
def test_token_healing_takes_the_last_token_off_a_prompt_ending_inside_a_word(
    tokens: list[int], kept: list[int], healed: bytes, first: list[int] | None
) -> None:
    prompt = _heal(tokens, _Vocabulary(VOCABULARY))
    assert prompt.tokens == kept
    assert prompt.healed == healed
    assert (None if prompt.first_tokens is None else sorted(prompt.first_tokens)) == first


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        pytest.param(b"se", [1, 2, 3], id="a-word"),
        pytest.param(b"s", [1, 2, 3, 11, 21], id="one-letter"),
        pytest.param(b" ", [4, 5, 7, 14], id="a-space"),
        pytest.param(b"    ", [7, 14], id="indentation"),
        pytest.param(b"\xff", [12, 13], id="the-last-byte"),
        pytest.param(b"x", [], id="none"),
    ],
)
def test_the_vocabulary_finds_the_tokens_starting_with_a_text(
    text: bytes, tokens: list[int]
) -> None:
    assert sorted(_Vocabulary(VOCABULARY).starting_with(text)) == tokens


def test_the_first_token_is_restricted_and_the_rest_are_not() -> None:
    import numpy as np

    (restrict,) = _first_token_among([1, 3])
    scores = np.arange(5, dtype=np.single)
    first = restrict(np.array([0]), scores.copy())
    assert list(first[[1, 3]]) == [1.0, 3.0]
    assert np.isneginf(first[[0, 2, 4]]).all()
    assert list(restrict(np.array([0, 1]), scores.copy())) == list(scores)


@pytest.mark.model
@needs_llama_cpp
@pytest.mark.parametrize(
    ("prompt", "starts"),
    [
        # Unhealed, the model answers "(n - 1) + fibo(n -", " = self.items.pop()" and
        # "1 in range(len(values)):": it takes the prompt's last token as a whole word.
        pytest.param(
            "def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    return fibo",
            r"nacci\(n - 1\)",
            id="inside-a-name",
        ),
        pytest.param(
            "class Stack:\n    def __init__(self):\n        self.items = []\n\n"
            "    def push(self, item):\n        se",
            r"lf\.items\.append\(item\)",
            id="inside-self",
        ),
        pytest.param(
            "def total(values):\n    result = 0\n    for ",
            r"[A-Za-z_]\w* in ",
            id="after-a-space",
        ),
    ],
)
async def test_a_prompt_ending_inside_a_word_is_completed_from_inside_it(
    backend: EmbeddedBackend, prompt: str, starts: str
) -> None:
    chunks = await collect(backend, request(prompt=prompt, max_tokens=12))
    assert re.match(starts, text_of(chunks)), text_of(chunks)
    # the token taken off the prompt is counted as read, the answer's first as generated
    assert chunks[-1].prompt_eval_count == len(
        (await backend._model()).tokenize(prompt.encode(), special=True)
    )
