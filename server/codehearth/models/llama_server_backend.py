"""llama.cpp's own server (``llama-server``): completions through its ``/infill`` route.

Chat, discovery and warm-up are the OpenAI-compatible API's (:class:`OpenAIBackend`). A
completion that comes with its FIM parts (``GenerateRequest.fim``) goes to ``/infill``
instead, where the server lays out the FIM prompt with the model's own FIM tokens (and
its repository-level tokens for the context snippets) whatever the model family is. The
request follows llama.cpp's editor plugins (llama.vim, llama.vscode):

* ``input_prefix`` is the text before the cursor's line and ``prompt`` the part of that
  line before the cursor, so the prefix stays the same while the user types along a line
  and ``cache_prompt`` reuses what the server already evaluated;
* ``input_suffix`` is the text after the cursor, ``input_extra`` the workspace context as
  ``{"filename", "text"}`` chunks;
* ``n_indent`` is the indentation of the cursor's line: a generated line indented less ends
  the completion; ``t_max_predict_ms`` ends a long answer at a line break after that time.

The answer streams as server-sent events whose JSON has ``content`` and ``stop`` (the last
one, ``stop: true``, has the token counts), with no ``[DONE]``. A model without FIM tokens
(the server answers 501 "Infill is not supported by this model"), or a server without
``/infill`` (404), gets the rendered prompt through ``/completions`` from then on.
Sources: llama.cpp ``tools/server/server-context.cpp`` (``post_infill``,
``handle_completions_impl``), ``tools/server/README.md`` (``/infill``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.ollama_backend import GenerateChunk, GenerateRequest
from codehearth.models.openai_backend import OpenAIBackend, count_field
from codehearth.prompts.fim import FimRequest

INFILL_PATH = "/infill"
INFILL_PREDICT_MS = 1000
"""``t_max_predict_ms``: llama.vim's default."""
NO_INFILL_KINDS = frozenset({ProblemKind.UNSUPPORTED, ProblemKind.MODEL_MISSING})


class LlamaServerBackend(OpenAIBackend):
    """A ``llama-server`` endpoint. Create inside the running event loop; ``aclose`` at
    shutdown."""

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._without_infill: set[str] = set()

    async def generate(self, request: GenerateRequest) -> AsyncGenerator[GenerateChunk, None]:
        """Stream a completion from ``/infill`` when the request has its FIM parts, else
        (or for a model without FIM tokens) the rendered prompt from ``/completions``.
        Raises BackendError; cancelling the consumer closes the stream."""
        if request.fim is not None and request.model not in self._without_infill:
            answered = False
            try:
                async with contextlib.aclosing(self._infill(request, request.fim)) as chunks:
                    async for chunk in chunks:
                        answered = True
                        yield chunk
                return
            except BackendError as error:
                # 501: a model without FIM tokens; 404: a server without /infill
                if answered or error.kind not in NO_INFILL_KINDS:
                    raise
                self._without_infill.add(request.model)
        async with contextlib.aclosing(super().generate(request)) as chunks:
            async for chunk in chunks:
                yield chunk

    def forget_model(self, model: str) -> None:
        super().forget_model(model)
        self._without_infill.discard(model)

    async def _infill(
        self, request: GenerateRequest, fim: FimRequest
    ) -> AsyncGenerator[GenerateChunk, None]:
        final: Mapping[str, Any] | None = None
        events = self._events(
            f"{self._root}{INFILL_PATH}",
            infill_body(request, fim),
            request.model,
            done_marker=False,
        )
        async with contextlib.aclosing(events) as payloads:
            async for payload in payloads:
                text = payload.get("content")
                if text:
                    yield GenerateChunk(text=self._expect(str, text, request.model))
                if payload.get("stop") is True:
                    final = payload
        if final is None:
            raise self._scrubbed(
                BackendError(
                    ProblemKind.STREAM_DROPPED,
                    f"{self.host} ended the answer from {request.model} early (no last "
                    "chunk); check the server's log",
                    f"stream from {INFILL_PATH} ended without stop: true",
                )
            )
        yield GenerateChunk(
            text="",
            done=True,
            prompt_eval_count=count_field(final, "tokens_evaluated"),
            eval_count=count_field(final, "tokens_predicted"),
        )


def infill_body(request: GenerateRequest, fim: FimRequest) -> dict[str, Any]:
    """The ``/infill`` request for a completion (see the module docstring)."""
    line = fim.prefix.rpartition("\n")[2]
    body: dict[str, Any] = {
        "model": request.model,  # read only by a server in router mode
        "input_prefix": fim.prefix[: len(fim.prefix) - len(line)],
        "prompt": line,
        "input_suffix": fim.suffix,
        "input_extra": [{"filename": s.path, "text": s.text} for s in fim.context],
        "n_predict": request.max_tokens,
        "temperature": request.temperature,
        "n_indent": len(line) - len(line.lstrip(" \t")),
        "t_max_predict_ms": INFILL_PREDICT_MS,
        "cache_prompt": True,
        "stream": True,
    }
    if request.stop:
        body["stop"] = list(request.stop)
    if request.seed is not None:
        body["seed"] = request.seed
    return body


__all__ = ["LlamaServerBackend", "infill_body"]
