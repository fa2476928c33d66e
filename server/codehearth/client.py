"""A scripted LSP client that runs ``codehearth serve`` as a subprocess.

Used by ``codehearth complete``, ``codehearth demo`` and the benchmarks, so they exercise
exactly the pipeline an editor does: initialize, open, edit and close documents, ask for inline
completions, code actions (and take them as an editor does) and commands, collect
diagnostics, progress and the edits the server sends, shut down.
The server's stderr is drained into a file (or discarded) so it can never block.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Union

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from codehearth import __version__

CHAT_CHUNK_NOTIFICATION = "codehearth/chatChunk"
"""Pieces of a chat answer as the model writes them (see features/chat.py)."""

INLINE_CLIENT_CAPABILITIES = types.ClientCapabilities(
    text_document=types.TextDocumentClientCapabilities(
        inline_completion=types.InlineCompletionClientCapabilities(),
        completion=types.CompletionClientCapabilities(),
        synchronization=types.TextDocumentSyncClientCapabilities(),
        publish_diagnostics=types.PublishDiagnosticsClientCapabilities(),
        code_action=types.CodeActionClientCapabilities(
            data_support=True,
            resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]),
            code_action_literal_support=types.ClientCodeActionLiteralOptions(
                code_action_kind=types.ClientCodeActionKindOptions(
                    value_set=[types.CodeActionKind.QuickFix, types.CodeActionKind.Refactor]
                )
            ),
        ),
    ),
    workspace=types.WorkspaceClientCapabilities(
        workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True),
    ),
    window=types.WindowClientCapabilities(work_done_progress=True),
    general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16]),
)


def read_code_actions_as_editors_do(client: LanguageClient) -> None:
    """lsprotocol reads any code action with a ``command`` as a Command (its hook only
    checks that the key exists), losing kind and data; editors tell them apart by the
    command's type, as LSP says. Make ``client`` do the same."""
    converter = client.protocol._converter

    def code_action_or_command(value: Any, _: Any) -> types.Command | types.CodeAction:
        if isinstance(value.get("command"), str):
            return converter.structure(value, types.Command)
        return converter.structure(value, types.CodeAction)

    converter.register_structure_hook(
        Union[types.Command, types.CodeAction],  # noqa: UP007 - the key lsprotocol registered
        code_action_or_command,
    )


