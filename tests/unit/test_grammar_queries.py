"""The query files in grammars/<lang>/: they compile, follow the capture conventions of
grammars/README.md and find what they should in each language's sample file."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import tree_sitter

from codehearth.index.chunker import KINDS, QUERY_FILES
from codehearth.languages import LanguageRegistry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "grammar_samples"
SAMPLES = {
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
CAPTURES = {
    "chunks": re.compile(rf"definition\.({'|'.join(KINDS)})|name|body|members|doc|scope|_\w+"),
    "tags": re.compile(r"name\.(definition|reference)\.[a-z]+|_\w+"),
    "imports": re.compile(r"import\.(module|name)|_\w+"),
}


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry.load()


def run(
    registry: LanguageRegistry, language_id: str, name: str
) -> list[dict[str, list[tree_sitter.Node]]]:
    """The matches of one query file over the language's sample."""
    parser = registry.parser(language_id)
    query = registry.query(language_id, name)
    assert parser is not None and query is not None
    tree = parser.parse((FIXTURES / SAMPLES[language_id]).read_bytes())
    assert not tree.root_node.has_error
    return [captures for _, captures in tree_sitter.QueryCursor(query).matches(tree.root_node)]


def text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode()


def tags(registry: LanguageRegistry, language_id: str, role: str) -> set[tuple[str, str]]:
    """(kind, name) for each tags.scm capture ``name.<role>.<kind>``."""
    prefix = f"name.{role}."
    return {
        (capture.removeprefix(prefix), text(node))
        for match in run(registry, language_id, "tags")
        for capture, nodes in match.items()
        if capture.startswith(prefix)
        for node in nodes
    }


# -- every language ---------------------------------------------------------------------


def test_every_language_has_a_sample(registry: LanguageRegistry) -> None:
    assert set(SAMPLES) == {spec.language_id for spec in registry.specs}
    assert all((FIXTURES / name).is_file() for name in SAMPLES.values())


@pytest.mark.parametrize("language_id", SAMPLES)
@pytest.mark.parametrize("name", QUERY_FILES)
def test_query_compiles_with_conventional_captures(
    registry: LanguageRegistry, language_id: str, name: str
) -> None:
    query = registry.query(language_id, name)
    assert query is not None
    captures = {query.capture_name(i) for i in range(query.capture_count)}
    assert {c for c in captures if not CAPTURES[name].fullmatch(c)} == set()


@pytest.mark.parametrize("language_id", SAMPLES)
def test_query_files_compile_together(registry: LanguageRegistry, language_id: str) -> None:
    assert registry.query(language_id, *QUERY_FILES) is not None


@pytest.mark.parametrize("language_id", SAMPLES)
def test_attribute_nodes_exist_in_the_grammar(registry: LanguageRegistry, language_id: str) -> None:
    spec = registry.by_id(language_id)
    language = registry.language(language_id)
    assert spec is not None and language is not None
    for node_type in spec.attribute_nodes:
        assert language.id_for_node_kind(node_type, True) is not None, node_type


def test_shared_query_folders(registry: LanguageRegistry) -> None:
    folders = {spec.language_id: spec.queries_folder for spec in registry.specs}
    assert folders["javascriptreact"] == "javascript"
    assert folders["typescriptreact"] == "typescript"
    assert folders["python"] == "python"


def test_query_is_cached_and_missing_files_give_none(
    registry: LanguageRegistry, tmp_path: Path
) -> None:
    assert registry.query("python", "tags") is registry.query("python", "tags")
    assert registry.query("python", "no_such_query") is None
    assert registry.query("cobol", "tags") is None
    (tmp_path / "languages.toml").write_text(
        '[python]\nextensions = [".py"]\ngrammar = "tree_sitter_python"\n'
        'function = "language"\nline_comment = "#"\nbody_placeholder = "..."\n',
        encoding="utf-8",
    )
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "tags.scm").write_text("(no_such_node) @x", encoding="utf-8")
    elsewhere = LanguageRegistry.load(tmp_path / "languages.toml")
    assert elsewhere.directory == tmp_path
    assert elsewhere.query("python", "tags") is None
    assert elsewhere.query("python", "chunks") is None


