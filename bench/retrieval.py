"""Recall of the cross-file definition a line being written needs, on real code that
package installs bring: Python from pip, JavaScript from npm, Go from apt.

Per language, two lists of packages (:data:`LISTS`), each copied into ONE temporary
workspace and indexed together (``WorkspaceIndex``, no store, 2 workers), so every query
sees the other packages of its list as distractors. Each top-level folder is a "package".

* **dev**: retrieval may be tuned on these. Python: mypy without its vendored
  ``typeshed`` stubs, hypothesis, pygls, lsprotocol, _pytest, httpx, anyio (this venv);
  JavaScript: @babel, semver, ast-types, tar (``tests/editors/node_modules``, which
  ``bash tests/editors/install.sh`` installs); Go: net/http, go/types, encoding/json,
  go/parser (the standard library's source: ``apt-get install golang-src``).
* **test**: never tuned on; its figures are the ones the targets apply to. Python: click,
  jinja2, starlette, uvicorn, cattrs, sqlite_utils; JavaScript: js-yaml, ws, source-map,
  basic-ftp, iconv-lite, qs; Go: crypto/tls, text/template, archive/tar, compress/flate,
  image/png, database/sql.

A list whose source is not on this machine is reported as skipped, with the reason.

Up to :data:`SAMPLES_PER_PACKAGE` targets are sampled per package (seeded).

Three cursor positions on each target line (:data:`POSITIONS`):

* ``typed``: the line is written up to and including ``f(`` (cursor just after it; the rest
  of the line is gone);
* ``before``: the line is written up to where ``f`` starts (``result = self.helper.``);
* ``line``: the whole line's code is gone (cursor at its indentation).

Targets at 1,500 context tokens on the test list: recall >= 0.95 ``typed`` and >= 0.75
``before``.

Target lines: inside a function or method body, calling ``f(`` (bare ``f(`` or attribute
``x.f(``; in Python found with :mod:`ast`, so never in strings or comments; in the other
languages found in the lines of the index's function and method chunks, leaving out
comment lines and calls inside quotes), where
``f`` is defined by a function/method chunk in ANOTHER file of the same package, is not
defined anywhere in the current file, is defined in at most 3 files of the package and by no
class chunk (so the target is unambiguous), is no builtin or method of a builtin type
(``.update(``, ``.format(``) and is not called on a module imported from outside the
package. The line is cut at the cursor (its newline stays, so line numbers do not move).
The index keeps the unmasked file; that changes nothing here, because the chunk holding the
cursor line is never returned. The prompt's prefix and suffix are
``split_budget`` at the default prompt budget (``CompletionSettings``).

For each CONTEXT budget in :data:`BUDGETS` (tokens, ``EstimatingCounter``), a system
succeeds when its context shows the definition's signature line (``def f(`` line, found in
the whole chunk, its skeleton, its signature form ``def f(x): ...`` or a repo-map outline
line) under the defining file's path:

1. ``ours``: ``workspace_context`` (retrieve + compress), exactly as the server calls it
   but with no recent edits;
2. ``truncation``: "other open files" = 5 random files (seeded) of the cursor's folder
   (topped up from the package when the folder has fewer), each under a ``# Path:``
   header, concatenated in that order and cut at the budget;
3. ``bm25``: the index's BM25 search with the terms (sub-tokens and whole identifiers) of
   the :data:`QUERY_LINES` lines either side of the cursor, whole chunks taken in rank
   order while they fit (skipping those that do not), with the same eligibility as ours
   (no chunk of the current file already in the prompt or holding the cursor).

Printed as one JSON object, per list and cursor position: recall per budget and system,
``ratio_ours_vs_truncation_1500`` (target >= 2), mean/p95 context build time of ours per
query, and diagnostics of ours at 1500 tokens: recall split by how much signal the masked
cursor keeps, the definition's rank in ``retrieve()`` and why it was missed -
``name_not_in_query`` (``f`` is neither imported by name nor written in the enclosing
definition's lines that retrieval reads, so no exact lookup can find it),
``name_cut_from_exact`` (it is, but the definition is not in the top 40),
``retrieved_not_packed`` (retrieved, but compress spent the budget elsewhere) or
``packed_without_signature``.

Per list: the number of samples and the corpus size. ``python bench/retrieval.py python
dev`` runs one list. Ours is not bit-for-bit reproducible: ``chunks_defining`` returns its
definitions in set order, and retrieval keeps the first three of a name, so recall moves by
about one point between runs.
"""

