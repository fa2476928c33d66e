"""Completions whose workspace context is given by the caller rather than found in the
index: ``codehearth eval`` asks for them to measure what a model does when the definition
it needs is in its prompt (the "oracle" condition), and with no context at all.

:func:`complete_with_context` runs the same pipeline as an inline completion (cursor
analysis, the model the router picks, the FIM template, the prompt budget, the output
filters and the user's style) on a fresh engine that shares the server engine's model
routes, settings and calibrated token counter, so each call stands alone: no cached answer
and no context chosen for another cursor. The snippets go into the prompt in the order
given, within the prompt's context budget and ``limit`` tokens; one that does not fit
whole keeps its first lines (a definition's signature and docstring come first).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from codehearth.completion.engine import CompletionEngine, CompletionQuery, Suggestion
from codehearth.prompts.budget import BudgetSplit, TokenCounter
from codehearth.prompts.fim import ContextSnippet


@attrs.frozen
class GivenContext:
    """A context provider that packs the given snippets into the budget it is offered."""

    snippets: tuple[ContextSnippet, ...]
    counter: TokenCounter
    limit: int

    def __call__(self, query: CompletionQuery, split: BudgetSplit) -> tuple[ContextSnippet, ...]:
        return pack_snippets(self.snippets, self.counter, min(split.context_tokens, self.limit))


def pack_snippets(
    snippets: Sequence[ContextSnippet], counter: TokenCounter, budget: int
) -> tuple[ContextSnippet, ...]:
    """The snippets in order while they fit in ``budget`` tokens; the first that does not
    fit whole is cut to its first lines that do (none when not even one line fits), and
    the rest are left out."""
    packed: list[ContextSnippet] = []
    left = budget
    for snippet in snippets:
        if left <= 0:
            break
        size = counter.count(snippet.text)
        if size <= left:
            packed.append(snippet)
            left -= size
            continue
        lines = snippet.text.split("\n")
        kept: list[str] = []
        for line in lines:
            if counter.count("\n".join([*kept, line])) > left:
                break
            kept.append(line)
        if kept:
            packed.append(ContextSnippet(snippet.path, "\n".join(kept)))
        break
    return tuple(packed)


async def complete_with_context(
    engine: CompletionEngine,
    query: CompletionQuery,
    snippets: Sequence[ContextSnippet],
    limit: int,
) -> list[Suggestion]:
    """Suggestions at ``query`` with ``snippets`` as the workspace context (none: a prompt
    without workspace context), from the models ``engine`` routes to."""
    given = GivenContext(tuple(snippets), engine.counter, limit)
    alone = CompletionEngine(
        engine.backend,
        engine.settings,
        engine.registry,
        engine.report,
        context_provider=given,
        postprocess=engine.postprocess,
    )
    alone.counter = engine.counter
    alone.context_watch = engine.context_watch
    try:
        return await alone.complete(query)
    finally:
        await alone.aclose()