class ScriptedClient:
    """Start a server, talk to it, stop it. Use as ``async with``."""

    def __init__(
        self,
        *,
        root: Path,
        initialization_options: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        stderr_path: Path | None = None,
        server_command: list[str] | None = None,
    ) -> None:
        self.root = root
        self.initialization_options = dict(initialization_options or {})
        self.env = dict(env) if env is not None else None
        self.stderr_path = stderr_path
        self.server_command = server_command or [sys.executable, "-m", "codehearth", "serve"]
        self.client = LanguageClient("codehearth-scripted-client", __version__)
        read_code_actions_as_editors_do(self.client)
        self.messages: list[str] = []
        self.log_messages: list[str] = []
        self.progress: list[Any] = []
        self.diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.chat_chunks: list[str] = []
        self.edits_sent: list[types.WorkspaceEdit] = []
        self._diagnostics_changed = asyncio.Event()
        self._drain: asyncio.Task[None] | None = None
        self._versions: dict[str, int] = {}
        self._next_id = 0

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def _show(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def _log(params: types.LogMessageParams) -> None:
            self.log_messages.append(params.message)

        @self.client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def _create_progress(params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @self.client.feature(types.PROGRESS)
        def _progress(params: types.ProgressParams) -> None:
            self.progress.append(params.value)

        @self.client.feature(CHAT_CHUNK_NOTIFICATION)
        def _chat_chunk(params: Any) -> None:
            self.chat_chunks.append(str(getattr(params, "text", "")))

        @self.client.feature(types.WORKSPACE_APPLY_EDIT)
        def _apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            self.edits_sent.append(params.edit)
            return types.ApplyWorkspaceEditResult(
                applied=False, failure_reason="a scripted client shows edits, it applies none"
            )

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = list(params.diagnostics)
            self._diagnostics_changed.set()

    async def __aenter__(self) -> ScriptedClient:
        await self.client.start_io(*self.server_command, env=self.env)
        process = self.client._server
        if process is not None and process.stderr is not None:
            sink = self.stderr_path.open("ab") if self.stderr_path else None
            self._drain = asyncio.create_task(_drain(process.stderr, sink))
        await self.client.initialize_async(
            types.InitializeParams(
                process_id=None,
                root_uri=self.root.as_uri(),
                workspace_folders=[
                    types.WorkspaceFolder(uri=self.root.as_uri(), name=self.root.name)
                ],
                capabilities=INLINE_CLIENT_CAPABILITIES,
                initialization_options=self.initialization_options,
                client_info=types.ClientInfo(name="codehearth-scripted-client"),
            )
        )
        self.client.initialized(types.InitializedParams())
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 5)
            self.client.exit(None)
        except Exception:  # the server may already be gone; stopping is best effort
            pass
        await self.client.stop()
        if self._drain is not None:
            await asyncio.gather(self._drain, return_exceptions=True)

    def open(self, path: Path, text: str, language_id: str) -> str:
        uri = path.resolve().as_uri()
        self._versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language_id, version=1, text=text
                )
            )
        )
        return uri

    def close(self, uri: str) -> None:
        """``textDocument/didClose``."""
        self._versions.pop(uri, None)
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )

    def replace_text(self, uri: str, text: str) -> None:
        """Send the whole new text as one change (used to script typing)."""
        self._versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self._versions[uri]
                ),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def request_inline_completion(
        self, uri: str, line: int, character: int, *, invoked: bool = True
    ) -> tuple[str, asyncio.Future[list[types.InlineCompletionItem]]]:
        """Send the request now; (message id for :meth:`cancel`, future of the items)."""
        self._next_id += 1
        msg_id = f"codehearth-client-{self._next_id}"
        trigger = (
            types.InlineCompletionTriggerKind.Invoked
            if invoked
            else types.InlineCompletionTriggerKind.Automatic
        )
        sent = self.client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION,
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=character),
                context=types.InlineCompletionContext(trigger_kind=trigger),
            ),
            msg_id=msg_id,
        )
        return msg_id, asyncio.ensure_future(_items(sent))

    async def status(self) -> Any:
        """The server's ``codehearth.status`` report."""
        return await self.command("codehearth.status")

    async def command(self, name: str, *arguments: Any) -> Any:
        """``workspace/executeCommand``; the result as plain JSON values."""
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(arguments))
        )

    async def wait_for_diagnostics(self, uri: str, seconds: float) -> list[types.Diagnostic]:
        """The first non-empty diagnostics published for ``uri`` (empty after ``seconds``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.diagnostics.get(uri):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            self._diagnostics_changed.clear()
            try:
                await asyncio.wait_for(self._diagnostics_changed.wait(), remaining)
            except TimeoutError:
                return []
        return self.diagnostics[uri]

    async def code_actions(
        self, uri: str, selection: types.Range, diagnostics: list[types.Diagnostic]
    ) -> list[types.CodeAction]:
        result = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=selection,
                context=types.CodeActionContext(diagnostics=diagnostics),
            )
        )
        return [action for action in result or [] if isinstance(action, types.CodeAction)]

    async def resolve(self, action: types.CodeAction) -> types.CodeAction:
        return await self.client.code_action_resolve_async(action)

    async def take_action(
        self, action: types.CodeAction, seconds: float
    ) -> types.WorkspaceEdit | None:
        """The edit a code action brings, taken as an editor takes it: resolved, and when
        the server hands a run slower than a resolve may wait to a command, that command
        run and the edit the server then sends (``workspace/applyEdit``) awaited; None
        when the run ended without a verified edit or ``seconds`` passed."""
        last = await self._last_trace()
        resolved = await self.resolve(action)
        if resolved.edit is not None or resolved.command is None:
            return resolved.edit
        sent = len(self.edits_sent)
        await self.command(resolved.command.command, *(resolved.command.arguments or []))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            if len(self.edits_sent) > sent:
                return self.edits_sent[-1]
            trace = await self._last_trace()
            if trace != last and not trace.get("offered"):
                return None  # the run is over and offered nothing
            await asyncio.sleep(0.1)
        return None

    async def _last_trace(self) -> dict[str, Any]:
        traces = (await self.command("codehearth.refineTrace", 1)).get("traces") or [{}]
        return dict(traces[-1])

    def cancel(self, msg_id: str) -> None:
        """Send ``$/cancelRequest``, as editors do when the user types on."""
        self.client.cancel_request(types.CancelParams(id=msg_id))

    async def inline_completion(
        self, uri: str, line: int, character: int, *, invoked: bool = True
    ) -> list[types.InlineCompletionItem]:
        _, items = self.request_inline_completion(uri, line, character, invoked=invoked)
        return await items


async def _items(sent: Awaitable[Any]) -> list[types.InlineCompletionItem]:
    result = await sent
    if result is None:
        return []
    if isinstance(result, types.InlineCompletionList):
        return list(result.items)
    return list(result)


async def _drain(stream: asyncio.StreamReader, sink: BinaryIO | None) -> None:
    try:
        while chunk := await stream.read(65536):
            if sink is not None:
                sink.write(chunk)
                sink.flush()
    finally:
        if sink is not None:
            sink.close()


def insert_text(item: types.InlineCompletionItem) -> str:
    text = item.insert_text
    return text if isinstance(text, str) else text.value