import os
import sys

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import ast
import builtins
import importlib.util
import json
import random
import re
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import attrs

from codehearth.index.bm25 import identifier_spans, identifier_terms, tokenize_code
from codehearth.index.context import ContextRequest, workspace_context
from codehearth.index.model import Chunk
from codehearth.index.retrieval import (
    MAX_ENCLOSING_LINES,
    CursorContext,
    caret_window,
    retrieve,
)
from codehearth.index.scanner import ScanLimits
from codehearth.index.workspace_index import WorkspaceIndex
from codehearth.languages import LanguageRegistry
from codehearth.prompts.budget import EstimatingCounter, TokenCounter, split_budget
from codehearth.settings import CompletionSettings

LISTS: dict[str, dict[str, tuple[str, ...]]] = {
    "python": {
        "dev": ("mypy", "hypothesis", "pygls", "lsprotocol", "_pytest", "httpx", "anyio"),
        "test": ("click", "jinja2", "starlette", "uvicorn", "cattrs", "sqlite_utils"),
    },
    "javascript": {
        "dev": ("@babel", "semver", "ast-types", "tar"),
        "test": ("js-yaml", "ws", "source-map", "basic-ftp", "iconv-lite", "qs"),
    },
    "go": {
        "dev": ("net/http", "go/types", "encoding/json", "go/parser"),
        "test": (
            "crypto/tls",
            "text/template",
            "archive/tar",
            "compress/flate",
            "image/png",
            "database/sql",
        ),
    },
}
NODE_MODULES = Path(__file__).resolve().parents[1] / "tests" / "editors" / "node_modules"
GO_SOURCES = sorted(Path("/usr/share").glob("go-*/src")) + sorted(Path("/usr/lib").glob("go*/src"))
EXCLUDED = ("__pycache__", "*.pyc", "*.so", "typeshed")
EXCLUDED_JS = ("node_modules", "*.min.js", "*.map", "*.d.ts", "*.json", "*.md", "test", "tests")
EXCLUDED_GO = ("testdata", "*_test.go")
SCRIPT_EXTENSIONS = (".js", ".mjs", ".cjs", ".ts", ".jsx", ".tsx")
SAMPLES_PER_PACKAGE = 40
POSITIONS = ("typed", "before", "line")
TARGET_RECALL = {"typed": 0.95, "before": 0.75}
SEED = 20240611
BUDGETS = (512, 1500, 4000)
RATIO_BUDGET = 1500
TARGET_RATIO = 2.0
OPEN_FILES = 5
QUERY_LINES = 15
BM25_CANDIDATES = 100
MAX_DEFINING_FILES = 3
FUNCTION_KINDS = frozenset(("function", "method"))
BUILTIN_NAMES = frozenset(dir(builtins)).union(
    *(dir(kind) for kind in (str, bytes, list, dict, set, frozenset, tuple, int, float))
)
SYSTEMS = ("ours", "truncation", "bm25")


@attrs.frozen
class Target:
    path: str
    language_id: str
    package: str
    line: int
    name: str
    attribute: bool  # x.f( rather than f(
    name_column: int  # where f starts on its line (characters)
    call_column: int  # just after the ( that follows f
    definitions: tuple[Chunk, ...]  # function/method chunks defining f in other files


@attrs.frozen
class Query:
    target: Target
    position: str  # one of POSITIONS
    text: str  # the file with the target line's code removed
    offset: int
    prefix_chars: int
    suffix_chars: int
    imported_by_name: bool  # `from m import f` in the current file
    name_in_window: bool  # f still written in the prompt's prefix or suffix
    name_looked_up: bool  # imported by name, or written in the enclosing definition's lines


def corpus_sources(language: str, packages: tuple[str, ...]) -> dict[str, Path] | str:
    """Where each package's source is (by the folder name it gets), or why it is not here."""
    found: dict[str, Path] = {}
    for name in packages:
        if language == "python":
            spec = importlib.util.find_spec(name)
            origin = Path(spec.origin).parent if spec is not None and spec.origin else None
        elif language == "javascript":
            origin = NODE_MODULES / name
        else:
            origin = next((root / name for root in GO_SOURCES if (root / name).is_dir()), None)
        if origin is not None and origin.is_dir():
            found[name.replace("/", "_").lstrip("@")] = origin
    if found:
        return found
    return {
        "python": "none of the packages is installed in this venv",
        "javascript": f"{NODE_MODULES} is missing: run bash tests/editors/install.sh",
        "go": "no Go source: apt-get install golang-src",
    }[language]


