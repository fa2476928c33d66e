"""The inline completion pipeline, independent of the LSP layer.

``CompletionEngine.complete(query)`` turns a cursor in a document into suggestions:

1. tree-sitter decides whether a completion makes sense here and whether it may span
   several lines (no request at all mid-identifier or before other text);
2. a generation the user is typing along (in flight or finished) answers at once;
3. otherwise any other stream for the document is cancelled, the request waits out the
   adaptive debounce (automatic triggers only; a newer request supersedes it), and a new
   generation streams from the model the router picks for the ``completion`` role, with
   a FIM prompt in that model family's template, inside the prompt token budget (a
   fallback model gets the prompt re-rendered in its own template);
4. the raw text goes through the output filters (which know whether the generation
   stopped at its token limit, and parse the suggestion in place with tree-sitter).

Backend failures never raise out of ``complete``: they are reported once through the
``report`` callback and the answer is empty. Cancelling the calling task stops waiting; a
stream nobody waits for is cancelled after a short grace period (long enough for the next
keystroke's request to adopt it), which closes its HTTP connection.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from codehearth.completion.cursor import analyse_cursor
from codehearth.completion.debounce import AdaptiveDebounce
from codehearth.completion.filters import FilterContext, apply_filters
from codehearth.completion.generations import Anchor, Generation, GenerationStore
from codehearth.languages import LanguageRegistry
from codehearth.models.backend import ModelBackend
from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.ollama_backend import GenerateRequest, OllamaBackend
from codehearth.models.pool import Choice, RoleBackend
from codehearth.prompts.budget import (
    BudgetSplit,
    ContextWatch,
    EstimatingCounter,
    prompt_limit,
    split_budget,
)
from codehearth.prompts.family import FamilyDetection, context_length, detect_family
from codehearth.prompts.fim import ContextSnippet, FimRequest, FimTemplate, get_template
from codehearth.settings import CompletionSettings

log = logging.getLogger(__name__)

ORPHAN_GRACE_SECONDS = 0.25
"""How long a stream nobody waits for may live, for the next keystroke to adopt it."""

ALTERNATIVE_TEMPERATURE = 0.8
"""Sampling temperature for the extra alternatives of an invoked completion."""

_LINE_BREAK = re.compile("[\r\n]")


@attrs.frozen
class CompletionQuery:
    """A cursor in a document, in server units (code points)."""

    uri: str
    version: int | None
    text: str
    offset: int
    line: int
    column: int
    language_id: str
    invoked: bool = False
    file_path: str | None = None
    repo_name: str | None = None

    def accepting(self, start: int, end: int, item: str) -> CompletionQuery | None:
        """This query as if the completion item selected in the editor's suggest widget
        were accepted: ``item`` replaces columns ``start`` to ``end`` of the cursor line
        (a range holding the cursor) and the cursor follows it. None when the range misses
        the cursor or runs past the end of the line, or ``item`` spans lines."""
        line_start = self.offset - self.column
        line_break = _LINE_BREAK.search(self.text, self.offset)
        line_end = line_break.start() if line_break else len(self.text)
        if not 0 <= start <= self.column <= end or line_start + end > line_end:
            return None
        if _LINE_BREAK.search(item):
            return None
        column = start + len(item)
        return attrs.evolve(
            self,
            text=self.text[: line_start + start] + item + self.text[line_start + end :],
            offset=line_start + column,
            column=column,
        )


@attrs.frozen
class Suggestion:
    text: str
    multiline: bool


@attrs.frozen
class ModelProfile:
    """What the engine needs to know about a model to prompt it."""

    model: str
    detection: FamilyDetection
    template: FimTemplate
    context_length: int | None = None
    """The model's trained context (from /api/show); num_ctx never exceeds it."""
    prompt_tokens: int | None = None
    """The route's cap on the prompt for this model (see router.Candidate)."""
    prefill_tokens_per_second: float | None = None
    """How fast the model reads a prompt, where its backend measured it (the built-in
    models do, once loaded); the prompt is sized by it."""


Reporter = Callable[[BackendError], None]

ContextProvider = Callable[[CompletionQuery, BudgetSplit], tuple[ContextSnippet, ...]]
"""Workspace context for a query, within ``split.context_tokens`` (see index.context)."""
STICKY_CONTEXT_LINES = 30
"""How far from where its context was chosen the cursor may move and keep that context."""
FRESH_PROMPT_SHARE = 4
"""Where the model's prefill speed is known, a whole prompt read from scratch (after a jump
to another place) may take at most this many times ``completion.promptMilliseconds``."""

