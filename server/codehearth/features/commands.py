"""Commands (``workspace/executeCommand``): ``codehearth.suggestionAccepted`` (run by the
editor when a suggestion is accepted; recorded in recall memory) and ``codehearth.status``:
the routing table (each role's models in order, endpoint health, which model answered and
whether a fallback is answering), the completion model and its template family, the
completion engine's counters and recent backend latencies, and the state of the index,
memory and style profile (and whether it is built yet; used by the status UI,
``bench/latency.py``, ``codehearth eval`` and tests), and
``codehearth.doctor``: ``codehearth doctor``'s checks of the server's own settings and
models, as rows and as the CLI's table.
"""

from __future__ import annotations

from typing import Any

import attrs

from codehearth import __version__, doctor
from codehearth.features.inline_completion import ACCEPTED_COMMAND
from codehearth.models.errors import BackendError
from codehearth.server import CodeHearthServer

STATUS_COMMAND = "codehearth.status"
DOCTOR_COMMAND = "codehearth.doctor"


@attrs.define
class AcceptedArgs:
    uri: str
    text: str


def register(server: CodeHearthServer) -> None:
    @server.command(ACCEPTED_COMMAND)
    async def suggestion_accepted(ls: CodeHearthServer, args: AcceptedArgs) -> None:
        ls.outcomes.accepted(args.uri, args.text)

    @server.command(DOCTOR_COMMAND)
    async def run_doctor(ls: CodeHearthServer) -> dict[str, Any]:
        if not await ls.wait_ready() or ls.models is None:
            return {"ok": False, "error": "CodeHearth is still starting"}
        rows = await doctor.run_checks(ls.settings, list(ls.settings_problems), ls.models)
        return {
            "ok": not doctor.failed(rows),
            "checks": doctor.as_dicts(rows),
            "table": doctor.render_table(rows),
        }

    @server.command(STATUS_COMMAND)
    async def status(ls: CodeHearthServer) -> dict[str, Any]:
        engine = ls.engine
        report: dict[str, Any] = {"version": __version__, "ready": engine is not None}
        if engine is None:
            return report
        if ls.models is not None:
            report["models"] = ls.models.describe()
        report["completion"] = {
            "enabled": engine.settings.enabled,
            "model": engine.settings.model,
            "numCtx": engine.settings.num_ctx,
        }
        if answered := ls.answered_by("completion"):
            report["completion"]["answeredBy"] = answered
        choices = engine.backend.choices()
        if not choices:
            report["completion"]["problem"] = "no completion model can answer now"
        try:
            if choices:
                profile = await engine.profile(choices[0])
                report["completion"]["answeringModel"] = choices[0].label
                report["completion"]["family"] = profile.detection.family
                report["completion"]["familyReason"] = profile.detection.reason
        except BackendError as error:
            report["completion"]["problem"] = error.message
        report["engine"] = engine.stats.as_dict()
        report["cachedCompletions"] = len(engine.generations)
        index = ls.index
        report["index"] = (
            {"ready": index.ready, "lexicalReady": index.lexical_ready, **index.stats()}
            if index is not None
            else {"ready": False}
        )
        memory = ls.memory
        report["memory"] = (
            {"available": memory.available, "problem": memory.problem}
            if memory is not None
            else {"available": False, "problem": "not open"}
        )
        report["style"] = sorted(ls.style.profiles) if ls.style is not None else []
        report["styleReady"] = ls.style is not None
        return report