def build_corpus(target: Path, sources: dict[str, Path], language: str) -> None:
    excluded = {"python": EXCLUDED, "javascript": EXCLUDED_JS, "go": EXCLUDED_GO}[language]
    for name, origin in sources.items():
        shutil.copytree(origin, target / name, ignore=shutil.ignore_patterns(*excluded))


def package_of(index: WorkspaceIndex, path: str) -> str:
    return Path(path).relative_to(index.root).parts[0]


def definition_line(chunk: Chunk) -> str | None:
    """The stripped first line of a function chunk's signature: ``def name(`` in Python,
    else the first line naming it that is no comment or decorator."""
    name = chunk.symbol.rsplit(".", 1)[-1]
    if chunk.language_id == "python":
        pattern = re.compile(rf"^\s*(async\s+)?def\s+{re.escape(name)}\b")
    else:
        pattern = re.compile(rf"^(?!\s*(//|/\*|\*|@)).*(?<![\w$]){re.escape(name)}\b")
    for line in (chunk.skeleton or chunk.text).splitlines():
        if pattern.match(line):
            return signature_of(line)
    return None


def signature_of(line: str) -> str:
    """A signature line as whole code, a skeleton (``{ ... }``), a signature form
    (``def f(x): ...``) or an outline line writes it, in one spelling: up to the body's
    ``{``, without the signature form's `` ...``."""
    text = line.strip().removesuffix(" ...")
    return text[: text.index("{")].rstrip() if "{" in text else text


def shows(segments: list[tuple[str, str]], definitions: tuple[Chunk, ...]) -> bool:
    """Whether any (absolute path, text) segment shows one definition's signature line."""
    wanted = {(chunk.path, line) for chunk in definitions if (line := definition_line(chunk))}
    return any(
        (path, signature_of(line)) in wanted
        for path, text in segments
        for line in text.splitlines()
    )


def find_targets(index: WorkspaceIndex, language: str) -> list[Target]:
    """Every eligible (file, line, name) of the corpus, in a stable order."""
    by_package: dict[str, dict[str, list[Chunk]]] = {}
    for path in sorted(index.paths()):
        package = package_of(index, path)
        chunks = index.file_chunks(path)
        assert chunks is not None
        names = by_package.setdefault(package, {})
        for chunk in chunks.chunks:
            for name in chunk.defines:
                names.setdefault(name, []).append(chunk)
    targets: list[Target] = []
    for path in sorted(index.paths()):
        if language != "python":
            continue
        package = package_of(index, path)
        defined = by_package[package]
        chunks = index.file_chunks(path)
        assert chunks is not None
        local = {name for chunk in chunks.chunks for name in chunk.defines}
        try:
            source = Path(path).read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        source_lines = source.split("\n")
        seen: set[int] = set()
        for name, line, attribute, name_byte in calls_in_functions(tree, package):
            if line in seen or name in local:
                continue
            chunks_defining = defined.get(name, [])
            others = tuple(
                c
                for c in chunks_defining
                if c.path != path
                and (c.kind in FUNCTION_KINDS or (c.kind == "part" and definition_line(c)))
            )
            files = {c.path for c in chunks_defining}
            if (
                not others
                or len(files) > MAX_DEFINING_FILES
                or any(c.kind == "class" for c in chunks_defining)
            ):
                continue
            text = source_lines[line]
            name_column = len(text.encode("utf-8")[:name_byte].decode("utf-8", "replace"))
            after = text[name_column + len(name) :]
            if text[name_column : name_column + len(name)] != name or not after.lstrip().startswith(
                "("
            ):
                continue  # the name and its ( are on different lines
            call_column = name_column + len(name) + after.index("(") + 1
            seen.add(line)
            targets.append(
                Target(
                    path, "python", package, line, name, attribute, name_column, call_column, others
                )
            )
    if language != "python":
        targets = script_targets(index, language, by_package)
    return targets


