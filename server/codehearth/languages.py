"""The language registry: which languages CodeHearth knows and how to parse them.

``grammars/languages.toml`` holds one table per LSP ``languageId`` (its schema is in
``grammars/README.md``). In a wheel that directory is force-included as
``codehearth/grammars``; in a source checkout it is the repository's top-level
``grammars/``.

Grammars come from the official tree-sitter wheels (``tree_sitter_python`` ...). A
language whose wheel is not installed is still known to the registry (``by_id`` and
``by_path`` find it, so text heuristics can use its comment syntax) but it has no
parser: :meth:`LanguageRegistry.parser` returns ``None`` and logs that once. Languages
marked ``optional`` are expected to be missing and are logged at debug level only.

Each language may also have tree-sitter query files in ``grammars/<queries>/``
(``chunks.scm``, ``tags.scm``, ``imports.scm``; their capture conventions are in
``grammars/README.md``); :meth:`LanguageRegistry.query` compiles and caches them, and
:func:`bounded_captures` runs a query within a bounded depth (hostile nesting costs at
most linear time).

Parsers and queries are cached per language and are not thread-safe: use a registry from
one thread (the server's event loop) or give each thread its own registry.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
import tomllib
from pathlib import Path, PurePath
from typing import Any

import attrs
import tree_sitter

log = logging.getLogger(__name__)

REGISTRY_FILE = "languages.toml"

MAX_QUERY_START_DEPTH = 256
"""How deep below the queried node a query match may start. Real code rarely nests
deeper: none of the index benchmark's 23 MB of Python goes past 96 levels; long
left-nested chains (``a + b + ...``, a union of hundreds of types, minified call chains)
do, and lose the names past the bound. Query time grows with this bound times the size of
a deeply nested file."""

_REQUIRED_STRINGS = ("grammar", "function", "line_comment", "body_placeholder")
_NODE_LISTS = ("block_nodes", "string_nodes", "comment_nodes", "attribute_nodes")
_KNOWN_KEYS = frozenset(
    (*_REQUIRED_STRINGS, *_NODE_LISTS, "extensions", "block_comment", "optional", "queries")
)


def grammars_dir() -> Path:
    """The directory holding ``languages.toml``: inside the package when installed from a
    wheel, else the source checkout's top-level ``grammars/``."""
    installed = Path(__file__).parent / "grammars"
    if (installed / REGISTRY_FILE).is_file():
        return installed
    return Path(__file__).resolve().parents[2] / "grammars"


