"""One code action, from request to verified edit: region, prompt, refine loop, checks.

``run_action`` is what the LSP layer calls when a CodeHearth action is resolved: it takes
the region (whole lines of the diagnostic or selection), builds the action's prompt (with
the user's style block and workspace context), runs the refine loop against a chat model
and the verifiers, and validates the resulting proposal (only the target document, only the
region, current version). Only a verified, validated edit comes back as ``edit``; anything
else comes back with the reason and the best draft, for a chat answer. A user-defined
action (``ActionJob.template``) takes the same path with its own prompt. No pygls here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import attrs

from codehearth.languages import LanguageRegistry
from codehearth.prompts.actions import (
    ActionRequest,
    DiagnosticInfo,
    Message,
    action_messages,
    context_around,
    custom_action_messages,
)
from codehearth.refine.edits import (
    EditProposal,
    TextRange,
    line_starts,
    offset_at,
    range_text,
    validate_proposal,
)
from codehearth.refine.fixers import line_repairs, ruff_fixes, syntax_repairs
from codehearth.refine.loop import Model, RefineResult, RefineTask, Verifier, refine
from codehearth.refine.verify import Candidate, TargetDiagnostic, Verdict, find_ruff, verify

RUFF_CODE = re.compile(r"[A-Z]{1,3}\d{3,4}")
"""A ruff rule code (F401, E711, UP035): the diagnostics ruff itself may fix."""
EDIT_ACTIONS = ("quick_fix", "add_docstring", "add_type_hints", "simplify")
"""Actions whose answer replaces the region (explain and write_tests answer in chat)."""


@attrs.frozen
class ActionJob:
    """What the client asked for, in code points (0-based lines)."""

    kind: str
    uri: str
    version: int | None
    path: str
    language_id: str
    text: str
    start_line: int
    end_line: int
    diagnostic: TargetDiagnostic | None = None
    style_block: str = ""
    context: tuple[tuple[str, str], ...] = ()
    template: str = ""
    """A user-defined action's prompt template (see
    :func:`codehearth.prompts.actions.fill_template`); empty for the built-in actions."""


@attrs.frozen
class ActionOutcome:
    """The refine result plus the final validation; ``edit`` only when both passed."""

    result: RefineResult
    edit: EditProposal | None
    reason: str


def region_for(text: str, start_line: int, end_line: int) -> TextRange:
    """Whole lines ``start_line``..``end_line`` (clamped to the document), newline excluded."""
    lines = text.split("\n")
    last = max(0, len(lines) - 1)
    start = min(max(start_line, 0), last)
    end = min(max(end_line, start), last)
    return TextRange(start, 0, end, len(lines[end].rstrip("\r")))


def action_prompt(job: ActionJob, *, edits_region: bool = True) -> tuple[TextRange, list[Message]]:
    """The region ``job`` works on and its first prompt: the built-in action's, or the
    job's template (whose answer replaces the region unless ``edits_region`` is False)."""
    region = region_for(job.text, job.start_line, job.end_line)
    starts = line_starts(job.text)
    start = offset_at(job.text, region.start_line, region.start_char, starts)
    end = offset_at(job.text, region.end_line, region.end_char, starts)
    before, after = context_around(job.text, start, end)
    diagnostic = job.diagnostic
    request = ActionRequest(
        path=job.path,
        language_id=job.language_id,
        selection=range_text(job.text, region),
        before=before,
        after=after,
        diagnostic=(
            DiagnosticInfo(diagnostic.code, diagnostic.message, diagnostic.line)
            if diagnostic is not None
            else None
        ),
        style_block=job.style_block,
        context=job.context,
    )
    if job.template:
        return region, custom_action_messages(job.template, request, edits_region=edits_region)
    return region, action_messages(job.kind, request)


def checking_verifier(
    *, trusted: bool = False, registry: LanguageRegistry | None = None
) -> Verifier:
    """:func:`codehearth.refine.verify.verify` off the event loop, with parsers of its own
    (tree-sitter parsers are not thread-safe): ``registry``'s, when nothing else uses them
    meanwhile, else a new registry's."""
    registry = registry or LanguageRegistry.load()

    async def verifier(candidate: Candidate) -> Verdict:
        return await asyncio.to_thread(verify, candidate, registry=registry, trusted=trusted)

    return verifier


def drafts_without_model(
    job: ActionJob, region: TextRange, registry: LanguageRegistry
) -> list[str]:
    """A quick fix's drafts that need no model: a one-token syntax repair or a one-line
    repair for a syntax error, ruff's own fix for a ruff diagnostic (blocking: run in a
    thread)."""
    if job.kind != "quick_fix" or job.diagnostic is None:
        return []
    drafts = syntax_repairs(registry, job.language_id, job.text, region)
    drafts += [
        draft
        for draft in line_repairs(registry, job.language_id, job.text, region, job.diagnostic.line)
        if draft not in drafts
    ]
    ruff = find_ruff() if job.language_id == "python" else None
    code = job.diagnostic.code
    if ruff is not None and code and RUFF_CODE.fullmatch(code):
        drafts.extend(ruff_fixes(ruff, job.text, region, code))
    return drafts


async def run_action(
    job: ActionJob,
    model: Model,
    *,
    workspace_root: Path | None,
    current_version: Callable[[], int | None],
    max_rounds: int = 3,
    time_budget_s: float = 30.0,
    trusted: bool = False,
    critic: Model | None = None,
    fixes_without_model: bool = True,
) -> ActionOutcome:
    """Draft, verify, critique and refine an edit for ``job``; see the module docstring.
    ``critic``: a model that reviews failed drafts (see :func:`refine.loop.refine`);
    ``fixes_without_model``: verify the drafts of :func:`drafts_without_model` first."""
    if job.kind not in EDIT_ACTIONS and not job.template:
        raise ValueError(f"{job.kind} does not edit code")
    region, messages = action_prompt(job)
    task = RefineTask(
        uri=job.uri,
        version=job.version,
        language_id=job.language_id,
        text=job.text,
        region=region,
        messages=tuple(messages),
        diagnostic=job.diagnostic,
    )
    # One registry: the drafts are made before the verifier runs, never beside it.
    registry = LanguageRegistry.load()
    verifier = checking_verifier(trusted=trusted, registry=registry)
    drafts = (
        await asyncio.to_thread(drafts_without_model, job, region, registry)
        if fixes_without_model
        else []
    )
    result = await refine(
        task,
        model,
        verifier,
        max_rounds=max_rounds,
        time_budget_s=time_budget_s,
        critic=critic,
        drafts=drafts,
    )
    if result.edit is None:
        return ActionOutcome(result, None, result.reason)
    validation = validate_proposal(
        result.edit,
        target_uri=job.uri,
        current_version=current_version(),
        workspace_root=workspace_root or Path(job.path).parent,
        target_path=Path(job.path),
        document_text=job.text,
        allowed_range=region,
    )
    if not validation.ok:
        return ActionOutcome(result, None, validation.reason)
    return ActionOutcome(result, result.edit, "verified")