CALL = re.compile(r"(?<![\w$])([A-Za-z_$][\w$]*)\s*\(")
GO_BUILTINS = frozenset(
    "append cap clear close complex copy delete imag len make max min new panic print "
    "println real recover".split()
)
COMMENT_STARTS = ("//", "/*", "*", "#")


def script_targets(
    index: WorkspaceIndex, language: str, by_package: dict[str, dict[str, list[Chunk]]]
) -> list[Target]:
    """The targets of a language without :mod:`ast`: calls on the body lines of the index's
    function and method chunks (comment lines and calls inside quotes left out), with the
    same eligibility as Python's."""
    extensions = SCRIPT_EXTENSIONS if language == "javascript" else (".go",)
    targets: list[Target] = []
    for path in sorted(index.paths()):
        chunks = index.file_chunks(path)
        if chunks is None or not path.endswith(extensions):
            continue
        package = package_of(index, path)
        defined = by_package[package]
        local = {name for chunk in chunks.chunks for name in chunk.defines}
        lines = Path(path).read_text(encoding="utf-8", errors="replace").split("\n")
        seen: set[int] = set()
        for chunk in chunks.chunks:
            if chunk.kind not in FUNCTION_KINDS:
                continue
            for row in range(chunk.start_line + 1, min(chunk.end_line + 1, len(lines))):
                text = lines[row]
                if row in seen or text.strip().startswith(COMMENT_STARTS):
                    continue
                for match in CALL.finditer(text):
                    name = match.group(1)
                    before = text[: match.start(1)]
                    if any(before.count(quote) % 2 for quote in "\"'`"):
                        continue
                    if (
                        name in local
                        or len(name) < 3
                        or name.startswith("__")
                        or (language == "go" and name in GO_BUILTINS)
                    ):
                        continue
                    chunks_defining = defined.get(name, [])
                    others = tuple(
                        c for c in chunks_defining if c.path != path and c.kind in FUNCTION_KINDS
                    )
                    files = {c.path for c in chunks_defining}
                    if (
                        not others
                        or len(files) > MAX_DEFINING_FILES
                        or any(c.kind == "class" for c in chunks_defining)
                        or not all(definition_line(c) for c in others)
                    ):
                        continue
                    seen.add(row)
                    attribute = before.rstrip().endswith(".")
                    targets.append(
                        Target(
                            path,
                            chunks.language_id,
                            package,
                            row,
                            name,
                            attribute,
                            match.start(1),
                            match.end(),
                            others,
                        )
                    )
                    break
    return targets


def calls_in_functions(tree: ast.Module, package: str) -> Iterator[tuple[str, int, bool, int]]:
    """(name, 0-based line, attribute call?, UTF-8 byte column where the name starts) of the
    calls in function bodies, leaving out
    builtins and methods of builtin types (``.update(``, ``.format(``: not the package's
    same-named definition) and attributes of modules from outside the package."""
    external: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            external |= {
                alias.asname or alias.name.split(".")[0]
                for alias in node.names
                if alias.name.split(".")[0] != package
            }
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != package:
                external |= {alias.asname or alias.name for alias in node.names}
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for statement in function.body:
            for node in ast.walk(statement):
                if not isinstance(node, ast.Call):
                    continue
                if isinstance(node.func, ast.Name):
                    name, line, attribute = node.func.id, node.func.lineno, False
                    column = node.func.col_offset
                elif isinstance(node.func, ast.Attribute):
                    receiver = node.func.value
                    if isinstance(receiver, ast.Name) and receiver.id in external:
                        continue
                    name, line = node.func.attr, node.func.end_lineno or node.func.lineno
                    attribute = True
                    column = (node.func.end_col_offset or 0) - len(name.encode("utf-8"))
                else:
                    continue
                if name in BUILTIN_NAMES or name.startswith("__") or len(name) < 3:
                    continue
                yield name, line - 1, attribute, column