@attrs.frozen
class LanguageSpec:
    """One language as described in ``languages.toml``.

    ``block_nodes`` are the tree-sitter node types whose children are statements or
    declarations (a module, a function body, a class body ...); ``string_nodes`` and
    ``comment_nodes`` are the literal and comment node types. Cursor analysis uses them.
    ``queries`` is the folder of the language's query files under ``grammars/`` (empty:
    the language id); ``attribute_nodes`` are node types written before a definition as
    its siblings (Rust ``#[derive]``), which the chunker attaches to that definition.
    """

    language_id: str
    extensions: tuple[str, ...]
    grammar: str
    function: str
    line_comment: str
    body_placeholder: str
    block_comment: tuple[str, str] | None = None
    optional: bool = False
    block_nodes: frozenset[str] = frozenset()
    string_nodes: frozenset[str] = frozenset()
    comment_nodes: frozenset[str] = frozenset()
    queries: str = ""
    attribute_nodes: frozenset[str] = frozenset()

    @property
    def queries_folder(self) -> str:
        """The folder under ``grammars/`` holding this language's query files."""
        return self.queries or self.language_id

    @classmethod
    def from_table(cls, language_id: str, table: Any) -> LanguageSpec:
        """Build a spec from its TOML table, raising ``ValueError`` on a malformed one."""

        def fail(problem: str) -> ValueError:
            return ValueError(f"{REGISTRY_FILE}: [{language_id}] {problem}")

        if not isinstance(table, dict):
            raise fail("must be a table")

        unknown = sorted(set(table) - _KNOWN_KEYS)
        if unknown:
            raise fail(f"unknown keys {unknown}")
        for key in _REQUIRED_STRINGS:
            if not isinstance(table.get(key), str) or not table[key]:
                raise fail(f"'{key}' must be a non-empty string")
        lists: dict[str, list[str]] = {}
        for key in ("extensions", *_NODE_LISTS):
            value = table.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise fail(f"'{key}' must be a list of strings")
            lists[key] = value
        extensions = lists["extensions"]
        if not extensions or not all(ext.startswith(".") for ext in extensions):
            raise fail("'extensions' must list suffixes starting with '.'")
        block_comment = table.get("block_comment")
        if block_comment is not None and (
            not isinstance(block_comment, list)
            or len(block_comment) != 2
            or not all(isinstance(v, str) and v for v in block_comment)
        ):
            raise fail("'block_comment' must be a pair of non-empty strings")
        optional = table.get("optional", False)
        if not isinstance(optional, bool):
            raise fail("'optional' must be true or false")
        queries = table.get("queries", "")
        if not isinstance(queries, str) or not _is_folder_name(queries):
            raise fail("'queries' must be a folder name")
        return cls(
            language_id=language_id,
            extensions=tuple(ext.lower() for ext in extensions),
            grammar=table["grammar"],
            function=table["function"],
            line_comment=table["line_comment"],
            body_placeholder=table["body_placeholder"],
            block_comment=(block_comment[0], block_comment[1]) if block_comment else None,
            optional=optional,
            block_nodes=frozenset(lists["block_nodes"]),
            string_nodes=frozenset(lists["string_nodes"]),
            comment_nodes=frozenset(lists["comment_nodes"]),
            queries=queries,
            attribute_nodes=frozenset(lists["attribute_nodes"]),
        )


