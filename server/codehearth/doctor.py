"""``doctor``: checks of the setup, each a row (check, status, detail, fix).

The settings' problems, each model endpoint's reachability, each role's route (which model
answers, what is skipped and why), the embedded model, the completion model's prompt
template, the grammars and the cache directory. ``codehearth doctor`` runs them on a pool
built from the settings; the server's ``codehearth.doctor`` command on its live pool, with
the settings the editor gave it. ``render_table`` prints them as the CLI does.
"""

from __future__ import annotations

from codehearth.completion.engine import detect_model_family
from codehearth.index.store import default_cache_root
from codehearth.languages import LanguageRegistry
from codehearth.models.embedded_backend import embedded_available
from codehearth.models.errors import BackendError
from codehearth.models.ollama_backend import OllamaBackend
from codehearth.models.pool import ModelPool, describe_candidate
from codehearth.settings import CompletionSettings, Settings

Row = tuple[str, str, str, str]
"""(check, status: OK | INFO | WARN | FAIL, detail, fix)"""

HEADINGS = ("CHECK", "STATUS", "DETAIL", "FIX")


async def run_checks(settings: Settings, problems: list[str], pool: ModelPool) -> list[Row]:
    """Every check, the settings' ``problems`` (warnings from reading them) first."""
    rows: list[Row] = [("settings", "WARN", problem, "fix your settings") for problem in problems]
    rows.extend(await model_rows(settings, pool))
    rows.extend(grammar_rows())
    rows.append(cache_row())
    return rows


def failed(rows: list[Row]) -> bool:
    return any(status == "FAIL" for _, status, _, _ in rows)


def as_dicts(rows: list[Row]) -> list[dict[str, str]]:
    return [dict(zip(("check", "status", "detail", "fix"), row, strict=True)) for row in rows]


async def model_rows(settings: Settings, pool: ModelPool) -> list[Row]:
    """Each endpoint's reachability, each role's route (best first), the embedded model and
    the completion model's prompt template."""
    rows: list[Row] = []
    found = await pool.discover()
    embedded_answers = any(e.kind == "embedded" for e in pool.backends)
    for endpoint, listed in found.items():
        if endpoint.kind == "embedded":
            continue
        where = "this machine" if endpoint.local else "ANOTHER machine"
        if isinstance(listed, list):
            backend = pool.backend(endpoint)
            version = ""
            if isinstance(backend, OllamaBackend):
                version = f", Ollama {await backend.version()}"
                listed = [
                    f"{model} (cloud: {host})" if (host := backend.remote_host(model)) else model
                    for model in listed
                ]
            detail = f"{endpoint.url} ({where}{version}): {', '.join(listed) or 'no models'}"
            rows.append((f"endpoint {endpoint.kind}", "OK", detail, ""))
        else:
            status = "WARN" if embedded_answers else "FAIL"
            fix = "start Ollama: `ollama serve`" if endpoint.kind == "ollama" else ""
            rows.append((f"endpoint {endpoint.kind}", status, listed.message, fix))
    if embedded_available():
        rows.append(
            (
                "embedded model",
                "OK" if embedded_answers else "INFO",
                "llama-cpp-python installed"
                + ("" if embedded_answers else "; models.embedded is off"),
                "",
            )
        )
    else:
        rows.append(
            (
                "embedded model",
                "INFO",
                "not installed (used when no Ollama answers)",
                "pip install 'codehearth[embedded]' (builds llama.cpp: a few minutes)",
            )
        )
    answering = {e for e, listed in found.items() if isinstance(listed, list)}
    for role, candidates in pool.router.roles.items():
        route = pool.router.route(role)
        usable = {c for c in route.candidates if c.endpoint in answering}
        skipped = dict(route.skipped)
        for rank, candidate in enumerate(candidates, start=1):
            check, label = f"route {role} #{rank}", describe_candidate(candidate)
            if candidate in usable and not pool.router.is_missing(candidate):
                rows.append((check, "OK", label, ""))
                continue
            # A failure only when nothing else can answer; memory search works without
            # embeddings (BM25 alone), so the embed role only ever warns.
            status = "WARN" if usable - {candidate} or role == "embed" else "FAIL"
            if candidate.endpoint in found and candidate.endpoint not in answering:
                rows.append((check, status, f"{label}: its endpoint does not answer", ""))
            elif not pool.router.allow_cloud and pool.router.cloud_model(candidate):
                rows.append(
                    (
                        check,
                        status,
                        f"{label}: {skipped.get(candidate, '')}",
                        "set models.allowCloud = true to send it prompts",
                    )
                )
            elif pool.router.is_missing(candidate) and candidate.endpoint.kind == "ollama":
                rows.append(
                    (
                        check,
                        status,
                        f"{label}: model not pulled",
                        f"ollama pull {candidate.model}",
                    )
                )
            elif pool.router.is_missing(candidate):
                rows.append(
                    (
                        check,
                        status,
                        f"{label}: the server does not serve this model",
                        "use a model id it lists (see its endpoint row above)",
                    )
                )
            else:
                rows.append((check, status, f"{label}: {skipped.get(candidate, '')}", ""))
    completion = [c for c in pool.role("completion").choices() if c.candidate.endpoint in answering]
    if completion:
        choice = completion[0]
        family = choice.candidate.family or settings.completion.family
        try:
            show = await choice.backend.show(choice.model)
            detection = await detect_model_family(choice.backend, choice.model, show, family)
            detail = f"{choice.model}: {detection.family} ({detection.reason})"
            if detection.family == "plain" and family is None:
                fim_model = CompletionSettings().model
                rows.append(
                    (
                        "completion template",
                        "WARN",
                        f"{detail}: completions see only the code before the cursor",
                        f"use a fill-in-the-middle model such as {fim_model} (`ollama pull "
                        f"{fim_model}`, then set completion.model), or set "
                        "completion.family if this model was trained for FIM",
                    )
                )
            else:
                rows.append(("completion template", "OK", detail, ""))
        except BackendError as error:
            rows.append(("completion template", "WARN", error.message, ""))
    return rows


def grammar_rows() -> list[Row]:
    """Each language's tree-sitter grammar: installed, or how to install it."""
    rows: list[Row] = []
    registry = LanguageRegistry.load()
    for spec in registry.specs:
        check = f"grammar {spec.language_id}"
        if registry.parser(spec.language_id) is not None:
            rows.append((check, "OK", spec.grammar, ""))
        else:
            status = "INFO" if spec.optional else "FAIL"
            install = f"pip install {spec.grammar.replace('_', '-')}"
            rows.append((check, status, f"{spec.grammar} not installed", install))
    return rows


def cache_row() -> Row:
    """Whether the cache directory can be written."""
    folder = default_cache_root()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".doctor-probe"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as error:
        return ("cache dir", "FAIL", f"{folder}: {error}", "make it writable or set XDG_CACHE_HOME")
    return ("cache dir", "OK", str(folder), "")


def render_table(rows: list[Row]) -> str:
    """The rows as an aligned text table, each fix on a line of its own under its row."""
    widths = [max(len(row[i]) for row in [HEADINGS, *rows]) for i in range(2)]
    pad = f"{'':<{widths[0]}}  {'':<{widths[1]}}  "
    lines = [f"{HEADINGS[0]:<{widths[0]}}  {HEADINGS[1]:<{widths[1]}}  {HEADINGS[2]}"]
    for check, status, detail, fix in rows:
        lines.append(f"{check:<{widths[0]}}  {status:<{widths[1]}}  {detail}")
        if fix:
            lines.append(f"{pad}fix: {fix}")
    return "\n".join(lines) + "\n"
