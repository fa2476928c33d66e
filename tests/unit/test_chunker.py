"""The chunker: chunks per definition with members, the module header chunk, parts of
oversized definitions, skeletons, names, imports, odd text and the text fallback."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codehearth.index.chunker import MAX_REFERENCES, chunk_file
from codehearth.index.model import Chunk, FileChunks, Import
from codehearth.index.store import decode_chunks, encode_chunks
from codehearth.languages import MAX_QUERY_START_DEPTH, REGISTRY_FILE, LanguageRegistry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "grammar_samples"

Row = tuple[str, str, str, int, int]
SAMPLE_FILES = {
    "python": "sample.py",
    "javascript": "sample.js",
    "javascriptreact": "sample.jsx",
    "typescript": "sample.ts",
    "typescriptreact": "sample.tsx",
    "go": "sample.go",
    "rust": "sample.rs",
    "java": "Sample.java",
    "c": "sample.c",
    "cpp": "sample.cpp",
}


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry.load()


def chunk(registry: LanguageRegistry, language_id: str, source: str, **options: int) -> FileChunks:
    return chunk_file(registry, language_id, "src/file", textwrap.dedent(source), **options)


def rows(chunks: FileChunks) -> list[Row]:
    """(kind, symbol, parent, start_line, end_line) per chunk."""
    return [(c.kind, c.symbol, c.parent, c.start_line, c.end_line) for c in chunks.chunks]


def by_symbol(chunks: FileChunks, symbol: str) -> Chunk:
    (found,) = [c for c in chunks.chunks if c.symbol == symbol and c.kind != "part"]
    return found


def sample(registry: LanguageRegistry, language_id: str, name: str) -> FileChunks:
    source = (FIXTURES / name).read_text(encoding="utf-8")
    return chunk_file(registry, language_id, name, source)


# -- chunks per language ----------------------------------------------------------------

SAMPLE_CHUNKS = [
    pytest.param(
        "python",
        "sample.py",
        [
            ("module", "", "", 0, 79),
            ("class", "Notifier", "", 18, 19),
            ("method", "Notifier.notify", "Notifier", 19, 19),
            ("class", "Item", "", 22, 32),
            ("method", "Item.is_low", "Item", 30, 32),
            ("class", "Inventory", "", 35, 66),
            ("method", "Inventory.__init__", "Inventory", 38, 41),
            ("method", "Inventory.reserve", "Inventory", 43, 54),
            ("method", "Inventory.load", "Inventory", 56, 66),
            ("class", "_LogNotifier", "", 69, 71),
            ("method", "_LogNotifier.notify", "_LogNotifier", 70, 71),
            ("function", "total_quantity", "", 74, 75),
        ],
        id="python",
    ),
    pytest.param(
        "javascript",
        "sample.js",
        [
            ("module", "", "", 0, 49),
            ("class", "Order", "", 11, 34),
            ("method", "Order.constructor", "Order", 17, 22),
            ("method", "Order.total", "Order", 24, 28),
            ("method", "Order.save", "Order", 30, 33),
            ("function", "roundCents", "", 36, 38),
            ("function", "loadOrder", "", 40, 43),
        ],
        id="javascript",
    ),
    pytest.param(
        "javascriptreact",
        "sample.jsx",
        [
            ("module", "", "", 0, 1),
            ("function", "ProductCard", "", 3, 13),
            ("class", "ProductList", "", 15, 19),
            ("method", "ProductList.render", "ProductList", 16, 18),
        ],
        id="jsx",
    ),
    pytest.param(
        "typescript",
        "sample.ts",
        [
            ("module", "", "", 0, 5),
            ("type", "Handler", "", 7, 7),
            ("interface", "Subscription", "", 9, 12),
            ("type", "Priority", "", 14, 18),
            ("class", "EventBus", "", 20, 46),
            ("method", "EventBus.constructor", "EventBus", 24, 26),
            ("method", "EventBus.subscribe", "EventBus", 28, 33),
            ("method", "EventBus.publish", "EventBus", 35, 40),
            ("method", "EventBus.unsubscribe", "EventBus", 42, 45),
            ("class", "Persisted", "", 48, 50),
            ("function", "createBus", "", 52, 54),
            ("function", "saveSnapshot", "", 56, 58),
        ],
        id="typescript",
    ),
    pytest.param(
        "typescriptreact",
        "sample.tsx",
        [
            ("module", "", "", 0, 2),
            ("interface", "ProfileProps", "", 4, 7),
            ("function", "Profile", "", 9, 24),
            ("function", "Spinner", "", 26, 26),
            ("class", "ErrorBoundary", "", 28, 38),
            ("method", "ErrorBoundary.getDerivedStateFromError", "ErrorBoundary", 31, 33),
            ("method", "ErrorBoundary.render", "ErrorBoundary", 35, 37),
        ],
        id="tsx",
    ),
    pytest.param(
        "go",
        "sample.go",
        [
            ("module", "", "", 0, 17),
            ("class", "Entry", "", 19, 24),
            ("interface", "Store", "", 26, 30),
            ("type", "Clock", "", 32, 32),
            ("class", "Cache", "", 34, 41),
            ("function", "New", "", 43, 46),
            ("method", "Cache.Get", "Cache", 48, 63),
            ("method", "Cache.remove", "Cache", 65, 69),
            ("method", "Cache.Len", "Cache", 71, 71),
        ],
        id="go",
    ),
    pytest.param(
        "rust",
        "sample.rs",
        [
            ("module", "", "", 0, 9),
            ("class", "Bucket", "", 11, 16),
            ("type", "Decision", "", 18, 21),
            ("type", "Buckets", "", 23, 23),
            ("interface", "Limited", "", 25, 32),
            ("method", "Limited.cost", "Limited", 29, 31),
            ("class", "Limiter", "", 34, 37),
            ("class", "Limiter", "", 39, 59),
            ("method", "Limiter.new", "Limiter", 40, 43),
            ("method", "Limiter.check", "Limiter", 45, 58),
            ("class", "Decision", "", 61, 68),
            ("method", "Decision.fmt", "Decision", 62, 67),
            ("function", "refill", "", 70, 74),
            ("function", "limit", "", 76, 80),
        ],
        id="rust",
    ),
    pytest.param(
        "java",
        "Sample.java",
        [
            ("module", "", "", 0, 5),
            ("class", "Sample", "", 7, 49),
            ("class", "Sample.Account", "Sample", 15, 16),
            ("interface", "Sample.Discount", "Sample", 18, 20),
            ("class", "Sample.Status", "Sample", 22, 28),
            ("method", "Sample.Status.isFinal", "Sample.Status", 25, 27),
            ("method", "Sample.Sample", "Sample", 30, 34),
            ("method", "Sample.total", "Sample", 36, 43),
            ("method", "Sample.toString", "Sample", 45, 48),
        ],
        id="java",
    ),
    pytest.param(
        "c",
        "sample.c",
        [
            ("module", "", "", 0, 21),
            ("class", "ring_t", "", 7, 12),
            ("class", "stats", "", 14, 17),
            ("type", "ring_error", "", 19, 19),
            ("function", "ring_new", "", 23, 33),
            ("function", "ring_used", "", 35, 37),
            ("function", "ring_push", "", 39, 47),
            ("function", "ring_free", "", 49, 53),
        ],
        id="c",
    ),
    pytest.param(
        "cpp",
        "sample.cpp",
        [
            ("module", "", "", 0, 64),
            ("class", "Point", "", 11, 19),
            ("method", "Point.distance", "Point", 16, 18),
            ("class", "Shape", "", 21, 26),
            ("method", "Shape.name", "Shape", 25, 25),
            ("class", "Circle", "", 28, 41),
            ("method", "Circle.Circle", "Circle", 30, 30),
            ("method", "Circle.area", "Circle", 32, 34),
            ("method", "Circle.name", "Circle", 43, 45),
            ("function", "clamp", "", 47, 50),
            ("type", "ShapeList", "", 52, 52),
            ("type", "Unit", "", 54, 54),
            ("function", "total_area", "", 56, 62),
        ],
        id="cpp",
    ),
]


@pytest.mark.parametrize(("language_id", "name", "expected"), SAMPLE_CHUNKS)
def test_sample_chunks(
    registry: LanguageRegistry, language_id: str, name: str, expected: list[Row]
) -> None:
    chunks = sample(registry, language_id, name)
    assert rows(chunks) == expected
    source = (FIXTURES / name).read_text(encoding="utf-8")
    assert chunks.content_hash == hashlib.sha256(source.encode()).hexdigest()
    assert chunks.path == name and chunks.language_id == language_id
    lines = source.split("\n")
    for item in chunks.chunks:
        assert item.path == name and item.language_id == language_id
        assert item.text.split("\n")[0] == lines[item.start_line]
        assert item.symbol.rpartition(".")[2] in item.skeleton
    # Every line of code is in the range of a chunk.
    covered = {row for c in chunks.chunks for row in range(c.start_line, c.end_line + 1)}
    assert {row for row, line in enumerate(lines) if line.strip()} <= covered


@pytest.mark.parametrize(("language_id", "name", "expected"), SAMPLE_CHUNKS)
def test_member_code_is_not_in_its_class_chunk(
    registry: LanguageRegistry, language_id: str, name: str, expected: list[Row]
) -> None:
    chunks = sample(registry, language_id, name)
    for member in chunks.chunks:
        if member.parent and member.text != member.skeleton:
            container = [c for c in chunks.chunks if c.symbol == member.parent]
            for owner in container:
                assert member.text not in owner.text


# -- members, scopes, widening ----------------------------------------------------------

NESTED = '''\
    class Outer:
        """Holds things."""

        limit = 3

        def first(self):
            return helper(self.limit)

        class Inner:
            def deep(self):
                return 1

        def second(self):
            def local():
                return 2
            return local()
'''


def test_nested_methods_are_member_chunks(registry: LanguageRegistry) -> None:
    chunks = chunk(registry, "python", NESTED)
    assert rows(chunks) == [
        ("class", "Outer", "", 0, 15),
        ("method", "Outer.first", "Outer", 5, 6),
        ("class", "Outer.Inner", "Outer", 8, 10),
        ("method", "Outer.Inner.deep", "Outer.Inner", 9, 10),
        ("method", "Outer.second", "Outer", 12, 15),
    ]
    outer = by_symbol(chunks, "Outer")
    assert outer.text == textwrap.dedent('''\
        class Outer:
            """Holds things."""

            limit = 3

            def first(self):
                ...

            class Inner:
                ...

            def second(self):
                ...''')
    assert outer.skeleton == outer.text
    assert outer.defines == ("Outer", "limit")
    second = by_symbol(chunks, "Outer.second")
    assert second.defines == ("second", "local")
    assert "def local():" in second.text
    first = by_symbol(chunks, "Outer.first")
    assert set(first.references) == {"self", "helper", "limit"}


def test_definitions_sharing_a_line_stay_in_the_code_around_them(
    registry: LanguageRegistry,
) -> None:
    chunks = chunk(registry, "typescript", "class A { m() { return 1 } }\nfunction f() {}\n")
    assert rows(chunks) == [("class", "A", "", 0, 0), ("function", "f", "", 1, 1)]
    assert by_symbol(chunks, "A").defines == ("A", "m")
    minified = chunk(registry, "javascript", "function a(){return 1}function b(){return a()}")
    assert rows(minified) == [("module", "", "", 0, 0)]
    assert minified.chunks[0].defines == ("a", "b")


def test_scoped_methods_and_widened_definitions(registry: LanguageRegistry) -> None:
    go = chunk(
        registry,
        "go",
        """\
        package p

        // Size is the count.
        func (s *Set[T]) Size() int {
        \treturn len(s.items)
        }
        """,
    )
    assert rows(go)[1:] == [("method", "Set.Size", "Set", 2, 5)]
    ts = chunk(
        registry,
        "typescript",
        """\
        /** Adds. */
        @sealed
        export default class Adder {
          @log
          add(a: number): number {
            return a;
          }
        }
        """,
    )
    assert rows(ts) == [
        ("class", "Adder", "", 0, 7),
        ("method", "Adder.add", "Adder", 3, 6),
    ]
    assert by_symbol(ts, "Adder.add").skeleton == "  @log\n  add(a: number): number { ... }"
    python = chunk(
        registry,
        "python",
        """\
        import os
        x = 1  # trailing


        # Helps.
        # Really.
        @cache
        @other(1)
        def helper():  # note
            return os.sep
        """,
    )
    assert rows(python) == [("module", "", "", 0, 1), ("function", "helper", "", 4, 9)]
    assert by_symbol(python, "helper").skeleton == (
        "# Helps.\n# Really.\n@cache\n@other(1)\ndef helper():  # note\n    ..."
    )


# -- the module header ------------------------------------------------------------------


def test_header_chunk_holds_the_code_outside_definitions(registry: LanguageRegistry) -> None:
    chunks = chunk(
        registry,
        "python",
        """\


        import os


        def f():
            return 1



        CONSTANT = os.sep


        def g():
            return 2

        if __name__ == "__main__":
            g()

        """,
    )
    header = chunks.chunks[0]
    assert (header.kind, header.symbol, header.start_line, header.end_line) == ("module", "", 2, 17)
    assert header.text == 'import os\n\nCONSTANT = os.sep\n\nif __name__ == "__main__":\n    g()'
    assert header.skeleton == header.text
    assert header.defines == ("CONSTANT",)
    assert set(header.references) == {"os", "sep", "__name__", "g"}
    assert [c.symbol for c in chunks.chunks[1:]] == ["f", "g"]


def test_no_header_chunk_when_all_code_is_in_definitions(registry: LanguageRegistry) -> None:
    chunks = chunk(registry, "go", "package p\n\nfunc F() {}\n")
    assert rows(chunks) == [("module", "", "", 0, 0), ("function", "F", "", 2, 2)]
    only = chunk(registry, "python", "\n\ndef f():\n    pass\n\n\n")
    assert rows(only) == [("function", "f", "", 2, 3)]


# -- oversized definitions --------------------------------------------------------------


def long_function(statements: int) -> str:
    body = "".join(f"    x{i} = compute({i})\n" for i in range(statements))
    nested = "".join(f"        y{i} = a + {i}\n" for i in range(8))
    return f'def long(a):\n    """Long."""\n{body}    if a:\n{nested}    return x0\n'


def test_oversized_definition_is_cut_at_statements(registry: LanguageRegistry) -> None:
    source = "import os\n\n\n" + long_function(12)
    chunks = chunk(registry, "python", source, max_chunk_lines=10)
    assert rows(chunks) == [
        ("module", "", "", 0, 0),
        ("part", "long", "", 3, 12),
        ("part", "long", "", 13, 16),
        ("part", "long", "", 17, 26),
    ]
    lines = source.split("\n")
    for part in chunks.chunks[1:]:
        assert part.text == "\n".join(lines[part.start_line : part.end_line + 1])
        assert len(part.text.split("\n")) <= 10
        assert part.skeleton == 'def long(a):\n    """Long."""\n    ...'
        assert part.defines[0] == "long"
    # The if block is not cut: it fits in a part of its own.
    assert chunks.chunks[3].text.startswith("    if a:")


def test_statement_longer_than_a_part_is_cut_inside(registry: LanguageRegistry) -> None:
    inner = "".join(f"    call({i});\n" for i in range(30))
    source = f"function f() {{\n  if (ok) {{\n{inner}  }}\n}}\n"
    chunks = chunk(registry, "javascript", source, max_chunk_lines=12)
    parts = [c for c in chunks.chunks if c.kind == "part"]
    assert len(parts) == 3
    assert [p.start_line for p in parts] == [0, 12, 24]
    assert all(len(p.text.split("\n")) <= 12 for p in parts)
    assert parts[-1].end_line == 33


def test_oversized_class_keeps_member_stubs_whole(registry: LanguageRegistry) -> None:
    methods = "".join(f"    def m{i}(self):\n        return {i}\n\n" for i in range(12))
    chunks = chunk(registry, "python", f"class Big:\n{methods}", max_chunk_lines=10)
    parts = [c for c in chunks.chunks if c.kind == "part"]
    assert [p.symbol for p in parts] == ["Big"] * 4
    assert parts[0].text.startswith("class Big:\n    def m0(self):\n        ...")
    assert all(len(p.text.split("\n")) <= 10 for p in parts)
    assert all(p.text.count("def ") == p.text.count("...") for p in parts)
    members = [c for c in chunks.chunks if c.kind == "method"]
    assert [m.parent for m in members] == ["Big"] * 12


def test_member_stub_longer_than_a_part(registry: LanguageRegistry) -> None:
    source = '''\
        class A:
            def f(self):
                """Line one.

                Line three.
                """
                return 1
        '''
    chunks = chunk(registry, "python", source, max_chunk_lines=3)
    assert rows(chunks) == [
        ("part", "A", "", 0, 0),
        ("part", "A", "", 1, 6),
        ("part", "A.f", "A", 1, 1),
        ("part", "A.f", "A", 2, 4),
        ("part", "A.f", "A", 5, 6),
    ]
    assert chunks.chunks[1].text == chunks.chunks[2].skeleton


def test_oversized_header_is_cut_into_parts(registry: LanguageRegistry) -> None:
    source = "".join(f"NAME_{i} = {i}\n" for i in range(25))
    chunks = chunk(registry, "python", source, max_chunk_lines=10)
    assert rows(chunks) == [
        ("part", "", "", 0, 9),
        ("part", "", "", 10, 19),
        ("part", "", "", 20, 24),
    ]
    assert chunks.chunks[1].defines == tuple(f"NAME_{i}" for i in range(10, 20))


# -- skeletons --------------------------------------------------------------------------

SKELETONS = [
    pytest.param(
        "python",
        "sample.py",
        "Inventory",
        '''\
class Inventory:
    """Stock levels per SKU, backed by a storage backend."""

    def __init__(self, backend: StorageBackend, notifier: Notifier) -> None:
        ...

    def reserve(self, sku: str, amount: int) -> bool:
        """Reserve ``amount`` units of ``sku``; False when there are not enough."""
        ...

    @staticmethod
    def load(path: str) -> Inventory:
        ...''',
        id="python-class",
    ),
    pytest.param(
        "python",
        "sample.py",
        "Item",
        '''\
@dataclass
class Item:
    """One stock keeping unit."""

    sku: str
    quantity: int = 0
    tags: list[str] = field(default_factory=list)

    def is_low(self, threshold: int = 5) -> bool:
        """Whether the item should be restocked."""
        ...''',
        id="python-dataclass",
    ),
    pytest.param(
        "python",
        "sample.py",
        "Inventory.reserve",
        '''\
    def reserve(self, sku: str, amount: int) -> bool:
        """Reserve ``amount`` units of ``sku``; False when there are not enough."""
        ...''',
        id="python-method",
    ),
    pytest.param(
        "python",
        "sample.py",
        "Notifier.notify",
        "    def notify(self, sku: str, level: int) -> None: ...",
        id="python-one-line",
    ),
    pytest.param(
        "javascript",
        "sample.js",
        "Order",
        """\
