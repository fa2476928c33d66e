"""What every model backend offers: Ollama, an OpenAI-compatible server, the embedded model.

The completion engine, chat, code actions and memory talk to this protocol only; the
router (:mod:`codehearth.models.pool`) picks which backend and model serve each job.
Every failure is raised as a classified :class:`~codehearth.models.errors.BackendError`;
cancelling the consumer of a stream stops the generation.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Protocol

from codehearth.models.ollama_backend import ChatChunk, GenerateChunk, GenerateRequest


class ModelBackend(Protocol):
    """One endpoint. ``host`` names it in messages and the status (a URL or ``embedded``)."""

    host: str
    keep_alive: str

    async def aclose(self) -> None: ...

    async def list_models(self) -> list[str]:
        """Names of the models this endpoint can serve."""
        ...

    async def show(self, model: str) -> Mapping[str, Any]:
        """Model metadata shaped like Ollama's ``/api/show`` (``template``,
        ``capabilities``, ``model_info`` with ``general.architecture`` and
        ``<arch>.context_length``), which family detection reads."""
        ...

    def forget_model(self, model: str) -> None: ...

    async def warm_up(self, model: str, num_ctx: int) -> None:
        """Load the model so the first real request is not a cold start."""
        ...

    def generate(self, request: GenerateRequest) -> AsyncGenerator[GenerateChunk, None]:
        """Stream a raw (template already applied) generation."""
        ...

    def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        num_ctx: int,
        max_tokens: int = 1024,
        temperature: float = 0.2,
        tools: list[Mapping[str, Any]] | None = None,
        think: bool | None = None,
    ) -> AsyncGenerator[ChatChunk, None]:
        """Stream a chat answer; backends without tool calling raise
        ``BackendError(ProblemKind.UNSUPPORTED)`` when ``tools`` are given. ``think=False``
        asks a model that reasons before it answers not to (None: its default); where the
        API has no such switch it is ignored. Reasoning text is never part of the answer."""
        ...
