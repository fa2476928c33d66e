"""Line-completion tasks built from any repository, in the style of CrossCodeEval.

Every file the index would read (:class:`~codehearth.index.scanner.WorkspaceScanner`: the
ignore files and the secrets deny list apply) is chunked by the index's own chunker and
parsed with its tree-sitter queries, so no language is named here: a language with a
grammar and ``chunks.scm`` / ``tags.scm`` query files (``grammars/``) gets tasks too.

Three kinds of task, each a line inside a function or method body (past its first line):

* ``before_symbol``: the line calls a symbol defined in another file of the repository;
  the cursor is just before the symbol's name (``return self.|invoke(ctx)``);
* ``after_call``: the same calls, the cursor just after ``name(`` (``self.invoke(|ctx)``);
* ``next_line``: any code line (not in a string or comment), the cursor at its
  indentation: a control that needs no other file as often.

A call counts when its name (``name(``, ``module.name(``, ``obj.name(``, ``Type::name(``) is
not defined in the file itself and is defined as a function, method or class in another
file, which the file imports by that name or which is the only file defining it (a member
name defined in several files cannot be told apart without types). Those definitions
(at most :data:`MAX_DEFINITIONS`, a member under its class's header line) are what the
"oracle" condition shows the model. The expected text is the rest of the line, which
must hold a word character (a lone ``)`` is no task), on lines of at most
:data:`MAX_LINE_CHARS` characters.

The sample is deterministic: candidates are sorted, ``--limit`` is shared between the
kinds (a third each, what one kind lacks going to the others) and drawn with
``random.Random(seed)``, and the tasks are run in the order drawn.
"""

from __future__ import annotations

import os
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs
import tree_sitter

from codehearth.index.chunker import chunk_file
from codehearth.index.model import Chunk, FileChunks
from codehearth.index.scanner import ScanLimits, WorkspaceScanner, read_source
from codehearth.languages import MAX_QUERY_START_DEPTH, LanguageRegistry, LanguageSpec

KINDS = ("before_symbol", "after_call", "next_line")
MAX_LINE_CHARS = 200
MAX_DEFINITIONS = 3
CALLABLE_KINDS = frozenset({"function", "method", "class", "interface"})
MEMBER_ACCESS = (b".", b"::", b"->")
_WORD = re.compile(r"\w")


@attrs.frozen
class Definition:
    """A definition the oracle condition puts in the prompt."""

    path: str
    symbol: str
    text: str


@attrs.frozen
class CompletionTask:
    """Complete ``expected`` at ``column`` (code points) of ``line`` (0-based) of ``path``
    (workspace-relative, ``/``-separated), the rest of that line removed."""

    kind: str
    path: str
    language_id: str
    line: int
    column: int
    expected: str
    symbol: str = ""
    definitions: tuple[Definition, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line + 1}:{self.column + 1}:{self.kind}"

    def document(self, source: str) -> str | None:
        """``source`` with the task's line cut at the cursor; None when the file no longer
        has that line as the task saw it."""
        lines = source.split("\n")
        if self.line >= len(lines):
            return None
        line = lines[self.line]
        ending = "\r" if line.endswith("\r") else ""
        if line[: self.column] + self.expected != line.removesuffix(ending).rstrip():
            return None
        lines[self.line] = line[: self.column] + ending
        return "\n".join(lines)


@attrs.frozen
class TaskSet:
    """The sampled tasks, and how many candidates of each kind the repository had."""

    tasks: tuple[CompletionTask, ...]
    candidates: Mapping[str, int]
    files: int


@attrs.frozen
class _Call:
    line: int
    start: int
    end: int
    """Code point columns of the name; ``(`` follows it."""
    name: str


@attrs.frozen
class _FileFacts:
    path: str
    language_id: str
    lines: tuple[str, ...]
    chunks: FileChunks
    calls: tuple[_Call, ...]
    code_lines: tuple[int, ...]
    """Lines of function bodies that start with code (not a string or comment)."""