/**
 * A customer order.
 */
export class Order extends Cart {
  static count = 0;

  constructor(customer, lines) { ... }

  /** The order total, tax included. */
  total() { ... }

  async save(dir) { ... }
}""",
        id="javascript-class",
    ),
    pytest.param(
        "javascript",
        "sample.js",
        "loadOrder",
        "export const loadOrder = async (file) => { ... }",
        id="javascript-arrow",
    ),
    pytest.param(
        "typescriptreact",
        "sample.tsx",
        "Profile",
        "/** Shows a user's name and avatar once loaded. */\n"
        "export function Profile({ userId, onError }: ProfileProps): JSX.Element { ... }",
        id="tsx-function",
    ),
    pytest.param(
        "go",
        "sample.go",
        "Cache.Get",
        "// Get returns the value for key, or ErrMissing.\n"
        "func (c *Cache) Get(key string) (any, error) { ... }",
        id="go-method",
    ),
    pytest.param(
        "rust",
        "sample.rs",
        "Bucket",
        """\
/// The state of one client's bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: u32,
    refilled: Instant,
}""",
        id="rust-struct",
    ),
    pytest.param(
        "rust",
        "sample.rs",
        "Limiter.new",
        "    /// Creates a limiter with no buckets.\n    pub fn new(clock: C) -> Self { ... }",
        id="rust-method",
    ),
    pytest.param(
        "java",
        "Sample.java",
        "Sample.Status",
        """\
    public enum Status {
        OPEN, PAID;

        boolean isFinal() { ... }
    }""",
        id="java-enum",
    ),
    pytest.param(
        "c",
        "sample.c",
        "ring_new",
        "/* Allocates a ring holding at least capacity bytes. */\n"
        "ring_t *ring_new(size_t capacity) { ... }",
        id="c-function",
    ),
    pytest.param(
        "cpp",
        "sample.cpp",
        "clamp",
        "template <typename T>\nT clamp(T value, T low, T high) { ... }",
        id="cpp-template",
    ),
]


@pytest.mark.parametrize(("language_id", "name", "symbol", "expected"), SKELETONS)
def test_skeletons(
    registry: LanguageRegistry, language_id: str, name: str, symbol: str, expected: str
) -> None:
    assert by_symbol(sample(registry, language_id, name), symbol).skeleton == expected


def test_java_class_shows_nested_types_as_stubs(registry: LanguageRegistry) -> None:
    text = by_symbol(sample(registry, "java", "Sample.java"), "Sample").text
    assert "    public enum Status { ... }\n" in text
    assert "    public interface Discount extends Function<BigDecimal, BigDecimal> { ... }" in text
    assert "isFinal" not in text


def test_brace_on_its_own_line(registry: LanguageRegistry) -> None:
    chunks = chunk(registry, "c", "int f(void)\n{\n    return 0;\n}\n")
    assert by_symbol(chunks, "f").skeleton == "int f(void)\n{ ... }"


# -- names ------------------------------------------------------------------------------


def test_references_exclude_own_defines_and_keywords(registry: LanguageRegistry) -> None:
    chunks = sample(registry, "python", "sample.py")
    reserve = by_symbol(chunks, "Inventory.reserve")
    assert reserve.defines == ("reserve",)
    assert {"MAX_RESERVATION", "ValueError", "notify", "publish", "events", "item"} <= set(
        reserve.references
    )
    assert "reserve" not in reserve.references
    assert len(set(reserve.references)) == len(reserve.references)
    broken = chunk(registry, "javascript", "function f( { return 1; \nclass A { m() { \n")
    assert "return" not in broken.chunks[0].references
    assert "class" not in broken.chunks[0].references


def test_references_are_bounded(registry: LanguageRegistry) -> None:
    names = " + ".join(f"name_{i}" for i in range(MAX_REFERENCES + 50))
    chunks = chunk(registry, "python", f"def f():\n    return {names}\n")
    assert len(chunks.chunks[0].references) == MAX_REFERENCES


def test_imports(registry: LanguageRegistry) -> None:
    assert sample(registry, "python", "sample.py").imports == (
        Import("logging"),
        Import("os.path"),
        Import("collections", ("defaultdict",)),
        Import("dataclasses", ("dataclass", "field")),
        Import("typing", ("Iterable", "Protocol")),
        Import(".", ("events",)),
        Import("..storage.backend", ("Backend", "open_backend")),
    )
    assert sample(registry, "typescript", "sample.ts").imports == (
        Import("./logger", ("Logger",)),
        Import("events", ("EventEmitter",)),
        Import("../store", ("defaultStore", "Store", "Snapshot")),
        Import("../store", ("Snapshot",)),
        Import("fs"),
    )
    assert sample(registry, "rust", "sample.rs").imports[1] == Import(
        "std::fmt", ("self", "Display")
    )
    assert sample(registry, "c", "sample.c").imports == (
        Import("<stdlib.h>"),
        Import("<string.h>"),
        Import("ring.h"),
    )


# -- odd text ---------------------------------------------------------------------------


def test_crlf_is_chunked_like_lf(registry: LanguageRegistry) -> None:
    source = (FIXTURES / "sample.py").read_text(encoding="utf-8")
    lf = chunk_file(registry, "python", "a.py", source)
    crlf = chunk_file(registry, "python", "a.py", source.replace("\n", "\r\n"))
    assert crlf.chunks == lf.chunks
    assert crlf.imports == lf.imports
    assert crlf.content_hash != lf.content_hash


def test_unicode_identifiers_and_tabs(registry: LanguageRegistry) -> None:
    chunks = chunk(
        registry,
        "python",
        'π = 3.14\n\ndef größe(r):\n\t"""Fläche."""\n\treturn π * r * r\n',
    )
    function = by_symbol(chunks, "größe")
    assert (function.start_line, function.end_line) == (2, 4)
    assert function.skeleton == 'def größe(r):\n\t"""Fläche."""\n\t...'
    assert set(function.references) == {"π", "r"}
    assert chunks.chunks[0].defines == ("π",)


@pytest.mark.parametrize(
    ("language_id", "source"),
    [
        pytest.param("python", "", id="empty"),
        pytest.param("python", "\n\n   \n\t\n", id="blank"),
        pytest.param("rust", "\r\n", id="crlf-only"),
    ],
)
def test_empty_file_has_no_chunks(
    registry: LanguageRegistry, language_id: str, source: str
) -> None:
    chunks = chunk_file(registry, language_id, "e", source)
    assert chunks.chunks == () and chunks.imports == ()
    assert chunks.content_hash == hashlib.sha256(source.encode()).hexdigest()


@pytest.mark.parametrize(
    ("language_id", "source"),
    [
        pytest.param("python", "def f(:\n    x = \nclass\n  def g(self): pass\n", id="broken"),
        pytest.param("python", "x = 1\rdef f():\r    pass\r", id="lone-cr"),
        pytest.param("python", "x = '\udcff'\ndef f():\n    pass\n", id="lone-surrogate"),
        pytest.param("c", "int f(void) { return 0; }\n\x00\n", id="nul"),
        pytest.param("cpp", "class { void (*)(); } ;;; }}}\n", id="garbage"),
        pytest.param("go", "func\n", id="truncated"),
    ],
)
def test_odd_text_does_not_raise(registry: LanguageRegistry, language_id: str, source: str) -> None:
    chunks = chunk_file(registry, language_id, "odd", source)
    assert chunks.chunks
    assert all(c.start_line <= c.end_line for c in chunks.chunks)


TOKENS = ["{", "}", "(", ")", "\n", "\r\n", "\t", "def ", "class ", "é", "\x00", "/*", "*/"]
TOKENS += ["#", "//", '"', "'", "`", ";", ":", "    ", "fn ", "func ", "struct ", "=>"]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    language=st.sampled_from(sorted(SAMPLE_FILES)),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 60), st.sampled_from(TOKENS)), max_size=8
    ),
    max_lines=st.sampled_from([1, 3, 10, 120]),
)
def test_edited_samples_do_not_raise(
    registry: LanguageRegistry,
    language: str,
    edits: list[tuple[float, int, str]],
    max_lines: int,
) -> None:
    source = (FIXTURES / SAMPLE_FILES[language]).read_text(encoding="utf-8")
    for where, removed, inserted in edits:
        at = int(where * len(source))
        source = source[:at] + inserted + source[at + removed :]
    chunks = chunk_file(registry, language, "f", source, max_chunk_lines=max_lines)
    lines = source.split("\n")
    for item in chunks.chunks:
        assert 0 <= item.start_line <= item.end_line < len(lines)
        assert item.text.strip()


# -- fallbacks --------------------------------------------------------------------------


def test_deadline_gives_text_windows(registry: LanguageRegistry) -> None:
    source = (FIXTURES / "sample.py").read_text(encoding="utf-8") * 30
    chunks = chunk_file(registry, "python", "big.py", source, deadline_micros=0)
    assert {c.kind for c in chunks.chunks} == {"part"}
    assert [c.start_line for c in chunks.chunks] == list(range(0, source.count("\n"), 120))
    assert chunks.chunks[1].text == "\n".join(source.split("\n")[120:240])
    assert chunks.imports == ()
    assert all(c.defines == () and c.references == () for c in chunks.chunks)
    # The registry is still usable afterwards.
    assert rows(chunk(registry, "python", "def f():\n    pass\n")) == [("function", "f", "", 0, 1)]


def test_hostile_nesting_gives_the_outer_chunks(registry: LanguageRegistry) -> None:
    # Thousands of classes nested on one line: a query cursor's matches in progress on
    # the enclosing nodes pile up (quadratic: minutes here), so matching stops at
    # MAX_QUERY_START_DEPTH and the code around the nest is chunked as ever.
    levels = 20 * MAX_QUERY_START_DEPTH
    nest = "class Nest { m() { " * levels + "}}" * levels
    source = f"function before() {{ return 1; }}\n{nest}\nfunction after() {{ return 2; }}\n"
    chunks = chunk_file(registry, "javascript", "nest.js", source)
    assert rows(chunks) == [
        ("function", "before", "", 0, 0),
        ("class", "Nest", "", 1, 1),
        ("function", "after", "", 2, 2),
    ]
    assert chunks.chunks[1].defines[0] == "Nest"
    # Only the outer levels' names: the cursor went no deeper than the bound.
    assert len(chunks.chunks[1].defines) < MAX_QUERY_START_DEPTH


def test_unknown_language_gives_one_module_chunk(registry: LanguageRegistry) -> None:
    chunks = chunk_file(registry, "cobol", "a.cob", "\n\n  IDENTIFICATION DIVISION.\n\n")
    assert rows(chunks) == [("module", "", "", 2, 2)]
    assert chunks.chunks[0].text == "  IDENTIFICATION DIVISION."


def test_language_without_queries_gives_text_chunks(tmp_path: Path) -> None:
    (tmp_path / REGISTRY_FILE).write_text(
        '[python]\nextensions = [".py"]\ngrammar = "tree_sitter_python"\n'
        'function = "language"\nline_comment = "#"\nbody_placeholder = "..."\n',
        encoding="utf-8",
    )
    registry = LanguageRegistry.load(tmp_path / REGISTRY_FILE)
    chunks = chunk_file(registry, "python", "a.py", "def f():\n    pass\n")
    assert rows(chunks) == [("module", "", "", 0, 1)]


# -- serialisation and speed ------------------------------------------------------------


def test_encoded_round_trip(registry: LanguageRegistry) -> None:
    chunks = sample(registry, "rust", "sample.rs")
    encoded = encode_chunks(chunks)
    assert decode_chunks(encoded) == chunks
    moved = decode_chunks(encoded, "elsewhere.rs")
    assert moved is not None and moved.path == "elsewhere.rs"
    assert {chunk.path for chunk in moved.chunks} == {"elsewhere.rs"}
    assert [attrs.evolve(c, path=chunks.path) for c in moved.chunks] == list(chunks.chunks)


def test_a_two_thousand_line_file_is_chunked_whole(registry: LanguageRegistry) -> None:
    """(How fast is bench/index.py's business: its incremental re-index figure.)"""
    lines = (FIXTURES / "sample.py").read_text(encoding="utf-8").split("\n")
    source = "\n".join((lines * 30)[:2000])
    chunks = chunk_file(registry, "python", "big.py", source)
    assert len(chunks.chunks) > 250
    assert all(0 <= c.start_line <= c.end_line < 2000 for c in chunks.chunks)
