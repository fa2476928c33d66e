"""The ``codehearth`` command: ``serve``, ``complete``, ``eval``, ``doctor`` and more.

* ``codehearth serve`` runs the language server on stdio (``--tcp HOST:PORT`` for TCP on
  loopback, one client).
* ``codehearth complete FILE:LINE:COL`` (1-based) starts the server as a subprocess, opens
  the file and prints the inline completion the server offers: the same pipeline an
  editor gets.
* ``codehearth doctor`` checks each model endpoint, the routing table (which model answers
  each role, and what is skipped and why), the embedded model, grammars and cache directory
  and prints a table with a fix for each problem.
* ``codehearth demo`` runs the main job end to end in a real LSP session over the sample
  workspace: index, style, completion, a verified quick fix, chat, memory across a restart.
* ``codehearth eval PATH`` measures completion quality on a repository's own code: tasks
  built from its lines, run through the server per model (``--model``, repeatable) with no
  workspace context, CodeHearth's and the needed definition given (see
  :mod:`codehearth.evaluation`).
* ``codehearth refine-trace`` prints the last code actions' refine rounds (checks, tokens,
  ms), as the server logged them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codehearth import __version__
from codehearth.logs import configure_logging

if TYPE_CHECKING:
    pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    result: int = args.run(args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codehearth",
        description="Local-first AI language server (completions from your own models).",
    )
    parser.add_argument("--version", action="version", version=f"codehearth {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="listen on TCP instead of stdio and serve the first client that connects "
        "(HOST must be a loopback address; port 0 picks a free one)",
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="with --tcp, allow a HOST that is not loopback (anyone who reaches it can read "
        "your workspace)",
    )
    serve.add_argument(
        "--stdio", action="store_true", help="use stdio (the default; accepted for LSP clients)"
    )
    serve.add_argument(
        "--log-file", help="write the log to this file instead of stderr (logging.file wins)"
    )
    serve.add_argument(
        "--log-level",
        help="DEBUG, INFO, WARNING or ERROR (default: INFO into a log file, WARNING on stderr; "
        "logging.level wins)",
    )
    serve.set_defaults(run=_serve)

    complete = commands.add_parser(
        "complete", help="print the completion offered at FILE:LINE:COL (1-based)"
    )
    complete.add_argument("location", metavar="FILE:LINE:COL")
    complete.add_argument("--language", help="LSP language id (default: from the extension)")
    complete.add_argument("--all", action="store_true", help="print every alternative")
    complete.add_argument("--json", action="store_true", help="print JSON")
    _add_model_flags(complete)
    complete.set_defaults(run=_complete)

    index = commands.add_parser("index", help="index a folder and print what was indexed")
    index.add_argument("path", type=Path)
    index.add_argument("--json", action="store_true", help="print JSON")
    index.add_argument("--no-cache", action="store_true", help="ignore and do not write the cache")
    index.add_argument("--workers", type=int, default=None, help="processes for parsing")
    index.set_defaults(run=_index)

    context = commands.add_parser(
        "context", help="print the workspace context a prompt would carry at a cursor"
    )
    context.add_argument("path", type=Path, help="the workspace folder")
    context.add_argument("--file", type=Path, required=True, help="the file with the cursor")
    context.add_argument("--line", type=int, required=True, help="1-based line")
    context.add_argument("--col", type=int, required=True, help="1-based column")
    context.add_argument("--budget", type=int, default=1024, help="context tokens")
    context.add_argument("--json", action="store_true", help="print JSON")
    context.set_defaults(run=_context)

    style = commands.add_parser("style", help="print the coding style inferred for a folder")
    style.add_argument("path", type=Path)
    style.add_argument("--json", action="store_true", help="print JSON")
    style.add_argument(
        "--hide-configs", action="store_true", help="infer only; ignore formatter configs"
    )
    style.set_defaults(run=_style)

    chat = commands.add_parser("chat", help="ask a question (with this workspace's memory)")
    chat.add_argument("question")
    chat.add_argument("--workspace", type=Path, default=Path.cwd(), help="default: here")
    chat.add_argument("--conversation", default="cli", help="conversation id")
    _add_model_flags(chat)
    chat.set_defaults(run=_chat)

    memory = commands.add_parser("memory", help="show, add, search, forget, export, import")
    memory.add_argument("--workspace", type=Path, default=Path.cwd(), help="default: here")
    actions = memory.add_subparsers(dest="memory_command", metavar="ACTION", required=True)
    actions.add_parser("show", help="core blocks, counts and recent messages")
    add_note = actions.add_parser("add", help="remember a note (archival memory)")
    add_note.add_argument("text")
    add_note.add_argument("--tag", action="append", default=[], help="repeatable")
    find = actions.add_parser("search", help="search notes and past messages")
    find.add_argument("query")
    find.add_argument("--limit", type=int, default=5)
    drop = actions.add_parser("forget", help="forget a note by id")
    drop.add_argument("id")
    dump = actions.add_parser("export", help="write all memory as JSON")
    dump.add_argument("file", nargs="?", type=Path, help="default: stdout")
    load = actions.add_parser("import", help="read memory from an export")
    load.add_argument("file", type=Path)
    memory.set_defaults(run=_memory)

    demo = commands.add_parser(
        "demo", help="index, style, completion, quick fix, chat and memory on a sample workspace"
    )
    demo.add_argument(
        "--workspace", type=Path, help="a copy of this folder is used (default: the sample)"
    )
    _add_model_flags(demo)
    demo.set_defaults(run=_demo)

    evaluate = commands.add_parser(
        "eval",
        help="measure completion quality on a repository's own code, per model and condition",
        description="Build line-completion tasks from the repository at PATH (calls of "
        "symbols defined in other files, cut before the name and after 'name(', and plain "
        "next lines), run them through the server with and without workspace context and "
        "with the needed definition given, and print exact match, edit similarity, "
        "identifier match, empty answers and latency per model and condition.",
    )
    evaluate.add_argument("path", type=Path, help="the repository (workspace) folder")
    evaluate.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="a completion model to measure (repeatable; default: the one the server routes to)",
    )
    evaluate.add_argument("--limit", type=int, default=30, metavar="N", help="tasks (default 30)")
    evaluate.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    evaluate.add_argument(
        "--condition",
        action="append",
        choices=["none", "codehearth", "oracle"],
        help="run only these conditions (repeatable; default: all three)",
    )
    evaluate.add_argument(
        "--language", action="append", metavar="ID", help="only files of these language ids"
    )
    evaluate.add_argument(
        "--results",
        type=Path,
        metavar="FILE",
        help="append each result to FILE as a JSON line; a rerun skips the results there",
    )
    evaluate.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="a JSON file of settings, as an editor sends them (initializationOptions)",
    )
    evaluate.add_argument("--host", help="Ollama URL (default: setting, $OLLAMA_HOST, loopback)")
    evaluate.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for one answer"
    )
    evaluate.add_argument("--by-kind", action="store_true", help="also a table per task kind")
    evaluate.add_argument("--server-log", type=Path, metavar="FILE", help="the servers' stderr")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(run=_eval)

    doctor = commands.add_parser("doctor", help="check models, routes, grammars and cache")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    _add_model_flags(doctor)
    doctor.set_defaults(run=_doctor)

    refine_trace = commands.add_parser(
        "refine-trace", help="show the last code actions' rounds (checks, tokens, ms)"
    )
    refine_trace.add_argument("--last", type=int, default=10, metavar="N", help="default: 10")
    refine_trace.add_argument("--json", action="store_true", help="print JSON")
    refine_trace.set_defaults(run=_refine_trace)
    return parser


def _add_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="Ollama URL (default: setting, $OLLAMA_HOST, loopback)")
    parser.add_argument("--model", help="completion model (default: from settings)")
    parser.add_argument("--family", help="force the FIM template family")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.host:
        overrides.setdefault("ollama", {})["host"] = args.host
    if args.model:
        overrides.setdefault("completion", {})["model"] = args.model
    if args.family:
        overrides.setdefault("completion", {})["family"] = args.family
    return overrides


# -- serve ----------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from codehearth.server import create_server
    from codehearth.transport import NotLoopbackError, serve_stdio, serve_tcp

    configure_logging(args.log_level, args.log_file)
    logging_flags = (args.log_level, args.log_file)
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        if not (port.isascii() and port.isdigit()) or int(port) > 65535:
            print("--tcp expects HOST:PORT, e.g. 127.0.0.1:2087", file=sys.stderr)
            return 2
        try:
            server = create_server(*logging_flags)
            return serve_tcp(server, host, int(port), allow_remote=args.allow_remote)
        except NotLoopbackError as refused:
            print(f"--tcp {args.tcp}: {refused}", file=sys.stderr)
        except OSError as error:
            print(f"--tcp {args.tcp}: cannot listen there ({error.strerror})", file=sys.stderr)
        return 2
    return serve_stdio(create_server(*logging_flags))


# -- complete -------------------------------------------------------------------------


def _parse_location(location: str) -> tuple[Path, int, int]:
    path_text, _, rest = location.rpartition(":")
    path_text, _, line_text = path_text.rpartition(":")
    if not (path_text and line_text.isdigit() and rest.isdigit()):
        raise ValueError(f"expected FILE:LINE:COL (1-based), got {location!r}")
    line, column = int(line_text), int(rest)
    if line < 1 or column < 1:
        raise ValueError("LINE and COL are 1-based")
    return Path(path_text), line - 1, column - 1


def workspace_root_for(path: Path) -> Path:
    """The nearest folder holding .git or codehearth.toml, else the file's folder."""
    for folder in path.resolve().parents:
        if (folder / ".git").exists() or (folder / "codehearth.toml").exists():
            return folder
    return path.resolve().parent


