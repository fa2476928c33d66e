"""What the tree-sitter checks cost on a 2,000-line Python file (the standard library's
``inspect.py`` cut at a top-level statement near line 2,000).

* Syntax diagnostics (:func:`codehearth.syntax.syntax_problems`, run off the event loop):
  the file as it is, with one lost ``:`` (one repair), and with three errors, next to one
  plain parse of the file.
* A multi-line completion in a method body in the middle of the file: the output filters
  with the tree-sitter steps (block end and the parse check) against the same chain
  without them (no registry), i.e. what the checks add to each suggestion, on the event
  loop. The suggestion runs on past the method, so the block cut and both parses happen.

Prints one JSON object of medians in milliseconds. Target (issue 16): the completion
checks add a few milliseconds at most, far under a model's answer.
"""

import os
import sys

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import inspect
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from codehearth.completion.filters import FilterContext, apply_filters
from codehearth.languages import LanguageRegistry
from codehearth.syntax import syntax_problems

LINES = 2000
RUNS = 30
SUGGESTION = (
    '"""How many actions the parser knows."""\n'
    "        count = 0\n"
    "        for action in self._actions:\n"
    "            count += 1\n"
    "        return count\n"
    "\n"
    "    def other(self):\n"
    "        return None\n"
)


def two_thousand_lines() -> str:
    lines = Path(inspect.__file__).read_text(encoding="utf-8").split("\n")
    end = next(i for i in range(LINES, len(lines)) if lines[i][:1].isalpha())
    return "\n".join(lines[:end]) + "\n"


def broken(lines: list[str], edits: dict[int, Callable[[str], str]]) -> str:
    """The text with some lines changed."""
    return "\n".join(edits[i](line) if i in edits else line for i, line in enumerate(lines))


def median_ms(run: Callable[[], object]) -> float:
    run()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    registry = LanguageRegistry.load()
    text = two_thousand_lines()
    parser = registry.parser("python")
    assert parser is not None
    assert not parser.parse(text.encode()).root_node.has_error
    lines = text.split("\n")
    defs = [i for i, line in enumerate(lines) if line.startswith("def ") and line.endswith("):")]
    lost_colon = broken(lines, {defs[len(defs) // 2]: lambda line: line[:-1]})
    three = broken(
        lines,
        {
            defs[len(defs) // 4]: lambda line: line.replace("(", "(:", 1),
            defs[len(defs) // 2]: lambda line: line[:-1],
            defs[3 * len(defs) // 4]: lambda line: line.replace("):", ":"),
        },
    )

    method = next(i for i in range(LINES // 2, len(lines)) if lines[i].startswith("    def "))
    prefix = "\n".join(lines[:method]) + "\n    def count_actions(self):\n        "
    suffix = "\n\n" + "\n".join(lines[method:])

    def context(registry: LanguageRegistry | None) -> FilterContext:
        return FilterContext(
            prefix=prefix, suffix=suffix, multiline=True, language_id="python", registry=registry
        )

    filtered = apply_filters(SUGGESTION, context(registry))
    assert filtered.endswith("return count") and "def other" not in filtered, filtered

    report = {
        "file_lines": text.count("\n"),
        "parse_ms": median_ms(lambda: parser.parse(text.encode())),
        "diagnostics_clean_ms": median_ms(lambda: syntax_problems(registry, "python", text)),
        "diagnostics_one_error_ms": median_ms(
            lambda: syntax_problems(registry, "python", lost_colon)
        ),
        "diagnostics_three_errors_ms": median_ms(
            lambda: syntax_problems(registry, "python", three)
        ),
        "one_error": [p.message for p in syntax_problems(registry, "python", lost_colon)],
        "three_errors": [p.message for p in syntax_problems(registry, "python", three)],
        "completion_filters_ms": median_ms(lambda: apply_filters(SUGGESTION, context(registry))),
        "completion_filters_without_tree_sitter_ms": median_ms(
            lambda: apply_filters(SUGGESTION, context(None))
        ),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