def make_query(
    index: WorkspaceIndex, target: Target, counter: TokenCounter, position: str
) -> Query:
    original = Path(target.path).read_text(encoding="utf-8")
    lines = original.split("\n")
    start = sum(len(line) + 1 for line in lines[: target.line])
    code = lines[target.line]
    kept = {
        "typed": target.call_column,
        "before": target.name_column,
        "line": len(code) - len(code.lstrip()),
    }[position]
    offset = start + kept
    text = original[:offset] + original[start + len(code) :]
    settings = CompletionSettings()
    split = split_budget(
        text[:offset],
        text[offset:],
        counter,
        budget=settings.prompt_tokens,
        prefix_share=settings.prefix_share,
        suffix_share=settings.suffix_share,
    )
    chunks = index.file_chunks(target.path)
    assert chunks is not None
    imported = any(target.name in item.names for item in chunks.imports)
    word = re.compile(rf"\b{re.escape(target.name)}\b")
    in_window = bool(word.search(split.prefix) or word.search(split.suffix))
    # What retrieval's exact ranking looks up: the enclosing definition's identifiers (at most
    # MAX_ENCLOSING_LINES either side of the cursor) and the imported names.
    enclosing = [
        chunk
        for chunk in chunks.chunks
        if chunk.kind != "module" and chunk.start_line <= target.line <= chunk.end_line
    ]
    region = ""
    if enclosing:
        inner = min(enclosing, key=lambda chunk: chunk.end_line - chunk.start_line)
        first = max(inner.start_line, target.line - MAX_ENCLOSING_LINES)
        last = min(inner.end_line, target.line + MAX_ENCLOSING_LINES)
        region = "\n".join(text.split("\n")[first : last + 1])
    looked_up = imported or bool(word.search(region))
    return Query(
        target,
        position,
        text,
        offset,
        len(split.prefix),
        len(split.suffix),
        imported,
        in_window,
        looked_up,
    )


def cursor_of(query: Query) -> CursorContext:
    return CursorContext(
        path=query.target.path,
        language_id=query.target.language_id,
        text=query.text,
        offset=query.offset,
        window_lines=caret_window(query.text, query.offset, query.prefix_chars, query.suffix_chars),
    )


def eligible(query: Query, chunk: Chunk) -> bool:
    """Same rule as retrieval: nothing of the current file already in the prompt or holding
    the cursor line."""
    if chunk.path != query.target.path:
        return True
    first, last = cursor_of(query).window_lines
    line = query.target.line
    return not (first <= chunk.start_line and chunk.end_line <= last) and not (
        chunk.start_line <= line <= chunk.end_line
    )


def open_files(index: WorkspaceIndex, query: Query, rng: random.Random) -> list[str]:
    """OPEN_FILES random other files of the cursor's folder, topped up from the package."""
    path = query.target.path
    folder = os.path.dirname(path)
    paths = sorted(p for p in index.paths() if p != path)
    same_folder = [p for p in paths if os.path.dirname(p) == folder]
    chosen = rng.sample(same_folder, min(OPEN_FILES, len(same_folder)))
    if len(chosen) < OPEN_FILES:
        rest = [
            p for p in paths if p not in chosen and package_of(index, p) == query.target.package
        ]
        chosen += rng.sample(rest, min(OPEN_FILES - len(chosen), len(rest)))
    return chosen


def truncation_context(
    index: WorkspaceIndex, files: list[str], counter: TokenCounter, budget: int
) -> list[tuple[str, str]]:
    """The files under ``# Path:`` headers, concatenated and cut (by characters) at
    ``budget`` tokens; returned per file for the success check."""
    segments: list[tuple[str, str]] = []
    used = 0
    for path in files:
        header = f"# Path: {os.path.relpath(path, index.root)}\n"
        text = Path(path).read_text(encoding="utf-8") + "\n"
        cost = counter.count(header + text)
        if used + cost <= budget:
            segments.append((path, text))
            used += cost
            continue
        left = budget - used - counter.count(header)
        if left > 0:
            low, high = 0, len(text)
            while low < high:
                middle = (low + high + 1) // 2
                if counter.count(text[:middle]) <= left:
                    low = middle
                else:
                    high = middle - 1
            # A signature line cut in the middle is not shown.
            segments.append((path, text[: text.rfind("\n", 0, low) + 1]))
        break
    return segments


def bm25_ranking(index: WorkspaceIndex, query: Query) -> list[Chunk]:
    lines = query.text.split("\n")
    line = query.target.line
    region = "\n".join(lines[max(0, line - QUERY_LINES) : line + QUERY_LINES + 1])
    terms = tokenize_code(region) + identifier_terms(name for _, name in identifier_spans(region))
    ranked = []
    for key, _ in index.bm25.search(terms, BM25_CANDIDATES):
        chunk = index.chunk_by_key(key)
        if chunk is not None and eligible(query, chunk):
            ranked.append(chunk)
    return ranked