def _complete(args: argparse.Namespace) -> int:
    from codehearth.languages import LanguageRegistry

    try:
        path, line, column = _parse_location(args.location)
        text = path.read_text(encoding="utf-8")
    except (ValueError, OSError, UnicodeDecodeError) as error:
        print(f"codehearth complete: {error}", file=sys.stderr)
        return 2
    lines = text.split("\n")
    if line >= len(lines) or column > len(lines[line]):
        print(
            f"codehearth complete: {path} has no line {line + 1} column {column + 1}",
            file=sys.stderr,
        )
        return 2
    spec = LanguageRegistry.load().by_path(str(path))
    language_id = args.language or (spec.language_id if spec else "plaintext")
    character = len(lines[line][:column].encode("utf-16-le")) // 2
    texts, messages = asyncio.run(
        _complete_through_server(path, text, language_id, line, character, _overrides(args))
    )
    for message in messages:
        print(message, file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {"file": str(path), "line": line + 1, "column": column + 1, "completions": texts},
                indent=2,
            )
        )
    elif texts:
        print("\n---\n".join(texts if args.all else texts[:1]))
    else:
        print("(no completion)", file=sys.stderr)
    return 0 if texts else 1


async def _complete_through_server(
    path: Path,
    text: str,
    language_id: str,
    line: int,
    character: int,
    overrides: dict[str, Any],
) -> tuple[list[str], list[str]]:
    from codehearth.client import ScriptedClient, insert_text
    from codehearth.settings import deep_merge

    options = deep_merge({"ollama": {"warmUp": False}}, overrides)
    async with ScriptedClient(
        root=workspace_root_for(path), initialization_options=options
    ) as session:
        uri = session.open(path, text, language_id)
        items = await session.inline_completion(uri, line, character, invoked=True)
        return [insert_text(item) for item in items], list(session.messages)