def test_queries_key_must_be_a_folder_name(tmp_path: Path) -> None:
    path = tmp_path / "languages.toml"
    path.write_text(
        '[python]\nextensions = [".py"]\ngrammar = "tree_sitter_python"\n'
        'function = "language"\nline_comment = "#"\nbody_placeholder = "..."\n'
        'queries = "../elsewhere"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="'queries'"):
        LanguageRegistry.load(path)


# -- chunks.scm -------------------------------------------------------------------------

CHUNK_DEFINITIONS = [
    pytest.param(
        "python",
        {
            ("class", "Notifier"),
            ("class", "Item"),
            ("class", "Inventory"),
            ("class", "_LogNotifier"),
            ("function", "notify"),
            ("function", "is_low"),
            ("function", "__init__"),
            ("function", "reserve"),
            ("function", "load"),
            ("function", "restore"),
            ("function", "total_quantity"),
        },
        id="python",
    ),
    pytest.param(
        "javascript",
        {
            ("class", "Order"),
            ("method", "constructor"),
            ("method", "total"),
            ("method", "save"),
            ("function", "roundCents"),
            ("function", "loadOrder"),
        },
        id="javascript",
    ),
    pytest.param(
        "javascriptreact",
        {("function", "ProductCard"), ("class", "ProductList"), ("method", "render")},
        id="jsx",
    ),
    pytest.param(
        "typescript",
        {
            ("type", "Handler"),
            ("interface", "Subscription"),
            ("type", "Priority"),
            ("class", "EventBus"),
            ("method", "constructor"),
            ("method", "subscribe"),
            ("method", "publish"),
            ("method", "unsubscribe"),
            ("class", "Persisted"),
            ("function", "createBus"),
            ("function", "saveSnapshot"),
        },
        id="typescript",
    ),
    pytest.param(
        "typescriptreact",
        {
            ("interface", "ProfileProps"),
            ("function", "Profile"),
            ("function", "Spinner"),
            ("class", "ErrorBoundary"),
            ("method", "getDerivedStateFromError"),
            ("method", "render"),
        },
        id="tsx",
    ),
    pytest.param(
        "go",
        {
            # A type_spec matches the generic `type` pattern too; the chunker keeps the
            # more specific kind.
            ("class", "Entry"),
            ("type", "Entry"),
            ("interface", "Store"),
            ("type", "Store"),
            ("type", "Clock"),
            ("class", "Cache"),
            ("type", "Cache"),
            ("function", "New"),
            ("method", "Get"),
            ("method", "remove"),
            ("method", "Len"),
        },
        id="go",
    ),
    pytest.param(
        "rust",
        {
            ("class", "Bucket"),
            ("type", "Decision"),
            ("type", "Buckets"),
            ("interface", "Limited"),
            ("function", "cost"),
            ("class", "Limiter"),
            ("function", "new"),
            ("function", "check"),
            ("class", "Decision"),
            ("function", "fmt"),
            ("function", "refill"),
            ("function", "limit"),
        },
        id="rust",
    ),
    pytest.param(
        "java",
        {
            ("class", "Sample"),
            ("class", "Account"),
            ("interface", "Discount"),
            ("class", "Status"),
            ("method", "isFinal"),
            ("method", "Sample"),
            ("method", "total"),
            ("method", "toString"),
        },
        id="java",
    ),
    pytest.param(
        "c",
        {
            ("class", "ring_t"),
            ("type", "ring_t"),
            ("class", "stats"),
            ("type", "ring_error"),
            ("function", "ring_new"),
            ("function", "ring_used"),
            ("function", "ring_push"),
            ("function", "ring_free"),
        },
        id="c",
    ),
    pytest.param(
        "cpp",
        {
            ("class", "Point"),
            ("function", "distance"),
            ("class", "Shape"),
            ("function", "name"),
            ("class", "Circle"),
            ("function", "Circle"),
            ("function", "area"),
            ("method", "name"),
            ("function", "clamp"),
            ("type", "ShapeList"),
            ("type", "Unit"),
            ("function", "total_area"),
        },
        id="cpp",
    ),
]


@pytest.mark.parametrize(("language_id", "expected"), CHUNK_DEFINITIONS)
def test_chunk_definitions(
    registry: LanguageRegistry, language_id: str, expected: set[tuple[str, str]]
) -> None:
    found = set()
    for match in run(registry, language_id, "chunks"):
        (kind,) = [c.removeprefix("definition.") for c in match if c.startswith("definition.")]
        (name,) = match["name"]
        found.add((kind, text(name)))
    assert found == expected


@pytest.mark.parametrize(
    ("language_id", "expected"),
    [
        pytest.param("go", {"Get": "Cache", "remove": "Cache", "Len": "Cache"}, id="go"),
        pytest.param("cpp", {"name": "Circle"}, id="cpp"),
    ],
)
def test_chunk_scopes(
    registry: LanguageRegistry, language_id: str, expected: dict[str, str]
) -> None:
    scopes = {
        text(match["name"][0]): text(match["scope"][0])
        for match in run(registry, language_id, "chunks")
        if "scope" in match
    }
    assert scopes == expected


@pytest.mark.parametrize(
    ("language_id", "name", "doc"),
    [
        pytest.param("python", "is_low", '"""Whether the item should be restocked."""', id="def"),
        pytest.param("python", "Item", '"""One stock keeping unit."""', id="class"),
    ],
)
def test_chunk_docstrings(
    registry: LanguageRegistry, language_id: str, name: str, doc: str
) -> None:
    docs = {
        text(match["name"][0]): text(match["doc"][0])
        for match in run(registry, language_id, "chunks")
        if "doc" in match
    }
    assert docs[name] == doc
    assert "load" not in docs


def test_java_enum_methods_are_in_its_members_node(registry: LanguageRegistry) -> None:
    (status,) = [m for m in run(registry, "java", "chunks") if text(m["name"][0]) == "Status"]
    assert status["members"][0].type == "enum_body_declarations"
    assert status["body"][0].type == "enum_body"


# -- tags.scm ---------------------------------------------------------------------------

TAG_DEFINITIONS = [
    pytest.param(
        "python",
        {
            ("class", "Notifier"),
            ("class", "Item"),
            ("class", "Inventory"),
            ("class", "_LogNotifier"),
            ("constant", "log"),
            ("constant", "MAX_RESERVATION"),
            ("field", "sku"),
            ("field", "quantity"),
            ("field", "tags"),
            ("function", "notify"),
            ("function", "is_low"),
            ("function", "__init__"),
            ("function", "reserve"),
            ("function", "load"),
            ("function", "restore"),
            ("function", "total_quantity"),
        },
        id="python",
    ),
    pytest.param(
        "javascript",
        {
            ("class", "Order"),
            ("constant", "TAX_RATE"),
            ("constant", "app"),
            ("constant", "config"),
            ("constant", "loadOrder"),
            ("field", "count"),
            ("function", "loadOrder"),
            ("function", "roundCents"),
            ("method", "constructor"),
            ("method", "save"),
            ("method", "total"),
        },
        id="javascript",
    ),
    pytest.param(
        "javascriptreact",
        {("class", "ProductList"), ("function", "ProductCard"), ("method", "render")},
        id="jsx",
    ),
    pytest.param(
        "typescript",
        {
            ("class", "EventBus"),
            ("class", "Persisted"),
            ("constant", "saveSnapshot"),
            ("field", "handlers"),
            ("function", "createBus"),
            ("function", "saveSnapshot"),
            ("interface", "Subscription"),
            ("method", "cancel"),
            ("method", "constructor"),
            ("method", "publish"),
            ("method", "snapshot"),
            ("method", "subscribe"),
            ("method", "unsubscribe"),
            ("type", "Handler"),
            ("type", "Priority"),
        },
        id="typescript",
    ),
    pytest.param(
        "typescriptreact",
        {
            ("class", "ErrorBoundary"),
            ("constant", "Spinner"),
            ("field", "state"),
            ("function", "Profile"),
            ("function", "Spinner"),
            ("interface", "ProfileProps"),
            ("method", "getDerivedStateFromError"),
            ("method", "render"),
        },
        id="tsx",
    ),
    pytest.param(
        "go",
        {
            ("variable", "ErrMissing"),
            ("constant", "defaultTTL"),
            ("type", "Entry"),
            ("type", "Store"),
            ("type", "Clock"),
            ("type", "Cache"),
            ("field", "Key"),
            ("field", "Value"),
            ("field", "Expires"),
            ("field", "mu"),
            ("field", "order"),
            ("field", "entries"),
            ("field", "size"),
            ("field", "now"),
            ("method", "Save"),
            ("method", "Load"),
            ("function", "New"),
            ("method", "Get"),
            ("method", "remove"),
            ("method", "Len"),
        },
        id="go",
    ),
    pytest.param(
        "rust",
        {
            ("constant", "REFILL"),
            ("class", "Bucket"),
            ("field", "tokens"),
            ("field", "refilled"),
            ("type", "Decision"),
            ("constant", "Allow"),
            ("constant", "Deny"),
            ("field", "retry_after"),
            ("type", "Buckets"),
            ("interface", "Limited"),
            ("method", "key"),
            ("method", "cost"),
            ("class", "Limiter"),
            ("field", "buckets"),
            ("field", "clock"),
            ("method", "new"),
            ("method", "check"),
            ("method", "fmt"),
            ("function", "refill"),
            ("macro", "limit"),
        },
        id="rust",
    ),
    pytest.param(
        "java",
        {
            ("class", "Sample"),
            ("field", "VAT"),
            ("field", "accounts"),
            ("class", "Account"),
            ("interface", "Discount"),
            ("method", "name"),
            ("class", "Status"),
            ("constant", "OPEN"),
            ("constant", "PAID"),
            ("method", "isFinal"),
            ("method", "Sample"),
            ("method", "total"),
            ("method", "toString"),
        },
        id="java",
    ),
    pytest.param(
        "c",
        {
            ("macro", "RING_MIN"),
            ("field", "data"),
            ("field", "head"),
            ("field", "tail"),
            ("field", "capacity"),
            ("type", "ring_t"),
            ("class", "stats"),
            ("field", "reads"),
            ("field", "writes"),
            ("type", "ring_error"),
            ("constant", "RING_OK"),
            ("constant", "RING_FULL"),
            ("constant", "RING_EMPTY"),
            ("variable", "global_stats"),
            ("function", "ring_new"),
            ("function", "ring_used"),
            ("function", "ring_push"),
            ("function", "ring_free"),
        },
        id="c",
    ),
    pytest.param(
        "cpp",
        {
            ("module", "geo"),
            ("class", "Point"),
            ("field", "x"),
            ("field", "y"),
            ("function", "distance"),
            ("class", "Shape"),
            ("function", "area"),
            ("function", "name"),
            ("class", "Circle"),
            ("function", "Circle"),
            ("field", "center_"),
            ("field", "radius_"),
            ("method", "name"),
            ("function", "clamp"),
            ("type", "ShapeList"),
            ("type", "Unit"),
            ("constant", "Metre"),
            ("constant", "Foot"),
            ("function", "total_area"),
        },
        id="cpp",
    ),
]


@pytest.mark.parametrize(("language_id", "expected"), TAG_DEFINITIONS)
def test_tag_definitions(
    registry: LanguageRegistry, language_id: str, expected: set[tuple[str, str]]
) -> None:
    assert tags(registry, language_id, "definition") == expected


TAG_REFERENCES = [
    pytest.param(
        "python",
        {
            ("call", "getLogger"),
            ("call", "ValueError"),
            ("call", "notify"),
            ("call", "dataclass"),
            ("call", "staticmethod"),
            ("class", "Protocol"),
            ("type", "StorageBackend"),
            ("type", "Iterable"),
            ("identifier", "threshold"),
        },
        id="python",
    ),
    pytest.param(
        "javascript",
        {
            ("call", "roundCents"),
            ("call", "stringify"),
            ("call", "require"),
            ("class", "Cart"),
            ("class", "Order"),
            ("identifier", "customer"),
            ("identifier", "lines"),
        },
        id="javascript",
    ),
    pytest.param(
        "javascriptreact",
        {
            ("call", "useState"),
            ("call", "formatPrice"),
            ("class", "Component"),
            ("class", "ProductCard"),
            ("identifier", "setCount"),
        },
        id="jsx",
    ),
    pytest.param(
        "typescript",
        {
            ("call", "unsubscribe"),
            ("call", "writeFileSync"),
            ("class", "EventEmitter"),
            ("class", "EventBus"),
            ("type", "Handler"),
            ("type", "Subscription"),
            ("type", "Promise"),
            ("identifier", "priority"),
        },
        id="typescript",
    ),
    pytest.param(
        "typescriptreact",
        {
            ("call", "fetchUser"),
            ("call", "useEffect"),
            ("class", "Component"),
            ("type", "ProfileProps"),
            ("type", "User"),
            ("identifier", "Spinner"),
        },
        id="tsx",
    ),
    pytest.param(
        "go",
        {
            ("call", "MoveToFront"),
            ("call", "make"),
            ("call", "remove"),
            ("type", "Entry"),
            ("type", "Mutex"),
            ("identifier", "element"),
            ("identifier", "list"),
        },
        id="go",
    ),
    pytest.param(
        "rust",
        {
            ("call", "refill"),
            ("call", "or_insert_with"),
            ("call", "write"),
            ("call", "from_secs"),
            ("implementation", "Display"),
            ("type", "Instant"),
            ("identifier", "elapsed"),
        },
        id="rust",
    ),
    pytest.param(
        "java",
        {
            ("call", "requireNonNull"),
            ("call", "multiply"),
            ("class", "BigDecimal"),
            ("class", "HashMap"),
            ("implementation", "Function"),
            ("type", "Account"),
            ("identifier", "discount"),
        },
        id="java",
    ),
    pytest.param(
        "c",
        {
            ("call", "malloc"),
            ("call", "ring_used"),
            ("call", "memset"),
            ("type", "ring_t"),
            ("identifier", "RING_MIN"),
            ("identifier", "capacity"),
        },
        id="c",
    ),
    pytest.param(
        "cpp",
        {
            ("call", "hypot"),
            ("call", "area"),
            ("class", "Shape"),
            ("type", "ShapeList"),
            ("type", "Point"),
            ("identifier", "kPi"),
            ("identifier", "std"),
        },
        id="cpp",
    ),
]


@pytest.mark.parametrize(("language_id", "expected"), TAG_REFERENCES)
def test_tag_references(
    registry: LanguageRegistry, language_id: str, expected: set[tuple[str, str]]
) -> None:
    found = tags(registry, language_id, "reference")
    assert expected <= found
    keywords = {"def", "return", "class", "const", "func", "fn", "struct", "if", "while"}
    assert {name for _, name in found} & keywords == set()


# -- imports.scm ------------------------------------------------------------------------

IMPORTS = [
    pytest.param(
        "python",
        {
            "logging": set(),
            "os.path": set(),
            "collections": {"defaultdict"},
            "dataclasses": {"dataclass", "field"},
            "typing": {"Iterable", "Protocol"},
            ".": {"events"},
            "..storage.backend": {"Backend", "open_backend"},
        },
        id="python",
    ),
    pytest.param(
        "javascript",
        {
            "express": {"express"},
            "node:fs/promises": {"readFile", "writeFile"},
            "path": set(),
            "./cart.js": {"Cart", "totals"},
            "uuid": {"v4"},
            "./config.json": set(),
        },
        id="javascript",
    ),
    pytest.param(
        "javascriptreact",
        {"react": {"React", "useState"}, "./format": {"formatPrice"}},
        id="jsx",
    ),
    pytest.param(
        "typescript",
        {
            "./logger": {"Logger"},
            "events": {"EventEmitter"},
            "../store": {"defaultStore", "Store", "Snapshot"},
            "fs": set(),
        },
        id="typescript",
    ),
    pytest.param(
        "typescriptreact",
        {
            "react": {"React", "useEffect", "useState"},
            "./api/types": {"User"},
            "./api/client": {"fetchUser"},
        },
        id="tsx",
    ),
    pytest.param(
        "go",
        {
            "container/list": set(),
            "sync": set(),
            "time": set(),
            "github.com/sirupsen/logrus": set(),
            "embed": set(),
            "errors": set(),
        },
        id="go",
    ),
    pytest.param(
        "rust",
        {
            "std::collections": {"HashMap"},
            "std::fmt": {"self", "Display"},
            "std::time": {"Duration", "Instant"},
            "crate::clock": {"Clock"},
            "super": {"*"},
        },
        id="rust",
    ),
    pytest.param(
        "java",
        {
            "java.math": {"BigDecimal"},
            "java.util": {"*"},
            "java.util.function": {"Function"},
            "java.util.Objects": {"requireNonNull"},
        },
        id="java",
    ),
    pytest.param(
        "c",
        {"<stdlib.h>": set(), "<string.h>": set(), "ring.h": set()},
        id="c",
    ),
    pytest.param(
        "cpp",
        {
            "<cmath>": set(),
            "<memory>": set(),
            "<string>": set(),
            "<vector>": set(),
            "shapes/registry.hpp": set(),
        },
        id="cpp",
    ),
]


@pytest.mark.parametrize(("language_id", "expected"), IMPORTS)
def test_imports(
    registry: LanguageRegistry, language_id: str, expected: dict[str, set[str]]
) -> None:
    found: dict[str, set[str]] = defaultdict(set)
    for match in run(registry, language_id, "imports"):
        (module,) = match["import.module"]
        found[text(module)] |= {text(name) for name in match.get("import.name", [])}
    assert found == expected