@attrs.define
class LanguageRegistry:
    """The known languages, looked up by LSP ``languageId`` or file extension, with lazily
    loaded and cached tree-sitter languages, parsers and queries.

    ``directory`` holds the query folders (by default :func:`grammars_dir`; :meth:`load`
    uses the directory of the registry file it reads).
    """

    specs: tuple[LanguageSpec, ...]
    directory: Path = attrs.field(factory=grammars_dir)
    _by_id: dict[str, LanguageSpec] = attrs.field(init=False, factory=dict)
    _by_extension: dict[str, LanguageSpec] = attrs.field(init=False, factory=dict)
    _languages: dict[str, tree_sitter.Language | None] = attrs.field(init=False, factory=dict)
    _per_thread: threading.local = attrs.field(init=False, factory=threading.local)
    _queries: dict[tuple[str, ...], tree_sitter.Query | None] = attrs.field(
        init=False, factory=dict
    )

    def __attrs_post_init__(self) -> None:
        for spec in self.specs:
            if spec.language_id in self._by_id:
                raise ValueError(f"language {spec.language_id!r} is registered twice")
            self._by_id[spec.language_id] = spec
            for ext in spec.extensions:
                other = self._by_extension.setdefault(ext, spec)
                if other is not spec:
                    raise ValueError(
                        f"extension {ext!r} belongs to both {other.language_id!r} "
                        f"and {spec.language_id!r}"
                    )

    @classmethod
    def load(cls, path: Path | None = None) -> LanguageRegistry:
        """Read the registry from ``path`` (default: ``languages.toml`` in
        :func:`grammars_dir`)."""
        path = path or grammars_dir() / REGISTRY_FILE
        with path.open("rb") as file:
            data = tomllib.load(file)
        specs = tuple(LanguageSpec.from_table(key, value) for key, value in data.items())
        return cls(specs, directory=path.parent)

    def by_id(self, language_id: str) -> LanguageSpec | None:
        """The language with this LSP ``languageId``, if known."""
        return self._by_id.get(language_id)

    def by_path(self, path: str | PurePath) -> LanguageSpec | None:
        """The language of a file, from its extension (case-insensitive)."""
        # PurePath(path).suffix without making a path (the scanner asks for every file):
        # a name ending in a dot has none.
        extension = os.path.splitext(os.fspath(path).rstrip("/"))[1]
        return self._by_extension.get(extension.lower()) if extension != "." else None

    def language(self, language_id: str) -> tree_sitter.Language | None:
        """The tree-sitter language, or ``None`` when unknown or its grammar wheel is
        missing (logged once per language)."""
        if language_id in self._languages:
            return self._languages[language_id]
        spec = self._by_id.get(language_id)
        language = _load_language(spec) if spec else None
        self._languages[language_id] = language
        return language

    def parser(self, language_id: str) -> tree_sitter.Parser | None:
        """A parser for the language, cached per thread, or ``None`` when it cannot be
        parsed. (A tree-sitter parser used by two threads at once crashes the process:
        the completion engine parses on the event loop while index and style updates
        parse in worker threads, with the same registry.)"""
        parsers: dict[str, tree_sitter.Parser] | None = getattr(self._per_thread, "parsers", None)
        if parsers is None:
            parsers = self._per_thread.parsers = {}
        parser = parsers.get(language_id)
        if parser is None:
            language = self.language(language_id)
            if language is None:
                return None
            parser = parsers[language_id] = tree_sitter.Parser(language)
        return parser

    def query(self, language_id: str, *names: str) -> tree_sitter.Query | None:
        """The compiled query ``grammars/<queries>/<name>.scm`` (``chunks``, ``tags`` or
        ``imports``); given several names, one query made of those files in that order,
        so a single cursor pass runs them all (their capture names do not overlap).

        ``None`` when the language cannot be parsed, a file is missing or the query does
        not compile (logged once).
        """
        key = (language_id, *names)
        if key in self._queries:
            return self._queries[key]
        spec = self._by_id.get(language_id)
        language = self.language(language_id)
        query = None
        if spec is not None and language is not None and names:
            folder = self.directory / spec.queries_folder
            query = _load_query(language, [folder / f"{name}.scm" for name in names])
        self._queries[key] = query
        return query

    def available(self) -> tuple[LanguageSpec, ...]:
        """The languages whose grammar loads, in registry order."""
        return tuple(spec for spec in self.specs if self.language(spec.language_id) is not None)


def _load_language(spec: LanguageSpec) -> tree_sitter.Language | None:
    try:
        module = importlib.import_module(spec.grammar)
        return tree_sitter.Language(getattr(module, spec.function)())
    except ImportError:
        log.log(
            logging.DEBUG if spec.optional else logging.WARNING,
            "grammar %s for %s is not installed; using text heuristics only",
            spec.grammar,
            spec.language_id,
        )
    except (AttributeError, TypeError, ValueError) as error:
        log.warning(
            "grammar %s.%s for %s cannot be loaded: %s",
            spec.grammar,
            spec.function,
            spec.language_id,
            error,
        )
    return None


def _load_query(language: tree_sitter.Language, paths: list[Path]) -> tree_sitter.Query | None:
    try:
        source = "\n".join(path.read_text(encoding="utf-8") for path in paths)
    except FileNotFoundError as error:
        log.debug("no query file %s", error.filename)
        return None
    try:
        return tree_sitter.Query(language, source)
    except tree_sitter.QueryError as error:
        log.warning("query %s does not compile: %s", ", ".join(map(str, paths)), error)
        return None


def _is_folder_name(name: str) -> bool:
    return name == "" or (name not in (".", "..") and PurePath(name).name == name)