# -- index --------------------------------------------------------------------------


def _index(args: argparse.Namespace) -> int:
    root = args.path.resolve()
    if not root.is_dir():
        print(f"codehearth index: {args.path} is not a folder", file=sys.stderr)
        return 2
    index, settings = _open_index(root, use_cache=not args.no_cache)
    report = index.build(workers=args.workers or settings.workers)
    if index.store is not None:
        index.store.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        languages = ", ".join(f"{k} {v}" for k, v in sorted(report.per_language.items()))
        print(
            f"{report.files} files ({languages}), {report.chunks} chunks, "
            f"{report.bytes / 1e6:.1f} MB in {report.seconds:.2f} s "
            f"({report.from_cache} from cache, {report.workers} worker(s))"
        )
        for reason, count in sorted(report.skipped.items()):
            print(f"skipped {count}: {reason}")
    return 0


def _open_index(root: Path, *, use_cache: bool = True) -> tuple[Any, Any]:
    """A built WorkspaceIndex for ``root`` with the workspace's own settings."""
    from codehearth.index.store import IndexStore
    from codehearth.index.workspace_index import WorkspaceIndex
    from codehearth.languages import LanguageRegistry
    from codehearth.settings import build_settings, read_toml_settings

    toml_values, warnings = read_toml_settings(root)
    loaded = build_settings(toml_values)
    for warning in (*warnings, *loaded.warnings):
        print(f"warning: {warning}", file=sys.stderr)
    settings = loaded.settings.index
    store = IndexStore.for_workspace(root) if use_cache else None
    index = WorkspaceIndex(
        root, LanguageRegistry.load(), store, settings.limits(), tuple(settings.exclude)
    )
    return index, settings


