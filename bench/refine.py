"""Quick fixes from a weak model: single-shot against the refine loop, in one run.

Twelve broken Python snippets (syntax errors, undefined names, unused imports, wrong
indentation) each get the first finding ``ruff`` reports as the diagnostic to fix. The fake
Ollama answers like a weak model: its first draft for every snippet is wrong (it does not
parse, or the diagnostic stays); shown the verifier's failure in a critique, it answers
right. Both modes ask the same fake model with the same quick-fix prompt:

* ``single_shot``: the prompt once, and the edit made from the first answer offered as it
  is (what a tool without verification does), through the refine package;
* ``refine_loop``: the real server over stdio (``codeAction``, then ``codeAction/resolve``,
  and the command it hands a slow run to), three rounds at most, every fix the model's
  (``actions.fixesWithoutModel`` off); its rounds come from ``codehearth.refineTrace``;
* ``with_fixes_without_model``: the same with the default settings: the fixes that need no
  model (a one-token syntax repair, ruff's own fix) are verified first, and the model is
  asked only when none verifies (``fixed_without_model`` counts those).

Every offered edit is then judged the same way: applied to the snippet, it must parse
(tree-sitter) and clear the diagnostic without a new finding (``ruff``). Prints one JSON
object; ``only_verified_offered`` is true when every edit the loop offered passes and was
verified by the server.

``--embedded`` asks the real built-in model for edits (SmolLM2-135M-Instruct through
llama.cpp) instead of the fake, in every mode (the server with Ollama unreachable, so the
router falls back to it): the figures are then whatever that small model achieves, printed
as they are.
"""

import os
import sys

# Run as a script, this folder is sys.path[0], and this file would shadow the standard
# library's `typing`; put the repository root there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from tests.fakes.fake_ollama import FakeOllama

from codehearth.client import ScriptedClient
from codehearth.languages import LanguageRegistry
from codehearth.models.backend import ModelBackend
from codehearth.models.embedded_backend import DEFAULT_INSTRUCT_MODEL, EmbeddedBackend
from codehearth.models.ollama_backend import OllamaBackend
from codehearth.refine.actions import ActionJob, action_prompt
from codehearth.refine.edits import (
    EditProposal,
    TextEdit,
    apply_edits,
    edits_from_answer,
    range_text,
    validate_proposal,
)
from codehearth.refine.verify import (
    TargetDiagnostic,
    diagnostic_cleared,
    find_ruff,
    parses,
    ruff_findings,
)
from codehearth.settings import ActionSettings

MODEL = ActionSettings().model
NUM_CTX = ActionSettings().num_ctx
MAX_ROUNDS = 3
ACTION_SECONDS = 300.0
"""Longest wait for one quick fix (the built-in model on a CPU is slow)."""
RUFF = find_ruff() or sys.exit("bench/refine.py needs ruff (pip install ruff)")
REGISTRY = LanguageRegistry.load()

# name: (category, snippet, wrong first draft, right answer) for the diagnostic's line
CASES = {
    "missing_colon": (
        "syntax error",
        "def add(a, b)\n    return a + b\n",
        "def add(a, b) -> int",
        "def add(a, b):",
    ),
    "unclosed_string": (
        "syntax error",
        'name = "world\nprint(name)\n',
        "name = \"world'",
        'name = "world"',
    ),
    "extra_paren": (
        "syntax error",
        "result = max(1, 2))\nprint(result)\n",
        "result = max(1, 2)))",
        "result = max(1, 2)",
    ),
    "undefined_pi": (
        "undefined name",
        "def area(r):\n    return pi * r ** 2\n",
        "    return PI * r ** 2",
        "    return 3.141592653589793 * r ** 2",
    ),
    "undefined_typo": (
        "undefined name",
        "def total(items):\n    return sum(item for item in itemz)\n",
        "    return sum(item for item in itemz if item)",
        "    return sum(item for item in items)",
    ),
    "undefined_suffix": (
        "undefined name",
        "def shout(text):\n    return text.upper() + suffix\n",
        "    return text.upper() + suffix()",
        '    return text.upper() + "!"',
    ),
    "unused_os": (
        "unused import",
        "import os\nimport sys\n\nprint(sys.argv)\n",
        "import os as",
        "",
    ),
    "unused_from": (
        "unused import",
        "from collections import OrderedDict, deque\n\nqueue = deque()\n",
        "from collections import OrderedDict, deque, defaultdict",
        "from collections import deque",
    ),
    "unused_path": (
        "unused import",
        "from os import path, sep\n\nprint(sep)\n",
        "from os import path as p, sep",
        "from os import sep",
    ),
    "over_indented": (
        "wrong indentation",
        "def f(x):\n    y = x + 1\n      return y\n",
        "        return y",
        "    return y",
    ),
    "missing_indent": (
        "wrong indentation",
        "for i in range(3):\nprint(i)\n",
        "print(i)  # the loop body",
        "    print(i)",
    ),
    "dedent_mismatch": (
        "wrong indentation",
        "def f():\n    a = 1\n  return a\n",
        "   return a",
        "    return a",
    ),
}