PostProcessor = Callable[[str, str], str]
"""(suggestion, language id) -> suggestion in the user's style (see style.profile)."""


async def detect_model_family(
    backend: ModelBackend, model: str, show: Mapping[str, Any], override: str | None = None
) -> FamilyDetection:
    """The FIM family of ``model`` from its ``/api/show``; when that leaves it prefix-only,
    an Ollama model's vocabulary is asked too (a verbose ``/api/show``, cached by the
    backend). Raises BackendError."""
    detection = detect_family(show, override=override)
    if override is None and not detection.supports_fim and isinstance(backend, OllamaBackend):
        detection = detect_family(show, vocabulary=await backend.fim_vocabulary(model))
    return detection


class CompletionEngine:
    """Owns generations, debounce and model profiles; one per server."""

    def __init__(
        self,
        backend: RoleBackend,
        settings: CompletionSettings,
        registry: LanguageRegistry,
        report: Reporter,
        context_provider: ContextProvider | None = None,
        postprocess: PostProcessor | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.registry = registry
        self.report = report
        self.context_provider = context_provider
        self._typing_context: tuple[tuple[str, int], tuple[ContextSnippet, ...]] | None = None
        """The context of where the user types: (uri, line it was chosen at), snippets."""
        self._typing_window: tuple[str, int] | None = None
        """The last prompt's window on the file typed in: (uri, offset its prefix starts)."""
        self.postprocess = postprocess
        self.counter = EstimatingCounter()
        self.context_watch = ContextWatch()
        self.debounce = AdaptiveDebounce(settings.debounce_min_ms, settings.debounce_max_ms)
        self.generations = GenerationStore(settings.cache_size)
        self.stats = EngineStats()
        self._profiles: dict[tuple[str, str, str | None], ModelProfile] = {}
        self._waiting: dict[str, asyncio.Event] = {}
        self._alternatives: set[asyncio.Task[None]] = set()

    # -- configuration ---------------------------------------------------------------

    def configure(self, settings: CompletionSettings, backend: RoleBackend | None = None) -> None:
        """Apply new settings (and possibly new routes); cached answers are dropped."""
        self.settings = settings
        self.debounce.configure(settings.debounce_min_ms, settings.debounce_max_ms)
        if backend is not None and backend is not self.backend:
            self.backend = backend
            self._profiles.clear()
        self._profiles = {key: p for key, p in self._profiles.items() if key[2] == settings.family}
        self.generations.resize(settings.cache_size)

    def fingerprint(self) -> tuple[object, ...]:
        """Settings that change what the model would say; part of every cache key."""
        s = self.settings
        return (
            self.backend.host,
            s.model,
            s.family,
            s.num_ctx,
            s.max_tokens,
            s.temperature,
            s.prompt_tokens,
            s.prefix_share,
            s.suffix_share,
        )

    async def profile(self, choice: Choice) -> ModelProfile:
        """Family and template of a completion model (``/api/show``, cached). A family
        set on the model's endpoint, else the ``family`` setting, overrides detection."""
        family = choice.candidate.family or self.settings.family
        key = (choice.candidate.endpoint.url, choice.model, self.settings.family)
        cached = self._profiles.get(key)
        if cached is not None:
            return cached
        show = {} if family else await choice.backend.show(choice.model)
        detection = await detect_model_family(choice.backend, choice.model, show, family)
        profile = ModelProfile(
            model=choice.model,
            detection=detection,
            template=get_template(detection.family),
            context_length=min(
                (n for n in (context_length(show), choice.candidate.context_length) if n),
                default=None,
            ),
            prompt_tokens=choice.candidate.prompt_tokens,
            prefill_tokens_per_second=_positive(show.get("prefill_tokens_per_second")),
        )
        log.info("completion model %s: %s (%s)", profile.model, detection.family, detection.reason)
        self._profiles[key] = profile
        return profile

    # -- document events -------------------------------------------------------------

    def document_changed(self, uri: str, text: str) -> None:
        """A keystroke: feed the debounce; cancel streams the new text contradicts."""
        self.debounce.note_keystroke(uri)
        for generation in self.generations.in_flight(uri):
            if not _still_typing_along(generation, text):
                generation.cancel()

    def document_closed(self, uri: str) -> None:
        self.debounce.forget(uri)
        self.generations.forget_document(uri)
        # Opened again, the document is a new place to type in: its context is found afresh.
        if self._typing_context is not None and self._typing_context[0][0] == uri:
            self._typing_context = None
        if self._typing_window is not None and self._typing_window[0] == uri:
            self._typing_window = None
        waiting = self._waiting.pop(uri, None)
        if waiting is not None:
            waiting.set()

    async def aclose(self) -> None:
        """Cancel every stream and alternative (at shutdown)."""
        tasks = [*self.generations.cancel_all(), *self._alternatives]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the pipeline ----------------------------------------------------------------

    async def complete(
        self, query: CompletionQuery, still_current: Callable[[], bool] = lambda: True
    ) -> list[Suggestion]:
        """Suggestions at the cursor; ``still_current`` says whether the document is
        unchanged since the query (checked before extra work is started)."""
        if not self.settings.enabled:
            return []
        decision = analyse_cursor(
            self.registry, query.language_id, query.text, query.line, query.column
        )
        if not decision.should_request:
            self.stats.skipped += 1
            log.debug("no completion at %s:%s: %s", query.line, query.column, decision.reason)
            return []
        multiline = decision.multiline and self.settings.multiline
        anchor = Anchor.at(query.uri, query.text, query.offset, self.fingerprint())

        texts: list[tuple[str, bool]] = []
        found = self.generations.find(anchor, multiline=multiline)
        if found is not None:
            generation, typed = found
            self.stats.reused += 1
            text = await self._await_text(generation, typed)
            if text is not None:
                texts.append((text, generation.truncated))
            elif generation.error is not None:
                return []  # already reported; do not hammer a failing backend

        if not texts:
            for stale in self.generations.in_flight(query.uri):
                stale.cancel()
            if not query.invoked and not await self._debounce(query, anchor.line_prefix):
                return []
            if not still_current():
                return []
        if not texts:
            generation = self._start(query, anchor, multiline)
            text = await self._await_text(generation, "")
            if text is None:
                return []
            texts.append((text, generation.truncated))
        if query.invoked and self.settings.invoked_items > 1 and still_current():
            texts.extend(await self._alternatives_for(query, anchor, multiline))
        return await self._suggestions(query, multiline, texts)

    async def _debounce(self, query: CompletionQuery, line_prefix: str) -> bool:
        """Wait out the debounce; False when a newer request for the document arrived."""
        previous = self._waiting.pop(query.uri, None)
        if previous is not None:
            previous.set()
        superseded = asyncio.Event()
        self._waiting[query.uri] = superseded
        try:
            await asyncio.wait_for(superseded.wait(), self.debounce.delay(query.uri, line_prefix))
        except TimeoutError:
            return True
        finally:
            if self._waiting.get(query.uri) is superseded:
                del self._waiting[query.uri]
        self.stats.debounced += 1
        return False

    def _start(self, query: CompletionQuery, anchor: Anchor, multiline: bool) -> Generation:
        for stale in self.generations.oldest_in_flight(self.settings.max_streams):
            stale.cancel()  # the user moved on to another document: keep the newest
            self.stats.capped += 1
        generation = Generation(anchor=anchor, multiline=multiline)
        generation.task = asyncio.create_task(
            self._stream(generation, query), name=f"generation {query.uri}"
        )
        self.generations.add(generation)
        self.stats.generations += 1
        return generation

    def _request(
        self,
        query: CompletionQuery,
        profile: ModelProfile,
        multiline: bool,
        *,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> GenerateRequest:
        s = self.settings
        num_ctx = min(s.num_ctx, profile.context_length or s.num_ctx)
        budget = min(
            s.prompt_tokens,
            profile.prompt_tokens or s.prompt_tokens,
            max(64, prompt_limit(num_ctx, s.max_tokens)),
        )
        moved_limit = None
        if profile.prefill_tokens_per_second and s.prompt_milliseconds > 0:
            # What the model reads in promptMilliseconds: the most a moved window may hold.
            moved_limit = max(
                16, int(profile.prefill_tokens_per_second * s.prompt_milliseconds / 1000)
            )
            budget = min(budget, max(64, moved_limit * FRESH_PROMPT_SHARE))
        window = self._typing_window
        split = split_budget(
            query.text[: query.offset],
            query.text[query.offset :],
            self.counter,
            budget=budget,
            prefix_share=s.prefix_share,
            suffix_share=s.suffix_share,
            window_start=window[1] if window is not None and window[0] == query.uri else None,
            moved_limit=moved_limit,
        )
        self._typing_window = (query.uri, split.prefix_start)
        spec = self.registry.by_id(query.language_id)
        context: tuple[ContextSnippet, ...] = ()
        if self.context_provider is not None and split.context_tokens > 0:
            context = self._context_for(query, split)
        fim = FimRequest(
            prefix=split.prefix,
            suffix=split.suffix,
            file_path=query.file_path,
            repo_name=query.repo_name,
            context=context,
            comment_prefix=spec.line_comment if spec is not None else "#",
        )
        return GenerateRequest(
            model=profile.model,
            prompt=profile.template.render(fim),
            num_ctx=num_ctx,
            max_tokens=s.max_tokens if multiline else min(s.max_tokens, 64),
            temperature=s.temperature if temperature is None else temperature,
            stop=profile.template.stop,
            seed=seed,
            fim=fim,
        )

    def _context_for(
        self, query: CompletionQuery, split: BudgetSplit
    ) -> tuple[ContextSnippet, ...]:
        """The workspace context for ``query``: while the user types on in one place (the
        same document, within :data:`STICKY_CONTEXT_LINES` of where it was chosen), the
        context chosen there, as long as it fits (the prompt then starts the same way, and a
        model server's prompt cache reads only what changed); else found afresh."""
        assert self.context_provider is not None
        kept = self._typing_context
        if kept is not None:
            (uri, line), snippets = kept
            if uri == query.uri and abs(line - query.line) <= STICKY_CONTEXT_LINES:
                size = sum(self.counter.count(snippet.text) for snippet in snippets)
                if size <= split.context_tokens:
                    return snippets
        context = self.context_provider(query, split)
        self._typing_context = ((query.uri, query.line), context)
        return context

    async def _stream(
        self,
        generation: Generation,
        query: CompletionQuery,
        *,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> None:
        started = time.monotonic()
        error: BackendError | None = None
        sent: list[GenerateRequest] = []

        async def render(choice: Choice) -> GenerateRequest:
            profile = await self.profile(choice)
            request = self._request(
                query, profile, generation.multiline, temperature=temperature, seed=seed
            )
            sent.append(request)
            return request

        s = self.settings
        first_text_at: float | None = None
        try:
            # The pool bounds the answer (completion.deadlineSeconds, once the model is in
            # memory) and a model's load (models.loadSeconds) separately.
            async with contextlib.aclosing(
                self.backend.stream(render, s.prompt_tokens, s.max_tokens)
            ) as chunks:
                async for chunk in chunks:
                    if chunk.text and first_text_at is None:
                        first_text_at = time.monotonic()
                    generation.append(chunk.text)
                    if chunk.done and chunk.prompt_eval_count:
                        self.counter.calibrate(len(sent[-1].prompt), chunk.prompt_eval_count)
                        self.context_watch.check(
                            sent[-1].model, sent[-1].num_ctx, chunk.prompt_eval_count
                        )
                    if chunk.done and chunk.eval_count is not None:
                        generation.truncated = chunk.eval_count >= sent[-1].max_tokens
                    if not generation.multiline and _has_complete_line(generation.text):
                        break  # single-line: the rest would be thrown away
                    if (
                        s.predict_milliseconds > 0
                        and first_text_at is not None
                        and time.monotonic() - first_text_at >= s.predict_milliseconds / 1000
                        and _has_complete_line(generation.text)
                    ):
                        # Long enough: offer the complete lines now (the last one is cut).
                        generation.truncated = True
                        self.stats.time_capped += 1
                        break
        except BackendError as failure:
            error = failure
        except asyncio.CancelledError:
            self.stats.cancelled_streams += 1
            self.generations.discard(generation)
            generation.finish(cancelled=True)
            raise
        elapsed = time.monotonic() - started
        self.stats.backend_ms.append(elapsed * 1000)
        if error is not None:
            self.stats.failures += 1
            self.generations.discard(generation)
            if error.kind is ProblemKind.MODEL_MISSING:
                # Removed since we looked: detect its family afresh once it is back.
                self._profiles.clear()
            self.report(error)
        else:
            self.debounce.note_latency(elapsed)
        generation.finish(error)

    async def _await_text(self, generation: Generation, typed: str) -> str | None:
        """The generation's text after ``typed``, once finished; None if it failed or diverged."""
        generation.subscribers += 1
        try:
            await generation.done.wait()
        finally:
            generation.subscribers -= 1
            if generation.subscribers == 0 and not generation.finished:
                asyncio.get_running_loop().call_later(
                    ORPHAN_GRACE_SECONDS, _cancel_if_orphaned, generation
                )
        if generation.error is not None or generation.cancelled:
            return None
        if not generation.text.startswith(typed):
            return None
        return generation.text[len(typed) :]

    async def _alternatives_for(
        self, query: CompletionQuery, anchor: Anchor, multiline: bool
    ) -> list[tuple[str, bool]]:
        """Extra samples for an invoked completion, generated one after another, each
        with whether it stopped at its token limit."""
        texts: list[tuple[str, bool]] = []
        for index in range(1, self.settings.invoked_items):
            alternative = attrs.evolve(
                anchor, fingerprint=(anchor.fingerprint, "alternative", index)
            )
            generation = Generation(anchor=alternative, multiline=multiline)
            task = asyncio.create_task(
                self._stream(generation, query, temperature=ALTERNATIVE_TEMPERATURE, seed=index)
            )
            self._alternatives.add(task)
            task.add_done_callback(self._alternatives.discard)
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                task.cancel()
                raise
            if generation.error is not None:
                break
            texts.append((generation.text, generation.truncated))
        return texts

    async def _suggestions(
        self, query: CompletionQuery, multiline: bool, texts: list[tuple[str, bool]]
    ) -> list[Suggestion]:
        prefix = query.text[: query.offset]
        suffix = query.text[query.offset :]
        context = FilterContext(
            prefix=prefix,
            suffix=suffix,
            multiline=multiline,
            language_id=query.language_id,
            indent_unit=_indent_unit(prefix),
            registry=self.registry,
        )
        suggestions: list[Suggestion] = []
        for text, truncated in texts:
            filtered = apply_filters(text, attrs.evolve(context, truncated=truncated))
            if filtered and self.postprocess is not None:
                filtered = self.postprocess(filtered, query.language_id)
            if filtered and filtered not in (s.text for s in suggestions):
                suggestions.append(Suggestion(text=filtered, multiline="\n" in filtered))
        return suggestions


RECENT_LATENCIES = 64
"""How many backend call durations the stats keep."""


@attrs.define
class EngineStats:
    """Counters for the status command, benchmarks and tests."""

    generations: int = 0
    reused: int = 0
    skipped: int = 0
    debounced: int = 0
    cancelled_streams: int = 0
    capped: int = 0
    """Streams stopped to keep at most ``maxStreams`` open across documents."""
    time_capped: int = 0
    """Multi-line suggestions stopped at ``predictMilliseconds``."""
    failures: int = 0
    backend_ms: collections.deque[float] = attrs.field(
        factory=lambda: collections.deque(maxlen=RECENT_LATENCIES)
    )

    def as_dict(self) -> dict[str, object]:
        return {
            "generations": self.generations,
            "reused": self.reused,
            "skipped": self.skipped,
            "debounced": self.debounced,
            "cancelledStreams": self.cancelled_streams,
            "cappedStreams": self.capped,
            "timeCappedStreams": self.time_capped,
            "failures": self.failures,
            "recentBackendMs": [round(ms, 3) for ms in self.backend_ms],
        }


def _positive(value: object) -> float | None:
    """``value`` if it is a positive number (a measured speed), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _has_complete_line(text: str) -> bool:
    stripped = text.lstrip("\r\n")
    return "\n" in stripped and bool(stripped.split("\n", 1)[0].strip())


def _still_typing_along(generation: Generation, text: str) -> bool:
    """Is the new document text the anchor's text plus characters the model agrees with?"""
    anchor = generation.anchor
    line_end = anchor.head_length + len(anchor.line_prefix)
    suffix_start = len(text) - anchor.suffix_length
    if suffix_start < line_end:
        return False
    typed = text[line_end:suffix_start]
    return (
        "\n" not in typed
        and text[anchor.head_length : line_end] == anchor.line_prefix
        and hash(text[suffix_start:]) == anchor.suffix_hash
        and hash(text[: anchor.head_length]) == anchor.head_hash
        and generation.agrees_with(typed)
    )


def _cancel_if_orphaned(generation: Generation) -> None:
    if generation.subscribers == 0 and not generation.finished:
        generation.cancel()


def _indent_unit(prefix: str) -> str:
    """The document's indent unit, guessed from the indented lines before the cursor."""
    tab_lines = space_lines = 0
    widths: list[int] = []
    for line in prefix.splitlines()[-400:]:
        if line.startswith("\t"):
            tab_lines += 1
        elif line.startswith(" ") and line.strip():
            space_lines += 1
            widths.append(len(line) - len(line.lstrip(" ")))
    if tab_lines > space_lines:
        return "\t"
    for unit in (2, 4, 8):
        if widths and all(w % unit == 0 for w in widths) and min(widths) == unit:
            return " " * unit
    return "    "


def relative_path(path: str | None, root: str | None) -> str | None:
    """``path`` relative to ``root`` when inside it (for prompt file headers), else its name."""
    if path is None:
        return None
    if root:
        prefix = root.rstrip("/\\") + os.sep
        if path.startswith(prefix):
            return path[len(prefix) :].replace(os.sep, "/")
    return os.path.basename(path)