def _context(args: argparse.Namespace) -> int:
    from codehearth.index.context import ContextRequest, workspace_context
    from codehearth.prompts.budget import EstimatingCounter, split_budget
    from codehearth.settings import CompletionSettings

    root = args.path.resolve()
    path = args.file.resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"codehearth context: {error}", file=sys.stderr)
        return 2
    lines = text.split("\n")
    if not (1 <= args.line <= len(lines) and 1 <= args.col <= len(lines[args.line - 1]) + 1):
        print(
            f"codehearth context: {path} has no line {args.line} column {args.col}", file=sys.stderr
        )
        return 2
    index, _ = _open_index(root)
    index.build()
    spec = index.registry.by_path(str(path))
    offset = sum(len(line) + 1 for line in lines[: args.line - 1]) + args.col - 1
    defaults = CompletionSettings()
    counter = EstimatingCounter()
    split = split_budget(
        text[:offset],
        text[offset:],
        counter,
        budget=defaults.prompt_tokens,
        prefix_share=defaults.prefix_share,
        suffix_share=defaults.suffix_share,
    )
    packed = workspace_context(
        index,
        index.registry,
        counter,
        ContextRequest(
            path=str(path),
            language_id=spec.language_id if spec else "",
            text=text,
            offset=offset,
            prefix_chars=len(split.prefix),
            suffix_chars=len(split.suffix),
            budget=args.budget,
        ),
    )
    if index.store is not None:
        index.store.close()
    rows = [
        {
            "file": snippet.path,
            "tokens": snippet.tokens,
            "score": round(snippet.score, 4),
            "skeletonized": snippet.skeletonized,
            "chunks": [
                {
                    "symbol": chunk.symbol,
                    "kind": chunk.kind,
                    "range": [chunk.start_line + 1, chunk.end_line + 1],
                }
                for chunk in snippet.chunks
            ],
            "text": snippet.text,
        }
        for snippet in packed
    ]
    if args.json:
        print(json.dumps({"budget": args.budget, "snippets": rows}, indent=2))
    else:
        for row in rows:
            print(
                f"== {row['file']} ({row['tokens']} tokens, score {row['score']}"
                f"{', skeleton' if row['skeletonized'] else ''})"
            )
            print(row["text"])
    return 0


def _style(args: argparse.Namespace) -> int:
    from codehearth.languages import LanguageRegistry
    from codehearth.style.profile import build_profile, render_style_block

    root = args.path.resolve()
    if not root.is_dir():
        print(f"codehearth style: {args.path} is not a folder", file=sys.stderr)
        return 2
    style = build_profile(root, LanguageRegistry.load(), hide_configs=args.hide_configs)
    if args.json:
        print(json.dumps(style.to_json(), indent=2))
        return 0
    for language_id, profile in sorted(style.profiles.items()):
        print(f"== {language_id} ({profile.files} files)")
        for name, attribute in sorted(profile.attributes.items()):
            mark = " " if attribute.confident else "?"
            print(
                f" {mark} {name} = {attribute.value!r}  "
                f"[{attribute.source}, {attribute.evidence} seen, "
                f"confidence {attribute.confidence:.2f}]"
            )
        block = render_style_block(style, language_id)
        if block:
            print("  prompt block:\n    " + block.replace("\n", "\n    "))
    return 0


def _chat(args: argparse.Namespace) -> int:
    return asyncio.run(_chat_async(args))


async def _chat_async(args: argparse.Namespace) -> int:
    from codehearth.chat.pipeline import ChatSession
    from codehearth.memory.store import MemoryStore
    from codehearth.models.capabilities import tool_support
    from codehearth.models.errors import BackendError
    from codehearth.models.factory import build_pool
    from codehearth.models.pool import describe_candidate
    from codehearth.prompts.budget import EstimatingCounter
    from codehearth.settings import build_settings, read_toml_settings

    root = args.workspace.resolve()
    toml_values, _ = read_toml_settings(root)
    overrides = _overrides(args)
    if args.model:  # --model names the chat model here
        overrides = {**overrides, "chat": {"model": args.model}}
    settings = build_settings(toml_values, overrides).settings
    pool = build_pool(settings).pool
    try:
        with MemoryStore.for_workspace(root) as store:
            native, json_tools = tool_support(await pool.role("chat").show())
            session = ChatSession(
                store,
                pool.role("chat"),
                model=settings.chat.model,
                num_ctx=settings.chat.num_ctx,
                conversation_id=args.conversation,
                counter=EstimatingCounter(),
                supports_tools=native,
                json_tools=json_tools,
            )
            answer = await session.ask(
                args.question, on_chunk=lambda text: print(text, end="", flush=True)
            )
            print()
            for outcome in answer.tool_results:
                print(f"[memory] {outcome.name}: {outcome.result.content}", file=sys.stderr)
            answered = pool.answered.get("chat")
            if answered is not None:
                print(f"[answered by {describe_candidate(answered)}]", file=sys.stderr)
    except BackendError as error:
        print(f"codehearth chat: {error.message}", file=sys.stderr)
        return 1
    finally:
        await pool.aclose()
    return 0


