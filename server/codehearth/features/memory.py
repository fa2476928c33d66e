"""Memory commands (``workspace/executeCommand``): ``codehearth.memory.show``, ``.add``,
``.search``, ``.forget``, ``.export`` and ``.import``.

Arguments are attrs classes, so pygls structures the client's JSON into them and answers
``-32602`` with the reason when they do not fit. The store is opened off the event loop
after ``initialized`` (with Ollama embeddings for hybrid search when the embedding model is
pulled); every call runs in a worker thread. When the store cannot be used, at open or
later (a full disk), the user is told once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import ollama

from codehearth.memory import commands
from codehearth.memory.commands import AddArgs, ForgetArgs, ImportArgs, SearchArgs
from codehearth.memory.search import EmbedTask, embedding_input
from codehearth.memory.store import MemoryStore
from codehearth.models.errors import BackendError
from codehearth.models.pool import model_is_listed
from codehearth.models.redact import redact_secrets
from codehearth.server import CodeHearthServer

UNAVAILABLE = {"available": False, "problem": "memory is not open yet"}
EMBED_TIMEOUT_SECONDS = 10.0


async def _on_store(
    ls: CodeHearthServer, operation: Callable[..., dict[str, Any]], *args: Any
) -> dict[str, Any]:
    """Run a memory operation in a worker thread, or say the store is not open yet."""
    store = ls.memory
    if store is None:
        return UNAVAILABLE
    return await asyncio.to_thread(operation, store, *args)


def register(server: CodeHearthServer) -> None:
    @server.command("codehearth.memory.show")
    async def show(ls: CodeHearthServer) -> dict[str, Any]:
        return await _on_store(ls, commands.show)

    @server.command("codehearth.memory.add")
    async def add(ls: CodeHearthServer, args: AddArgs) -> dict[str, Any]:
        return await _on_store(ls, commands.add, args)

    @server.command("codehearth.memory.search")
    async def search(ls: CodeHearthServer, args: SearchArgs) -> dict[str, Any]:
        return await _on_store(ls, commands.search, args)

    @server.command("codehearth.memory.forget")
    async def forget(ls: CodeHearthServer, args: ForgetArgs) -> dict[str, Any]:
        return await _on_store(ls, commands.forget, args)

    @server.command("codehearth.memory.export")
    async def export(ls: CodeHearthServer) -> dict[str, Any]:
        return await _on_store(ls, commands.export)

    @server.command("codehearth.memory.import")
    async def import_(ls: CodeHearthServer, args: ImportArgs) -> dict[str, Any]:
        return await _on_store(ls, commands.import_, args)


async def open_memory(ls: CodeHearthServer) -> None:
    """Open the user's memory store for this workspace (off the loop); warn once if it
    had to be repaired or cannot be used."""
    if ls.workspace_root is None:
        return
    embed = await _embedder(ls)
    store = await asyncio.to_thread(MemoryStore.for_workspace, ls.workspace_root, embed=embed)
    ls.memory_opened(store)
    for warning in store.warnings:
        ls.warn_once(f"memory: {warning}")
    if store.problem:
        ls.warn_once(f"memory is switched off: {store.problem}")
    loop = asyncio.get_running_loop()

    def switched_off(problem: str) -> None:  # in the worker thread whose write failed
        loop.call_soon_threadsafe(ls.warn_once, f"memory is switched off: {problem}")

    store.on_switch_off = switched_off


async def _embedder(
    ls: CodeHearthServer,
) -> Callable[[list[str], EmbedTask], list[list[float]]] | None:
    """Embeddings through the ``embed`` role's Ollama endpoint (``/api/embed``) when its
    model is pulled there, each text as the model expects it for its task."""
    choices = ls.role_backend("embed").choices() if ls.settings.memory.embed_model else []
    if not choices:
        return None
    choice = choices[0]
    try:
        installed = await choice.backend.list_models()
    except BackendError:
        return None
    if not model_is_listed(choice.model, installed):
        ls.log_info(f"memory search uses BM25 only (pull {choice.model} for hybrid search)")
        return None
    endpoint = choice.candidate.endpoint
    client = ollama.Client(host=endpoint.url, timeout=EMBED_TIMEOUT_SECONDS)
    client._client.headers.pop("authorization", None)  # never send OLLAMA_API_KEY
    keep_alive = choice.backend.keep_alive

    def embed(texts: list[str], task: EmbedTask) -> list[list[float]]:
        sent = [  # a vector never comes back
            redact_secrets(embedding_input(choice.model, text, task))[0] for text in texts
        ]
        response = client.embed(model=choice.model, input=sent, keep_alive=keep_alive)
        return [list(vector) for vector in response.embeddings]

    ls.log_info(f"memory search is hybrid: BM25 and {choice.label} embeddings")
    return embed
