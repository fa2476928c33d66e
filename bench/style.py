"""Style inference accuracy on real projects whose formatter settings are known.

Corpus: the source of packages pip installed in this venv. Installed packages do not
ship their ``pyproject.toml``, so each project's expected indentation, string quotes and
line limit come from its documented formatter settings (the ``EXPECTED`` table says
which and why, and each was checked against the installed code). ``build_profile`` runs
on each package folder with ``hide_configs=True``: inference alone is measured.

Per project it prints what was inferred (only confident attributes count; a low-confidence
or missing attribute is a miss) with its confidence (indentation and quotes: the share of
the files' votes the value won; line length: how clear the wall is) and, per attribute,
the share of projects where the inference matches. One JSON object. Target (issue
"Personal context repository"): at least 95% on indentation, quotes and line length;
runtime under 2 minutes.
"""

import os
import sys

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import importlib.util
import json
import time
from pathlib import Path
from typing import Any

from codehearth.languages import LanguageRegistry
from codehearth.style.profile import build_profile

# package folder: (indentation, quotes, line limit, excludes, why). None: not graded.
EXPECTED: dict[str, tuple[str, str | None, int | None, tuple[str, ...], str]] = {
    "attr": ("4 spaces", "double", 79, (), "attrs: Ruff formatter with line-length = 79"),
    "cattrs": ("4 spaces", "double", 88, (), "cattrs: Black/Ruff format, default 88"),
    "httpx": ("4 spaces", "double", 88, (), "httpx: Ruff formatter, default 88"),
    "httpcore": ("4 spaces", "double", 88, (), "httpcore: Ruff formatter, default 88"),
    "h11": ("4 spaces", "double", 88, (), "h11: Black, default 88"),
    "hypothesis": ("4 spaces", "double", 88, (), "hypothesis: Black (via shed), 88"),
    "pygls": (
        "4 spaces",
        "double",
        88,
        (),
        "pygls: Ruff formatter, default 88; its generated lsp/_*.py files say DO NOT EDIT "
        "and are skipped by the extractor",
    ),
    "lsprotocol": (
        "4 spaces",
        "double",
        88,
        (),
        "lsprotocol: Black 88; types.py is generated (skipped as such)",
    ),
    "mypy": (
        "4 spaces",
        "double",
        99,
        ("typeshed/",),
        "mypy: Black/Ruff with line-length = 99; the vendored typeshed stubs follow "
        "typeshed's own settings (130) and are excluded",
    ),
    "_pytest": ("4 spaces", "double", 88, (), "pytest: Ruff formatter, 88"),
    "pluggy": ("4 spaces", "double", 88, (), "pluggy: Ruff formatter, default 88"),
    "anyio": ("4 spaces", "double", 88, (), "anyio: Ruff formatter, default 88"),
    "packaging": (
        "4 spaces",
        "double",
        88,
        (),
        "packaging: Black/Ruff default 88; licenses/_spdx.py is generated SPDX data, "
        "written by a script with repr() quotes, and left out by the extractor as a data file",
    ),
    "pydantic": (
        "4 spaces",
        "single",
        120,
        (),
        "pydantic: Ruff with line-length = 120 and [format] quote-style = 'single'",
    ),
    "pathspec": (
        "tabs",
        None,
        None,
        (),
        "pathspec: indented with tabs by its author; no formatter, so quotes and "
        "line length are not graded",
    ),
}
ATTRIBUTES = ("indentation", "quotes", "line_length")
CONFIDENCE_OF = {
    "indentation": "indent.style",
    "quotes": "quotes.strings",
    "line_length": "line_length.limit",
}


def inferred(folder: Path, registry: LanguageRegistry, excludes: tuple[str, ...]) -> dict[str, Any]:
    profile = build_profile(folder, registry, hide_configs=True, excludes=excludes).profile(
        "python"
    )
    if profile is None:
        return {name: None for name in ATTRIBUTES} | {"confidence": {}, "files": 0}
    style, size = profile.value("indent.style"), profile.value("indent.size")
    indentation = "tabs" if style == "tabs" else f"{size} spaces" if style == "spaces" else None
    confidence = {
        name: profile.attributes[attribute].confidence
        for name, attribute in CONFIDENCE_OF.items()
        if attribute in profile.attributes
    }
    return {
        "indentation": indentation,
        "quotes": profile.value("quotes.strings"),
        "line_length": profile.value("line_length.limit"),
        "confidence": confidence,
        "files": profile.files,
    }


def main() -> None:
    registry = LanguageRegistry.load()
    started = time.perf_counter()
    projects: dict[str, Any] = {}
    hits = dict.fromkeys(ATTRIBUTES, 0)
    graded = dict.fromkeys(ATTRIBUTES, 0)
    for package, (indentation, quotes, limit, excludes, why) in EXPECTED.items():
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        found = inferred(Path(spec.origin).parent, registry, excludes)
        expected = {"indentation": indentation, "quotes": quotes, "line_length": limit}
        result: dict[str, Any] = {"why": why, "files": found["files"]}
        for name in ATTRIBUTES:
            if expected[name] is None:
                continue
            graded[name] += 1
            hits[name] += found[name] == expected[name]
            result[name] = {
                "expected": expected[name],
                "inferred": found[name],
                "confidence": found["confidence"].get(name),
            }
        projects[package] = result
    accuracy = {
        name: round(hits[name] / graded[name], 3) if graded[name] else None for name in ATTRIBUTES
    }
    print(
        json.dumps(
            {
                "benchmark": "style",
                "projects": projects,
                "accuracy": accuracy,
                "graded": graded,
                "target_accuracy": 0.95,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