def _memory(args: argparse.Namespace) -> int:
    from codehearth.memory import commands as memory
    from codehearth.memory.store import MemoryStore

    try:
        with MemoryStore.for_workspace(args.workspace.resolve()) as store:
            for warning in store.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            action = args.memory_command
            if action == "show":
                result: dict[str, Any] = memory.show(store)
            elif action == "add":
                result = memory.add(store, memory.AddArgs(args.text, args.tag))
            elif action == "search":
                result = memory.search(store, memory.SearchArgs(args.query, args.limit))
            elif action == "forget":
                result = memory.forget(store, memory.ForgetArgs(args.id))
            elif action == "export":
                result = memory.export(store)
                if args.file is not None:
                    args.file.write_text(json.dumps(result, indent=2), encoding="utf-8")
                    result = {"exported": str(args.file)}
            else:
                data = json.loads(args.file.read_text(encoding="utf-8"))
                result = memory.import_(store, memory.ImportArgs(data))
    except (ValueError, OSError) as error:
        print(f"codehearth memory: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str))
    return 0 if result.get("ok", True) else 1


# -- eval -----------------------------------------------------------------------------


def _eval(args: argparse.Namespace) -> int:
    from codehearth.evaluation.command import EvalRequest, run_eval

    options: dict[str, Any] = {}
    if args.settings is not None:
        try:
            options = json.loads(args.settings.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(f"codehearth eval: --settings {args.settings}: {error}", file=sys.stderr)
            return 2
        if not isinstance(options, dict):
            print("codehearth eval: --settings must hold a JSON object", file=sys.stderr)
            return 2
    if args.host:
        options.setdefault("ollama", {})["host"] = args.host
    if not args.path.is_dir():
        print(f"codehearth eval: {args.path} is not a folder", file=sys.stderr)
        return 2
    if args.limit < 1:
        print("codehearth eval: --limit must be at least 1", file=sys.stderr)
        return 2
    return run_eval(
        EvalRequest(
            root=args.path.resolve(),
            models=tuple(dict.fromkeys(args.model)),
            conditions=tuple(dict.fromkeys(args.condition or ())),
            limit=args.limit,
            seed=args.seed,
            languages=tuple(args.language) if args.language else None,
            options=options,
            results=args.results,
            request_seconds=args.timeout,
            server_log=args.server_log,
            by_kind=args.by_kind,
            as_json=args.json,
        )
    )


# -- doctor ---------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from codehearth.demo import run_demo

    return run_demo(args.workspace, initialization_options=_overrides(args))


def _doctor(args: argparse.Namespace) -> int:
    from codehearth import doctor

    rows = asyncio.run(_doctor_rows(_overrides(args)))
    if args.json:
        print(json.dumps(doctor.as_dicts(rows), indent=2))
    else:
        print(doctor.render_table(rows), end="")
    return 1 if doctor.failed(rows) else 0


async def _doctor_rows(overrides: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The checks on the settings from codehearth.toml here and the command line."""
    from codehearth import doctor
    from codehearth.models.factory import build_pool
    from codehearth.settings import build_settings, read_toml_settings

    toml_values, toml_warnings = read_toml_settings(Path.cwd())
    loaded = build_settings(toml_values, overrides)
    built = build_pool(loaded.settings)
    try:
        problems = [*toml_warnings, *loaded.warnings, *built.warnings]
        return await doctor.run_checks(loaded.settings, problems, built.pool)
    finally:
        await built.pool.aclose()


# -- refine-trace ---------------------------------------------------------------------


def _refine_trace(args: argparse.Namespace) -> int:
    from codehearth.refine.trace import TraceLog, render

    if args.last < 1:
        print("codehearth refine-trace: --last must be at least 1", file=sys.stderr)
        return 2
    traces = TraceLog.default()
    found = traces.last(args.last)
    if args.json:
        print(
            json.dumps(
                {"file": str(traces.path), "traces": [trace.to_json() for trace in found]},
                indent=2,
            )
        )
    elif found:
        print("\n\n".join(render(trace) for trace in found))
    else:
        print(f"no code action traces yet (they are kept in {traces.path})", file=sys.stderr)
    return 0