def build_tasks(
    root: Path,
    registry: LanguageRegistry,
    *,
    limit: int,
    seed: int = 0,
    languages: Iterable[str] | None = None,
    scan_limits: ScanLimits | None = None,
) -> TaskSet:
    """Sample up to ``limit`` tasks from the repository at ``root`` (see the module
    docstring); ``languages`` keeps only those language ids."""
    wanted = set(languages) if languages is not None else None
    limits = scan_limits or ScanLimits()
    facts: list[_FileFacts] = []
    for scanned in WorkspaceScanner(root, registry, limits).scan():
        if wanted is not None and scanned.language_id not in wanted:
            continue
        source = read_source(scanned.path, limits.max_file_bytes)
        if source is None:
            continue
        relative = Path(os.path.relpath(scanned.path, root)).as_posix()
        found = _file_facts(registry, scanned.language_id, relative, source)
        if found is not None:
            facts.append(found)
    facts.sort(key=lambda fact: fact.path)
    candidates = candidate_tasks(facts)
    quotas = share_limit(limit, {kind: len(candidates[kind]) for kind in KINDS})
    rng = random.Random(seed)
    drawn: list[CompletionTask] = []
    for kind in KINDS:
        drawn.extend(rng.sample(candidates[kind], quotas[kind]))
    rng.shuffle(drawn)
    return TaskSet(
        tasks=tuple(drawn),
        candidates={kind: len(candidates[kind]) for kind in KINDS},
        files=len(facts),
    )


def share_limit(limit: int, available: Mapping[str, int]) -> dict[str, int]:
    """How many tasks of each kind: ``limit`` shared evenly in :data:`KINDS` order (the
    remainder to the first kinds), what a kind lacks given to the others in turn."""
    quotas = dict.fromkeys(KINDS, 0)
    left = max(0, limit)
    while left > 0:
        open_kinds = [kind for kind in KINDS if quotas[kind] < available.get(kind, 0)]
        if not open_kinds:
            break
        share, extra = divmod(left, len(open_kinds))
        for position, kind in enumerate(open_kinds):
            room = available.get(kind, 0) - quotas[kind]
            granted = min(room, share + (1 if position < extra else 0))
            quotas[kind] += granted
            left -= granted
    return quotas


def candidate_tasks(facts: list[_FileFacts]) -> dict[str, list[CompletionTask]]:
    """Every task of each kind the files offer, in file and line order."""
    definitions = _definitions_by_name(facts)
    found: dict[str, list[CompletionTask]] = {kind: [] for kind in KINDS}
    for fact in facts:
        local = {name for chunk in fact.chunks.chunks for name in chunk.defines}
        imported = {name for item in fact.chunks.imports for name in item.names}
        for call in fact.calls:
            shown = _needed_definitions(call.name, fact.path, definitions, local, imported)
            if not shown:
                continue
            line = fact.lines[call.line].rstrip()
            for kind, column in (("before_symbol", call.start), ("after_call", call.end + 1)):
                expected = line[column:]
                if _WORD.search(expected):
                    found[kind].append(
                        CompletionTask(
                            kind=kind,
                            path=fact.path,
                            language_id=fact.language_id,
                            line=call.line,
                            column=column,
                            expected=expected,
                            symbol=call.name,
                            definitions=shown,
                        )
                    )
        for number in fact.code_lines:
            line = fact.lines[number].rstrip()
            indent = len(line) - len(line.lstrip())
            found["next_line"].append(
                CompletionTask(
                    kind="next_line",
                    path=fact.path,
                    language_id=fact.language_id,
                    line=number,
                    column=indent,
                    expected=line[indent:],
                )
            )
    return found


def _needed_definitions(
    name: str,
    path: str,
    definitions: Mapping[str, list[Definition]],
    local: set[str],
    imported: set[str],
) -> tuple[Definition, ...]:
    """The definitions a call of ``name`` in ``path`` needs from other files (none when it
    is not a cross-file call by the rules of the module docstring)."""
    if name in local:
        return ()
    elsewhere = [d for d in definitions.get(name, ()) if d.path != path]
    if not elsewhere:
        return ()
    if name not in imported and len({d.path for d in elsewhere}) > 1:
        return ()
    return tuple(elsewhere[:MAX_DEFINITIONS])


def _definitions_by_name(facts: list[_FileFacts]) -> dict[str, list[Definition]]:
    """Functions, methods and classes by their bare name, in file order: per file and
    symbol the longest chunk (an implementation, not its overload stubs; an oversized
    definition's first part), a member under its class's header line."""
    by_name: dict[str, list[Definition]] = defaultdict(list)
    for fact in facts:
        chosen: dict[str, Chunk] = {}
        for chunk in fact.chunks.chunks:
            if not chunk.symbol or chunk.kind not in CALLABLE_KINDS | {"part"}:
                continue
            best = chosen.get(chunk.symbol)
            if best is None or _preferred(chunk, best):
                chosen[chunk.symbol] = chunk
        parents: dict[str, Chunk] = {}
        for chunk in fact.chunks.chunks:
            if chunk.symbol and chunk.kind in CALLABLE_KINDS | {"part"}:
                first = parents.setdefault(chunk.symbol, chunk)
                if chunk.start_line < first.start_line:
                    parents[chunk.symbol] = chunk
        for symbol, chunk in sorted(chosen.items(), key=lambda item: item[1].start_line):
            text = chunk.text
            header = _header_line(parents.get(chunk.parent)) if chunk.parent else ""
            if header and not text.lstrip().startswith(header.strip()):
                text = f"{header}\n{text}"
            by_name[symbol.rsplit(".", 1)[-1]].append(Definition(fact.path, symbol, text))
    return by_name