def fenced(code: str) -> str:
    return f"```python\n{code}\n```" if code else "```python\n```"


def weak_model(body: dict[str, Any]) -> str:
    """Wrong first; right once a critique shows what the verifier found."""
    messages = body["messages"]
    name = next(n for n in CASES if f"{n}.py" in messages[1]["content"])
    _, _, wrong, right = CASES[name]
    feedback = messages[-1]["content"] if len(messages) > 2 else ""
    shown_failure = "- parses" in feedback or "- diagnostic_cleared" in feedback
    return fenced(right if shown_failure else wrong)


def diagnostic_of(ruff: str, source: str) -> TargetDiagnostic:
    code, line, message = ruff_findings(ruff, source)[0]
    return TargetDiagnostic(code, message, line)


def passes(source: str, edits: list[TextEdit]) -> bool:
    """The edited snippet parses and the diagnostic is gone, with no new finding."""
    diagnostic = diagnostic_of(RUFF, source)
    if not parses(REGISTRY, "python", source, edits).ok:
        return False
    result = apply_edits(source, edits)
    return diagnostic_cleared("python", result, diagnostic, original_text=source, ruff=RUFF).ok


def summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    offered = [s for s in samples if s["edits"] is not None]
    cut = statistics.quantiles([s["ms"] for s in samples], n=100, method="inclusive")
    return {
        "offered_fraction": round(len(offered) / len(samples), 3),
        "valid_offered_fraction": (
            round(sum(s["valid"] for s in offered) / len(offered), 3) if offered else None
        ),
        "mean_rounds": round(statistics.fmean(s["rounds"] for s in samples), 2),
        "p50_ms": round(cut[49], 1),
        "p95_ms": round(cut[94], 1),
    }


async def single_shot(backend: ModelBackend, model: str, root: Path) -> list[dict[str, Any]]:
    """The quick-fix prompt once; the first answer's edit offered unverified."""
    samples = []
    try:
        for name, (_, source, _, _) in CASES.items():
            path = root / f"{name}.py"
            diagnostic = diagnostic_of(RUFF, source)
            job = ActionJob(
                "quick_fix",
                path.as_uri(),
                1,
                str(path),
                "python",
                source,
                diagnostic.line,
                diagnostic.line,
                diagnostic,
            )
            started = time.perf_counter()
            region, messages = action_prompt(job)
            answer = "".join(
                [chunk.content async for chunk in backend.chat(model, messages, num_ctx=NUM_CTX)]
            )
            edits = edits_from_answer(range_text(source, region), answer, region)
            proposal = EditProposal(job.uri, 1, tuple(edits))
            safe = validate_proposal(
                proposal,
                target_uri=job.uri,
                current_version=1,
                workspace_root=root,
                target_path=path,
                document_text=source,
                allowed_range=region,
            ).ok
            ms = (time.perf_counter() - started) * 1000
            offered = edits if safe else None
            samples.append(
                {
                    "edits": offered,
                    "valid": offered is not None and passes(source, offered),
                    "rounds": 1,
                    "ms": ms,
                    "verified": False,
                }
            )
    finally:
        await backend.aclose()
    return samples


def text_edits(edit: types.WorkspaceEdit, uri: str) -> list[TextEdit]:
    """The edits to ``uri`` in a workspace edit (as changes or document changes); the
    snippets are ASCII, so UTF-16 positions are code points."""
    if edit.document_changes:
        found = [
            e
            for change in edit.document_changes
            if isinstance(change, types.TextDocumentEdit) and change.text_document.uri == uri
            for e in change.edits
        ]
    else:
        found = list((edit.changes or {}).get(uri, []))
    return [
        TextEdit(
            e.range.start.line,
            e.range.start.character,
            e.range.end.line,
            e.range.end.character,
            e.new_text,
        )
        for e in found
    ]