def bm25_context(
    index: WorkspaceIndex, ranked: list[Chunk], counter: TokenCounter, budget: int
) -> list[tuple[str, str]]:
    segments: list[tuple[str, str]] = []
    used = 0
    for chunk in ranked:
        cost = counter.count(f"# Path: {os.path.relpath(chunk.path, index.root)}\n{chunk.text}\n")
        if used + cost <= budget:
            segments.append((chunk.path, chunk.text))
            used += cost
    return segments


@attrs.define
class Outcome:
    """One query's results: hits per (budget, system) and diagnostics of ours at 1500."""

    hits: dict[tuple[int, str], bool] = attrs.field(factory=dict)
    seconds: list[float] = attrs.field(factory=list)
    rank: int | None = None  # of the definition in retrieve()'s output, 1-based
    sources: str = ""
    miss: str = ""  # why ours missed at RATIO_BUDGET
    outline_only: bool = False
    definer_open: bool = False


def evaluate(
    index: WorkspaceIndex, registry: LanguageRegistry, counter: TokenCounter, query: Query
) -> Outcome:
    target = query.target
    outcome = Outcome()
    seed = f"{SEED}:{os.path.relpath(target.path, index.root)}"
    files = open_files(index, query, random.Random(seed))
    outcome.definer_open = any(chunk.path in files for chunk in target.definitions)
    ranked = bm25_ranking(index, query)
    scored = retrieve(index, cursor_of(query))
    for position, item in enumerate(scored, start=1):
        if item.chunk in target.definitions:
            outcome.rank, outcome.sources = position, "+".join(item.sources)
            break
    for budget in BUDGETS:
        request = ContextRequest(
            path=target.path,
            language_id=target.language_id,
            text=query.text,
            offset=query.offset,
            prefix_chars=query.prefix_chars,
            suffix_chars=query.suffix_chars,
            budget=budget,
        )
        clock = time.perf_counter()
        packed = workspace_context(index, registry, counter, request)
        outcome.seconds.append(time.perf_counter() - clock)
        ours = [(str(index.root / snippet.path), snippet.text, snippet.score) for snippet in packed]
        hit = shows([(path, text) for path, text, _ in ours], target.definitions)
        outcome.hits[budget, "ours"] = hit
        outcome.hits[budget, "truncation"] = shows(
            truncation_context(index, files, counter, budget), target.definitions
        )
        outcome.hits[budget, "bm25"] = shows(
            bm25_context(index, ranked, counter, budget), target.definitions
        )
        if budget != RATIO_BUDGET:
            continue
        # Outlines have score 0.
        retrieved_shown = [(path, text) for path, text, score in ours if score > 0]
        outcome.outline_only = hit and not shows(retrieved_shown, target.definitions)
        if hit:
            continue
        shown = {chunk for snippet in packed if snippet.score > 0 for chunk in snippet.chunks}
        if outcome.rank is None:
            outcome.miss = "name_cut_from_exact" if query.name_looked_up else "name_not_in_query"
        elif not shown & set(target.definitions):
            outcome.miss = "retrieved_not_packed"
        else:
            outcome.miss = "packed_without_signature"
    return outcome


def recall(hits: list[bool]) -> float:
    return round(sum(hits) / len(hits), 3) if hits else 0.0


def median(values: list[int]) -> float | None:
    return statistics.median(values) if values else None


def run_list(language: str, packages: tuple[str, ...]) -> dict[str, object]:
    """Every figure for one list of packages, per cursor position."""
    started = time.perf_counter()
    sources = corpus_sources(language, packages)
    if isinstance(sources, str):
        return {"skipped": sources}
    registry = LanguageRegistry.load()
    counter = EstimatingCounter()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "corpus"
        build_corpus(root, sources, language)
        index = WorkspaceIndex(
            root, registry, None, ScanLimits(max_file_bytes=1_000_000, max_files=100_000)
        )
        report = index.build(workers=2)
        candidates = find_targets(index, language)
        rng = random.Random(SEED)
        targets = []
        for package in sorted({target.package for target in candidates}):
            mine = [target for target in candidates if target.package == package]
            targets += rng.sample(mine, min(SAMPLES_PER_PACKAGE, len(mine)))
        for position in POSITIONS:
            queries = [make_query(index, target, counter, position) for target in targets]
            outcomes = [evaluate(index, registry, counter, query) for query in queries]
            figures[position] = position_figures(queries, outcomes, counter)
        listed = sorted({package_of(index, path) for path in index.paths()})
    return {
        **figures,
        "samples": len(targets),
        "candidate_lines": len(candidates),
        "samples_per_package": dict(Counter(target.package for target in targets)),
        "corpus": {
            "packages": listed,
            "files": report.files,
            "chunks": report.chunks,
            "megabytes": round(report.bytes / 1e6, 2),
            "index_seconds": round(report.seconds + report.lexical_seconds, 2),
        },
        "seconds": round(time.perf_counter() - started, 1),
    }