def _preferred(chunk: Chunk, best: Chunk) -> bool:
    if (chunk.kind == "part") != (best.kind == "part"):
        return best.kind == "part"
    if chunk.kind == "part":
        return chunk.start_line < best.start_line
    return chunk.end_line - chunk.start_line > best.end_line - best.start_line


def _header_line(parent: Chunk | None) -> str:
    """The line of a class chunk that names the class (past decorators and comments)."""
    if parent is None:
        return ""
    name = parent.symbol.rsplit(".", 1)[-1]
    for line in parent.text.split("\n"):
        if re.search(rf"\b{re.escape(name)}\b", line):
            return line
    return ""


def _file_facts(
    registry: LanguageRegistry, language_id: str, path: str, source: str
) -> _FileFacts | None:
    spec = registry.by_id(language_id)
    parser = registry.parser(language_id)
    tags = registry.query(language_id, "tags")
    definitions = registry.query(language_id, "chunks")
    if spec is None or parser is None or tags is None or definitions is None:
        return None
    data = source.encode("utf-8", "surrogatepass")
    tree = parser.parse(data)
    line_bytes = data.split(b"\n")
    lines = tuple(source.split("\n"))
    body_lines = _body_lines(definitions, tree.root_node)

    def column(row: int, byte_column: int) -> int:
        return len(line_bytes[row][:byte_column].decode("utf-8", "surrogatepass"))

    calls: list[_Call] = []
    cursor = tree_sitter.QueryCursor(tags)
    cursor.set_max_start_depth(MAX_QUERY_START_DEPTH)
    for node in cursor.captures(tree.root_node).get("name.reference.call", []):
        row, start = node.start_point
        end_row, end = node.end_point
        opens_call = data[node.end_byte : node.end_byte + 1] == b"("
        if row not in body_lines or end_row != row or not opens_call:
            continue
        if len(lines[row].rstrip()) > MAX_LINE_CHARS:
            continue
        name = data[node.start_byte : node.end_byte].decode("utf-8", "surrogatepass")
        calls.append(_Call(row, column(row, start), column(row, end), name))
    calls.sort(key=lambda call: (call.line, call.start))
    code_lines = tuple(
        row
        for row in sorted(body_lines)
        if row < len(lines)
        and _WORD.search(lines[row])
        and len(lines[row].rstrip()) <= MAX_LINE_CHARS
        and _starts_with_code(tree.root_node, spec, row, line_bytes[row])
    )
    chunks = chunk_file(registry, language_id, path, source)
    return _FileFacts(path, language_id, lines, chunks, tuple(calls), code_lines)


def _body_lines(query: tree_sitter.Query, root: tree_sitter.Node) -> set[int]:
    """Lines inside the bodies of functions and methods, past each definition's first."""
    rows: set[int] = set()
    cursor = tree_sitter.QueryCursor(query)
    cursor.set_max_start_depth(MAX_QUERY_START_DEPTH)
    for _, captures in cursor.matches(root):
        kinds = [name for name in captures if name.startswith("definition.")]
        if not kinds or "body" not in captures:
            continue
        if kinds[0] not in ("definition.function", "definition.method"):
            continue
        definition, body = captures[kinds[0]][0], captures["body"][0]
        first = max(body.start_point.row, definition.start_point.row + 1)
        rows.update(range(first, body.end_point.row + 1))
    return rows


def _starts_with_code(root: tree_sitter.Node, spec: LanguageSpec, row: int, line: bytes) -> bool:
    """Whether the line's first non-blank character is code, not in a string or comment."""
    indent = len(line) - len(line.lstrip())
    if indent == len(line.rstrip()) and not line.strip():
        return False
    node: tree_sitter.Node | None = root.named_descendant_for_point_range(
        (row, indent), (row, indent)
    )
    skipped = spec.string_nodes | spec.comment_nodes
    while node is not None:
        if node.type in skipped:
            return False
        node = node.parent
    return True
