"""The CodeHearth language server: one ``CodeHearthServer`` holding typed services.

``create_server()`` builds the server and registers every feature module. Services bound
to the event loop (the model pool with its HTTP clients and embedded model, the completion
engine) are created in ``initialized`` and closed at ``shutdown``; nothing is created at
import time. Features reach models through :meth:`CodeHearthServer.role_backend`, which
routes each job (completion, edit, chat, embed) across the configured endpoints.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from codehearth import __version__
from codehearth.completion.engine import CompletionEngine, CompletionQuery
from codehearth.completion.outcomes import SuggestionOutcomes
from codehearth.converter import converter
from codehearth.feedback import ProblemNotifier
from codehearth.index.compress import as_context_snippets
from codehearth.index.context import ContextRequest, recent_positions, workspace_context
from codehearth.index.workspace_index import WorkspaceIndex
from codehearth.languages import LanguageRegistry
from codehearth.logs import configure_logging
from codehearth.memory.store import MemoryStore
from codehearth.models.errors import BackendError, model_missing
from codehearth.models.factory import build_pool
from codehearth.models.pool import ModelPool, RoleBackend, describe_candidate
from codehearth.models.router import Candidate
from codehearth.prompts.budget import BudgetSplit
from codehearth.prompts.fim import ContextSnippet
from codehearth.settings import Settings, build_settings, read_toml_settings
from codehearth.style.profile import WorkspaceStyle, apply_to_completion
from codehearth.style.rules import load_rules

if TYPE_CHECKING:
    from codehearth.features.diagnostics import SyntaxDiagnostics
    from codehearth.features.indexing import IndexUpdates
    from codehearth.features.settings_file import SettingsFile
    from codehearth.refine.actions import ActionOutcome
    from codehearth.refine.runs import ActionRuns

log = logging.getLogger(__name__)

SETTINGS_SECTION = "codehearth"
SERVER_ERROR_WINDOW_SECONDS = 30.0
READY_TIMEOUT_SECONDS = 10.0


class CodeHearthServer(LanguageServer):
    """The language server and the services its features share."""

    def __init__(self, log_level: str | None = None, log_file: str | None = None) -> None:
        super().__init__(
            "codehearth",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            converter_factory=converter,
        )
        self.registry = LanguageRegistry.load()
        self.log_flags = (log_level, log_file)  # --log-level, --log-file: under the settings
        self.settings = Settings()
        self.initialization_options: dict[str, Any] = {}
        self.client_settings: dict[str, Any] = {}
        self.settings_problems: list[str] = []
        """What reading the settings and building the model pool warned of (for doctor)."""
        self.workspace_root: Path | None = None
        self.models: ModelPool | None = None
        self.engine: CompletionEngine | None = None
        self.index: WorkspaceIndex | None = None
        self.style: WorkspaceStyle | None = None
        self.memory: MemoryStore | None = None
        self.outcomes = SuggestionOutcomes(self._record_suggestion)
        self.recent_edits: collections.deque[tuple[str, int]] = collections.deque(maxlen=64)
        self.index_updates: IndexUpdates  # set by features.indexing.register
        self.syntax_diagnostics: SyntaxDiagnostics  # set by features.documents.register
        self.settings_file: SettingsFile  # set by features.settings_file.register
        self.action_runs: ActionRuns[ActionOutcome]  # set by features.code_actions.register
        self.notifier = ProblemNotifier(show=self._show_warning, log=self._log_warning)
        self.server_errors = ProblemNotifier(
            show=self._show_error,
            log=self._log_warning,
            window_seconds=SERVER_ERROR_WINDOW_SECONDS,
        )
        self._warned: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ready: asyncio.Event | None = None
        self._memory_opened: asyncio.Event | None = None
        self._loads_shown: dict[str, asyncio.Event] = {}

    # -- user feedback ---------------------------------------------------------------

    def _show_warning(self, message: str) -> None:
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=message)
        )

    def _show_error(self, message: str) -> None:
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Error, message=message)
        )

    def _log_warning(self, message: str) -> None:
        log.warning("%s", message)
        self.window_log_message(
            types.LogMessageParams(type=types.MessageType.Warning, message=message)
        )

    def log_info(self, message: str) -> None:
        log.info("%s", message)
        self.window_log_message(
            types.LogMessageParams(type=types.MessageType.Info, message=message)
        )

    def warn_once(self, message: str) -> None:
        """Log a configuration warning once per server lifetime."""
        if message in self._warned:
            return
        self._warned.add(message)
        self._log_warning(message)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Errors outside a request: logged, shown at most once per kind per 30 s, no trace.
        (A failed request has already been answered with its error: no popup for it.)"""
        if getattr(source, "__name__", "") == "FeatureRequestError":
            log.info("request failed: %s", error)
            return
        log.error("internal error (%s): %s", getattr(source, "__name__", source), error)
        self.server_errors.notify(f"internal error: {type(error).__name__}; see the server log")

    async def begin_progress(
        self, job: str, title: str, *, cancellable: bool = False, percentage: int | None = None
    ) -> str | None:
        """Begin a ``$/progress`` item for a ``job`` (named in its token); the token, or
        None when the client cannot show progress or refuses the token (progress is a
        courtesy: the work goes on)."""
        window = self.client_capabilities.window
        if window is None or not window.work_done_progress:
            return None
        token = f"codehearth-{job}-{uuid.uuid4().hex[:8]}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception as error:
            log.info("client refused progress: %s", error)
            return None
        self.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=title, cancellable=cancellable, percentage=percentage
            ),
        )
        return token

    def model_loading(self, label: str, started: bool) -> None:
        """A model server loads a model: one progress item for the whole load ("loading
        qwen2.5-coder:7b…"), not a stream of timeouts."""
        if started:
            loaded = self._loads_shown[label] = asyncio.Event()
            self.spawn(self._show_load(label, loaded), "model load progress")
        elif label in self._loads_shown:
            self._loads_shown.pop(label).set()

    async def _show_load(self, label: str, loaded: asyncio.Event) -> None:
        started = time.monotonic()
        self.log_info(f"loading {label}…")
        token = await self.begin_progress("load", f"CodeHearth: loading {label}…")
        await loaded.wait()
        if token is not None:
            self.work_done_progress.end(
                token,
                types.WorkDoneProgressEnd(message=f"{time.monotonic() - started:.1f} s"),
            )

    # -- background work -------------------------------------------------------------

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run a background task that is cancelled at shutdown and never fails silently."""
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    # -- settings --------------------------------------------------------------------

    async def fetch_client_settings(self) -> None:
        """Pull the ``codehearth`` section through workspace/configuration, if supported."""
        capabilities = self.client_capabilities.workspace
        if capabilities is None or not capabilities.configuration:
            return
        try:
            values = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SETTINGS_SECTION)])
            )
        except Exception as error:  # a client bug must not stop the server
            self.warn_once(f"workspace/configuration failed: {error}")
            return
        first = values[0] if values else None
        self.client_settings = first if isinstance(first, dict) else {}

    def rebuild_settings(self) -> Settings:
        """Merge the sources into a new Settings tree and apply it to the services."""
        toml_values, toml_warnings = read_toml_settings(self.workspace_root)
        loaded = build_settings(self.initialization_options, self.client_settings, toml_values)
        self.settings_problems = [*toml_warnings, *loaded.warnings]
        for warning in self.settings_problems:
            self.warn_once(warning)
        syntax_before = self.settings.diagnostics.syntax
        self.settings = loaded.settings
        if self.settings.diagnostics.syntax != syntax_before:
            documents = self.workspace.text_documents.values()
            self.syntax_diagnostics.refresh([document.uri for document in documents])
        flag_level, flag_file = self.log_flags
        logging_settings = self.settings.logging
        configure_logging(logging_settings.level or flag_level, logging_settings.file or flag_file)
        if self.models is not None:
            self._rebuild_models(self.settings)
        return self.settings

    def _rebuild_models(self, settings: Settings) -> ModelPool:
        """A model pool for these settings; endpoints that did not change keep their
        backend (and an embedded model stays loaded)."""
        built = build_pool(
            settings, self.models, notify=self.log_info, on_loading=self.model_loading
        )
        for warning in built.warnings:
            self.warn_once(warning)
        self.settings_problems.extend(built.warnings)
        for backend in built.unused:
            self.spawn(backend.aclose(), "close unused backend")
        self.models = built.pool
        if self.engine is not None:
            self.engine.configure(settings.completion, built.pool.role("completion"))
        return built.pool

    def answered_model(self, role: str) -> str:
        """The name of the model that answered the role's last request ("" before any)."""
        candidate = self.models.answered.get(role) if self.models is not None else None
        return candidate.model if candidate is not None else ""

    def answered_by(self, role: str) -> str:
        """Which model answered the role's last request (for replies and the status)."""
        candidate = self.models.answered.get(role) if self.models is not None else None
        return describe_candidate(candidate) if candidate is not None else ""

    def open_document(self, uri: str) -> TextDocument | None:
        """The editor's buffer for ``uri`` while it is open, else None. pygls keys its
        documents by the percent-decoded URI, while clients send them encoded (a space,
        non-ASCII names, VS Code's ``file:///c%3A/`` on Windows), so a raw ``uri in
        workspace.text_documents`` misses them."""
        return self.workspace.text_documents.get(unquote(uri))

    def role_backend(self, role: str) -> RoleBackend:
        """The routed backend for a job: ``completion``, ``edit``, ``chat`` or ``embed``."""
        if self.models is None:
            self.models = self._rebuild_models(self.settings)
        return self.models.role(role)

    # -- lifecycle -------------------------------------------------------------------

    async def watch_files(self, registration_id: str, glob: str) -> bool:
        """Ask the client to send ``workspace/didChangeWatchedFiles`` for ``glob``, when it
        supports dynamic registration; whether it agreed (a refusal is only logged)."""
        workspace = self.client_capabilities.workspace
        watched = workspace.did_change_watched_files if workspace else None
        if watched is None or not watched.dynamic_registration:
            return False
        registration = types.Registration(
            id=registration_id,
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(
                watchers=[types.FileSystemWatcher(glob_pattern=glob)]
            ),
        )
        try:
            await self.client_register_capability_async(
                types.RegistrationParams(registrations=[registration])
            )
        except Exception as error:  # e.g. a client bug; saves still reach us
            log.info("client refused the %s watcher: %s", glob, error)
            return False
        return True

    def _ready_event(self) -> asyncio.Event:
        if self._ready is None:
            self._ready = asyncio.Event()  # created lazily: it must bind the running loop
        return self._ready

    async def wait_ready(self) -> bool:
        """Wait until ``initialized`` has set up the services (requests may race it)."""
        if self._ready is not None and self._ready.is_set():
            return True
        try:
            await asyncio.wait_for(self._ready_event().wait(), READY_TIMEOUT_SECONDS)
        except TimeoutError:
            return False
        return True

    def _memory_event(self) -> asyncio.Event:
        if self._memory_opened is None:
            self._memory_opened = asyncio.Event()  # created lazily: it must bind the running loop
        return self._memory_opened

    def memory_opened(self, store: MemoryStore) -> None:
        """The user's memory store is open (``features.memory`` opens it after start)."""
        self.memory = store
        self._memory_event().set()

    async def wait_for_memory(self, seconds: float) -> MemoryStore | None:
        """The memory store, waiting up to ``seconds`` for it to open just after start."""
        if self.memory is None:
            try:
                await asyncio.wait_for(self._memory_event().wait(), seconds)
            except TimeoutError:
                pass
        return self.memory

    async def start_services(self) -> None:
        """Create loop-bound services (called from ``initialized``)."""
        try:
            await self._start_services()
        finally:
            self._ready_event().set()

    async def _start_services(self) -> None:
        await self.fetch_client_settings()
        settings = self.rebuild_settings()
        pool = self._rebuild_models(settings)
        self.engine = CompletionEngine(
            pool.role("completion"),
            settings.completion,
            self.registry,
            self.notifier.report,
            context_provider=self.completion_context,
            postprocess=self.in_user_style,
        )
        routes = ", ".join(
            f"{role}: {' > '.join(c.model + '@' + c.endpoint.url for c in candidates)}"
            for role, candidates in pool.router.roles.items()
        )
        self.log_info(f"CodeHearth {__version__}; models by role: {routes or '(none)'}")
        if settings.ollama.warm_up and settings.completion.enabled:
            self.spawn(self.warm_up(), "warm-up")

    def _record_suggestion(self, uri: str, text: str, accepted: bool) -> None:
        """Keep a suggestion's fate in recall memory (off the loop)."""
        memory = self.memory
        if memory is not None:
            self.spawn(
                asyncio.to_thread(memory.add_suggestion, uri, text, accepted), "recall suggestion"
            )

    def note_edit(self, uri: str, line: int) -> None:
        """Remember where the user edits (retrieval ranks code near recent edits higher)."""
        path = to_fs_path(uri)
        if path is not None:
            self.recent_edits.append((path, line))

    def completion_context(
        self, query: CompletionQuery, split: BudgetSplit
    ) -> tuple[ContextSnippet, ...]:
        """Workspace context for a completion prompt (empty until the index is built)."""
        index = self.index
        path = to_fs_path(query.uri)
        if index is None or not index.ready or self.engine is None or path is None:
            return ()
        request = ContextRequest(
            path=path,
            language_id=query.language_id,
            text=query.text,
            offset=query.offset,
            prefix_chars=len(split.prefix),
            suffix_chars=len(split.suffix),
            budget=min(split.context_tokens, self.settings.index.context_tokens),
            recent=recent_positions(self.recent_edits),
        )
        try:
            packed = workspace_context(index, self.registry, self.engine.counter, request)
        except Exception:  # context is an aid: a retrieval bug must not cost the completion
            log.exception("workspace context failed")
            return ()
        return as_context_snippets(packed)

    async def user_rules(self) -> str:
        """The user's rules (``~/.config/codehearth/rules.md`` and the workspace's
        ``.codehearth/rules.md``, cleaned and capped) for an action or chat prompt, read
        off the loop each time so edits apply at once; problems are logged once."""
        rules = await asyncio.to_thread(load_rules, self.workspace_root)
        for warning in rules.warnings:
            self.warn_once(f"rules: {warning}")
        return (
            f"The user's rules for this project (follow them):\n{rules.text}" if rules.text else ""
        )

    def in_user_style(self, suggestion: str, language_id: str) -> str:
        """Indentation and quotes of a suggestion as the user writes them (FIM prompts
        cannot take instructions, so the style is applied afterwards)."""
        style = self.style
        if style is None or not self.settings.style.enabled:
            return suggestion
        return apply_to_completion(suggestion, style, language_id)

    async def warm_up(self) -> None:
        """Discover each endpoint's models and load the completion model once, so the
        first suggestion is not a cold start and a missing model is reported at once."""
        engine, pool = self.engine, self.models
        if engine is None or pool is None:
            return
        found = await pool.discover()
        primary = engine.backend.primary
        for endpoint, listed in found.items():
            if isinstance(listed, list):
                self.log_info(f"models at {endpoint.url}: {', '.join(listed) or '(none)'}")
            elif primary is not None and endpoint == primary.endpoint:
                self._report_with_fallback(engine.backend, primary, listed)
        if primary is not None and pool.router.is_missing(primary):
            self._report_with_fallback(engine.backend, primary, model_missing(primary.model))
        try:
            choice = await engine.backend.warm_up()
            if choice is None:
                return
            await engine.profile(choice)
            self.log_info(f"completion model {choice.label} is loaded")
        except BackendError as error:
            self.notifier.report(error)

    def _report_with_fallback(
        self, backend: RoleBackend, primary: Candidate, problem: BackendError
    ) -> None:
        """A problem with a role's own model: a popup when nothing else can answer, else
        one log line naming the model that answers meanwhile."""
        others = [c for c in backend.choices() if c.candidate.endpoint != primary.endpoint]
        if others:
            self.log_info(f"{problem.message}; meanwhile {others[0].label} answers")
        else:
            self.notifier.report(problem)

    async def stop_services(self) -> None:
        """Cancel our tasks and close clients (called from ``shutdown``)."""
        self.index_updates.cancel_all()
        self.syntax_diagnostics.cancel_all()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.engine is not None:
            await self.engine.aclose()
        if self.models is not None:
            await self.models.aclose()
        if self.memory is not None:
            await asyncio.to_thread(self.memory.close)
        await asyncio.to_thread(self.index_updates.style_keeper.close)
        if self.index is not None:
            await asyncio.to_thread(self.index.flush)
            if self.index.store is not None:
                self.index.store.close()

    def set_workspace_root(self, params: types.InitializeParams) -> None:
        folders = params.workspace_folders or []
        uri = folders[0].uri if folders else params.root_uri
        path = to_fs_path(uri) if uri else None
        if path is None and params.root_path:
            path = params.root_path
        self.workspace_root = Path(path) if path else None