def position_figures(
    queries: list[Query], outcomes: list[Outcome], counter: TokenCounter
) -> dict[str, object]:
    """Recall per budget and system, and diagnostics of ours at 1500, for one position."""

    def recall_of(budget: int, system: str, picked: list[bool] | None = None) -> float:
        return recall(
            [
                outcome.hits[budget, system]
                for number, outcome in enumerate(outcomes)
                if picked is None or picked[number]
            ]
        )

    splits: dict[str, dict[str, float | int]] = {}
    for label, values in (
        ("name_in_prompt_window", [query.name_in_window for query in queries]),
        ("imported_by_name", [query.imported_by_name for query in queries]),
        ("attribute_call", [query.target.attribute for query in queries]),
    ):
        for flag in (True, False):
            picked = [value == flag for value in values]
            splits[f"{label}={flag}"] = {
                "n": sum(picked),
                "recall": recall_of(RATIO_BUDGET, "ours", picked),
            }
    not_packed = [
        (outcome.rank, query.target.definitions[0])
        for query, outcome in zip(queries, outcomes, strict=True)
        if outcome.miss == "retrieved_not_packed" and outcome.rank is not None
    ]
    seconds = [value for outcome in outcomes for value in outcome.seconds]
    ours_at = recall_of(RATIO_BUDGET, "ours")
    truncation_at = recall_of(RATIO_BUDGET, "truncation")
    bm25_at = recall_of(RATIO_BUDGET, "bm25")
    position = queries[0].position
    return {
        "recall": {
            str(budget): {system: recall_of(budget, system) for system in SYSTEMS}
            for budget in BUDGETS
        },
        "target_recall_1500": TARGET_RECALL.get(position),
        "meets_target": (ours_at >= TARGET_RECALL[position] if position in TARGET_RECALL else None),
        "ratio_ours_vs_truncation_1500": (
            round(ours_at / truncation_at, 2) if truncation_at else None
        ),
        "ratio_ours_vs_bm25_1500": round(ours_at / bm25_at, 2) if bm25_at else None,
        "ours_mean_ms": round(statistics.mean(seconds) * 1000, 2),
        "ours_p95_ms": round(statistics.quantiles(seconds, n=20, method="inclusive")[18] * 1000, 2),
        "truncation_definer_file_open": recall([o.definer_open for o in outcomes]),
        "ours_at_1500": {
            "recall_split": splits,
            "definition_in_retrieve_top40": recall([o.rank is not None for o in outcomes]),
            "definition_rank_median": median([o.rank for o in outcomes if o.rank]),
            "definition_found_by": dict(Counter(o.sources for o in outcomes if o.rank)),
            "hits_from_outline_only": sum(o.outline_only for o in outcomes),
            "miss_reasons": dict(Counter(o.miss for o in outcomes if o.miss)),
            "retrieved_not_packed": {
                "rank_median": median([rank for rank, _ in not_packed]),
                "whole_tokens_median": median(
                    [counter.count(chunk.text) for _, chunk in not_packed]
                ),
                "skeleton_tokens_median": median(
                    [counter.count(chunk.skeleton) for _, chunk in not_packed]
                ),
            },
        },
    }


def main() -> None:
    """``bench/retrieval.py [LANGUAGE [LIST]]``: every language and list by default."""
    languages = sys.argv[1:2] or list(LISTS)
    result: dict[str, object] = {"benchmark": "retrieval", "target_ratio": TARGET_RATIO}
    for language in languages:
        chosen = sys.argv[2:3] or list(LISTS[language])
        result[language] = {name: run_list(language, LISTS[language][name]) for name in chosen}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