async def refine_loop(
    ollama_url: str, embedded: str, root: Path, cache: Path, *, fixes_without_model: bool
) -> list[dict[str, Any]]:
    """The real server: codeAction, then codeAction/resolve, then the trace; with
    ``fixes_without_model`` (the default setting) the fixes that need no model are tried
    first."""
    options = {
        "ollama": {"host": ollama_url, "warmUp": False},
        "models": {"embedded": embedded},
        "index": {"enabled": False},
        "actions": {"maxRounds": MAX_ROUNDS, "fixesWithoutModel": fixes_without_model},
    }
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "XDG_DATA_HOME": str(cache)}
    samples = []
    async with ScriptedClient(root=root, initialization_options=options, env=env) as session:
        client = session.client
        for name, (_, source, _, _) in CASES.items():
            diagnostic = diagnostic_of(RUFF, source)
            uri = session.open(root / f"{name}.py", source, "python")
            line_end = len(source.split("\n")[diagnostic.line])
            where = types.Range(
                start=types.Position(line=diagnostic.line, character=0),
                end=types.Position(line=diagnostic.line, character=line_end),
            )
            actions = await client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    range=types.Range(start=where.start, end=where.start),
                    context=types.CodeActionContext(
                        diagnostics=[
                            types.Diagnostic(
                                range=where, message=diagnostic.message, code=diagnostic.code
                            )
                        ]
                    ),
                )
            )
            [stub] = [a for a in actions or [] if isinstance(a, types.CodeAction)]
            started = time.perf_counter()
            offered = await session.take_action(stub, ACTION_SECONDS)
            ms = (time.perf_counter() - started) * 1000
            traced = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="codehearth.refineTrace", arguments=[1])
            )
            [trace] = traced["traces"]
            edits = None if offered is None else text_edits(offered, uri)
            samples.append(
                {
                    "edits": edits,
                    "valid": edits is not None and passes(source, edits),
                    "rounds": len(trace["rounds"]),
                    "ms": ms,
                    "verified": trace["outcome"] == "verified" and trace["offered"],
                    # verified in round 0: a fix that needed no model
                    "without_model": bool(trace["rounds"])
                    and trace["outcome"] == "verified"
                    and all(r["round"] == 0 for r in trace["rounds"]),
                }
            )
    return samples


Runs = tuple[list[Any], list[Any], list[Any], str]


async def with_fake(root: Path, cache: Path) -> Runs:
    with FakeOllama() as fake:
        fake.responder = weak_model
        backend = OllamaBackend(fake.url)
        try:
            baseline = await single_shot(backend, MODEL, root)
        finally:
            await backend.aclose()
        looped = await refine_loop(fake.url, "off", root, cache, fixes_without_model=False)
        fixed = await refine_loop(fake.url, "off", root, cache, fixes_without_model=True)
    return (
        baseline,
        looped,
        fixed,
        f"{MODEL} on the fake Ollama: wrong first draft, right after the critique",
    )


async def with_embedded(root: Path, cache: Path) -> Runs:
    backend = EmbeddedBackend(bundled=DEFAULT_INSTRUCT_MODEL)  # the built-in model for edits
    try:
        baseline = await single_shot(backend, backend.model_name, root)
    finally:
        await backend.aclose()
    nowhere = "http://127.0.0.1:9"  # nothing listens: the built-in model answers
    looped = await refine_loop(nowhere, "prefer", root, cache, fixes_without_model=False)
    fixed = await refine_loop(nowhere, "prefer", root, cache, fixes_without_model=True)
    return baseline, looped, fixed, f"{backend.model_name}, the built-in model (llama.cpp, CPU)"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedded", action="store_true", help="ask the real built-in model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as cache:
        run = with_embedded if args.embedded else with_fake
        baseline, looped, fixed, model = await run(Path(folder), Path(cache))
    offered_by_loop = [s for s in (*looped, *fixed) if s["edits"] is not None]
    categories: dict[str, dict[str, int]] = {}
    for (category, *_), first, loop, both in zip(
        CASES.values(), baseline, looped, fixed, strict=True
    ):
        counts = categories.setdefault(
            category,
            {
                "cases": 0,
                "single_shot_valid": 0,
                "refine_loop_valid": 0,
                "with_fixes_without_model_valid": 0,
            },
        )
        counts["cases"] += 1
        counts["single_shot_valid"] += first["valid"]
        counts["refine_loop_valid"] += loop["valid"]
        counts["with_fixes_without_model_valid"] += both["valid"]
    result = {
        "benchmark": "refine-quick-fix",
        "model": model,
        "cases": len(CASES),
        "max_rounds": MAX_ROUNDS,
        "single_shot": summary(baseline),
        "refine_loop": summary(looped),
        "with_fixes_without_model": {
            **summary(fixed),
            "verified_fraction": round(sum(s["verified"] for s in fixed) / len(fixed), 3),
            "fixed_without_model": sum(s["without_model"] for s in fixed),
        },
        "per_category": categories,
        "only_verified_offered": all(s["valid"] and s["verified"] for s in offered_by_loop),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