class DocumentTimers:
    """At most one pending delayed job per document: scheduling again replaces it. The job
    runs as a background task of the server (cancelled at shutdown), after the document's
    previous job has finished: two jobs of one document never overlap, so an older
    version's slow job cannot finish last and overwrite a newer one's result."""

    def __init__(self, spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]]) -> None:
        self._spawn = spawn
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._running: dict[str, asyncio.Task[Any]] = {}

    def schedule(
        self,
        uri: str,
        delay: float,
        job: Callable[[], Coroutine[Any, Any, Any]],
        name: str,
    ) -> None:
        previous = self._pending.pop(uri, None)
        if previous is not None:
            previous.cancel()
        self._pending[uri] = asyncio.get_running_loop().call_later(delay, self._run, uri, job, name)

    def _run(self, uri: str, job: Callable[[], Coroutine[Any, Any, Any]], name: str) -> None:
        self._pending.pop(uri, None)
        previous = self._running.get(uri)

        async def after_previous() -> None:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            await job()

        task = self._spawn(after_previous(), name)
        self._running[uri] = task
        task.add_done_callback(lambda done: self._forget(uri, done))

    def _forget(self, uri: str, task: asyncio.Task[Any]) -> None:
        if self._running.get(uri) is task:
            del self._running[uri]

    def cancel(self, uri: str) -> None:
        """Drop the document's pending job (one already running goes on)."""
        handle = self._pending.pop(uri, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()


def client_range(
    document: TextDocument,
    lines: Sequence[str],
    start_line: int,
    start_char: int,
    end_line: int,
    end_char: int,
) -> types.Range:
    """A range in code points (how the domain packages count) in the client's units;
    ``lines`` is ``document.lines``, which pygls re-splits on each access: pass it once."""
    return document.position_codec.range_to_client_units(
        lines,
        types.Range(
            start=types.Position(line=start_line, character=start_char),
            end=types.Position(line=end_line, character=end_char),
        ),
    )


def create_server(log_level: str | None = None, log_file: str | None = None) -> CodeHearthServer:
    """Build a server with every feature module registered; ``log_level`` and ``log_file``
    (the command line's) apply where the ``logging`` settings leave them unset."""
    from codehearth.features import (
        chat,
        code_actions,
        commands,
        documents,
        evaluation,
        indexing,
        inline_completion,
        lifecycle,
        memory,
        settings_file,
        style,
    )

    server = CodeHearthServer(log_level, log_file)
    lifecycle.register(server)
    settings_file.register(server)
    memory.register(server)
    chat.register(server)
    code_actions.register(server)
    commands.register(server)
    indexing.register(server)
    documents.register(server)
    inline_completion.register(server)
    evaluation.register(server)
    style.register(server)
    return server