def parse_with_deadline(
    parser: tree_sitter.Parser,
    source: bytes,
    timeout_micros: int,
    old_tree: tree_sitter.Tree | None = None,
    *,
    keep_source: bool = True,
) -> tree_sitter.Tree | None:
    """Parse ``source`` (UTF-8), giving up after ``timeout_micros`` microseconds; with
    ``old_tree`` (already edited to match ``source``), its unchanged nodes are reused.

    py-tree-sitter 0.25 dropped ``Parser.timeout_micros``; the replacement is the
    progress callback, which tree-sitter polls while parsing and which aborts the parse
    by returning ``True``. It is only offered with a read callback. An aborted parse
    raises ``ValueError`` and leaves the parser set to resume it, so the parser is reset
    before returning ``None``.

    py-tree-sitter 0.26 keeps a reference to every object the read callback returns, so
    returning slices of the source (or the source itself) leaked it on every parse: about
    1 MB a minute of typing. The callback instead refills and returns one buffer per
    thread (tree-sitter only reads a chunk until its next call), so the references it
    keeps all point at that buffer, which is emptied after each parse.

    A tree parsed through a read callback does not keep its source, and ``Node.text`` on
    it crashes the interpreter (py-tree-sitter 0.25/0.26), so the finished tree is
    re-parsed from the bytes with itself as the old tree: nothing was edited, every node
    is reused and that costs about 9% of the first parse. tree-sitter does not reuse
    subtrees that hold errors, so on a broken file it costs up to a whole parse: it runs
    only while time is left, and a call may take up to about twice the deadline. A
    caller that reads no node's text, and runs no query with a text predicate (``#eq?``,
    ``#match?`` ...: a query's ``string_count`` is 0 without them), may pass
    ``keep_source=False`` to skip it.
    """
    deadline = time.monotonic_ns() + timeout_micros * 1000
    chunk = _read_buffer()
    view = memoryview(source)

    def read(byte_offset: int, _point: tree_sitter.Point) -> bytearray:
        chunk[:] = view[byte_offset:]
        return chunk

    def expired(_byte_offset: int, _has_error: bool) -> bool:
        return time.monotonic_ns() > deadline

    try:
        if old_tree is None:  # py-tree-sitter refuses old_tree=None
            tree = parser.parse(read, progress_callback=expired)
        else:
            tree = parser.parse(read, old_tree=old_tree, progress_callback=expired)
    except ValueError:
        parser.reset()
        return None
    finally:
        chunk.clear()
    if not keep_source:
        return tree
    if time.monotonic_ns() > deadline:
        return None  # no time left for the second parse
    return parser.parse(source, old_tree=tree)


_READ_BUFFERS = threading.local()


def _read_buffer() -> bytearray:
    """This thread's buffer for :func:`parse_with_deadline`'s read callback."""
    buffer: bytearray | None = getattr(_READ_BUFFERS, "buffer", None)
    if buffer is None:
        buffer = _READ_BUFFERS.buffer = bytearray()
    return buffer


def bounded_captures(
    query: tree_sitter.Query, node: tree_sitter.Node
) -> dict[str, list[tree_sitter.Node]]:
    """The query's captures under ``node``, for matches starting at most
    :data:`MAX_QUERY_START_DEPTH` levels below it.

    A query cursor advances every match in progress at each node, and on deeply nested
    input (thousands of nested classes on one line) the matches begun on the enclosing
    nodes pile up: the time grows with the square of the depth (seconds for 100 kB), and
    the cursor cannot be interrupted (its progress callback crashes py-tree-sitter 0.26).
    Past the depth bound the cursor does not descend, so what lies deeper is not matched
    (fewer chunks, names or style evidence, never a hang). It also bounds the cost of
    ``Node.parent`` and ``Node.prev_sibling`` on the captured nodes, which tree-sitter
    finds by walking down from the root.
    """
    cursor = tree_sitter.QueryCursor(query)
    cursor.set_max_start_depth(MAX_QUERY_START_DEPTH)
    return cursor.captures(node)
