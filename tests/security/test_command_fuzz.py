"""Fuzzed ``workspace/executeCommand``: whatever arguments a client sends to any
``codehearth.*`` command, the server answers (a result or an error, never silence), stays
up, refuses bad arguments with -32602 (never an internal error), writes nothing outside
its cache and data folders and starts no process but its allowed tools (ruff, for the
verifier).

The server runs in the audit's strict mode (``CODEHEARTH_AUDIT_WRITABLE``): every write
outside those folders and every other process lands in the suite's audit log, which
``tests/conftest.py`` turns into a failure of this test. Arguments come from hypothesis:
mostly shaped like what each command takes (code-action data aimed at open, closed,
outside and odd URIs; memory records; chat questions about secret files), sometimes any
JSON at all.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.fake_ollama import FakeOllama
from tests.reliability.test_protocol import RawSession, frame
from tests.security.audit_site.codehearth_audit import WRITABLE_VARIABLE, SuiteAudit

KNOWN_COMMANDS = {
    "codehearth.status",
    "codehearth.suggestionAccepted",
    "codehearth.chat",
    "codehearth.explain",
    "codehearth.applyAction",
    "codehearth.refineTrace",
    "codehearth.style",
    "codehearth.memory.show",
    "codehearth.memory.add",
    "codehearth.memory.search",
    "codehearth.memory.forget",
    "codehearth.memory.export",
    "codehearth.memory.import",
    "codehearth.evalComplete",
}
SOURCE = "import os\nimport sys\n\n\ndef main():\n    print(sys.argv)\n"
CLIENT_REQUEST_ANSWERS = {
    "workspace/applyEdit": {"applied": False, "failureReason": "fuzzing"},
    "workspace/configuration": [None],
}
ACTIONS = ["quick_fix", "add_docstring", "add_type_hints", "simplify", "explain", "write_tests"]


class ClientSession(RawSession):
    """A raw session that answers the server's own requests as an editor would."""

    def response(self, msg_id: Any, timeout: float = 30) -> dict[str, Any]:
        while True:
            message = self.messages.get(timeout=timeout)
            if "method" in message and "id" in message:
                result = CLIENT_REQUEST_ANSWERS.get(message["method"])
                self.send(frame({"jsonrpc": "2.0", "id": message["id"], "result": result}))
            elif "method" not in message and message.get("id") == msg_id:
                return message

    def request(self, msg_id: Any, method: str, params: Any) -> dict[str, Any]:
        self.send(frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
        return self.response(msg_id)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "tool.py").write_text(SOURCE, encoding="utf-8")
    (root / ".env").write_text("API_KEY=not-for-models\n", encoding="utf-8")
    return root


@pytest.fixture
def strict_server(
    tmp_path: Path, project: Path, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ClientSession, list[str]]]:
    """The server, audited strictly, with ``tool.py`` and ``.env`` open; and the commands
    it registered."""
    cache, data = tmp_path / "cache", tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv(WRITABLE_VARIABLE, os.pathsep.join([str(cache), str(data)]))
    session = ClientSession(cache)
    try:
        initialized = session.request(
            "init",
            "initialize",
            {
                "processId": None,
                "rootUri": project.as_uri(),
                "capabilities": {"workspace": {"applyEdit": True}},
                "initializationOptions": {
                    "ollama": {"host": ollama.url, "warmUp": False},
                    "models": {"embedded": "off"},
                    "actions": {"maxRounds": 1, "timeBudgetSeconds": 5},
                },
            },
        )
        session.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        for name, language in (("tool.py", "python"), (".env", "dotenv")):
            session.send(
                frame(
                    {
                        "jsonrpc": "2.0",
                        "method": "textDocument/didOpen",
                        "params": {
                            "textDocument": {
                                "uri": (project / name).as_uri(),
                                "languageId": language,
                                "version": 1,
                                "text": (project / name).read_text(encoding="utf-8"),
                            }
                        },
                    }
                )
            )
        commands = initialized["result"]["capabilities"]["executeCommandProvider"]["commands"]
        yield session, commands
    finally:
        session.close()


def argument_shapes(project: Path) -> dict[str, st.SearchStrategy[list[Any]]]:
    """Per command, argument lists shaped like what it takes (values still hostile)."""
    uris = st.sampled_from(
        [
            (project / "tool.py").as_uri(),
            (project / ".env").as_uri(),
            (project / "missing.py").as_uri(),
            (project / ".." / "outside.py").as_uri(),
            "file:///etc/passwd",
            "file:///proc/self/environ",
            "untitled:Untitled-1",
            "not a uri",
        ]
    )
    lines = st.one_of(st.integers(0, 8), st.integers(-3, 2**40), st.text(max_size=4))
    position = st.fixed_dictionaries({"line": lines, "character": lines})
    selection = st.fixed_dictionaries({"start": position, "end": position})
    text = st.text(max_size=40)
    leaves = st.one_of(st.none(), st.booleans(), st.integers(), text, uris)
    action = st.fixed_dictionaries(
        {
            "uri": uris,
            "action": st.sampled_from([*ACTIONS, "custom", "rm -rf /"]),
            "startLine": lines,
            "endLine": lines,
        },
        optional={
            "version": st.one_of(st.none(), st.integers(0, 3), text),
            "title": text,
            "instruction": text,
            "diagnostic": st.fixed_dictionaries(
                {"code": text, "message": text, "line": lines, "char": lines}
            ),
        },
    )
    records = st.lists(
        st.dictionaries(st.sampled_from(["id", "kind", "text", "time", "v", "tags"]), leaves),
        max_size=3,
    )
    one = st.tuples
    return {
        "codehearth.status": st.just([]),
        "codehearth.suggestionAccepted": one(
            st.fixed_dictionaries({"uri": uris, "text": text})
        ).map(list),
        "codehearth.chat": one(
            st.fixed_dictionaries(
                {"question": text},
                optional={"uri": uris, "range": selection, "conversationId": text},
            )
        ).map(list),
        "codehearth.explain": one(st.fixed_dictionaries({"uri": uris, "range": selection})).map(
            list
        ),
        "codehearth.applyAction": one(action).map(list),
        "codehearth.refineTrace": st.lists(lines, max_size=1),
        "codehearth.style": st.lists(
            st.one_of(text, st.fixed_dictionaries({"languageId": text})), max_size=1
        ),
        "codehearth.evalComplete": one(
            st.fixed_dictionaries(
                {"uri": uris, "line": lines, "character": lines},
                optional={
                    "context": st.lists(
                        st.fixed_dictionaries({"path": st.one_of(text, uris), "text": text}),
                        max_size=3,
                    )
                },
            )
        ).map(list),
        "codehearth.memory.show": st.just([]),
        "codehearth.memory.add": one(
            st.fixed_dictionaries({"text": text}, optional={"tags": st.lists(text, max_size=3)})
        ).map(list),
        "codehearth.memory.search": one(
            st.fixed_dictionaries({"query": text}, optional={"limit": lines})
        ).map(list),
        "codehearth.memory.forget": one(st.fixed_dictionaries({"id": text})).map(list),
        "codehearth.memory.export": st.just([]),
        "codehearth.memory.import": one(
            st.fixed_dictionaries(
                {
                    "data": st.fixed_dictionaries(
                        {"format": st.sampled_from(["codehearth-memory", "x"]), "records": records}
                    )
                }
            )
        ).map(list),
    }


def any_arguments() -> st.SearchStrategy[list[Any]]:
    """Any JSON values, as a client with a bug would send."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
    )
    return st.lists(
        st.recursive(
            leaves,
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
            max_leaves=8,
        ),
        max_size=3,
    )


def test_fuzzed_commands_are_answered_and_stay_inside_their_folders(
    strict_server: tuple[ClientSession, list[str]], project: Path, suite_audit: SuiteAudit
) -> None:
    session, commands = strict_server
    assert KNOWN_COMMANDS <= set(commands)
    mark = suite_audit.mark()
    counter = iter(range(1_000_000))

    shapes = argument_shapes(project)

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(command=st.sampled_from(sorted(commands)), data=st.data())
    def fuzz(command: str, data: st.DataObject) -> None:
        shaped = data.draw(st.integers(0, 4), label="shaped") > 0
        args = data.draw(shapes.get(command, any_arguments()) if shaped else any_arguments())
        msg_id = next(counter)
        try:
            answer = session.request(
                msg_id, "workspace/executeCommand", {"command": command, "arguments": args}
            )
        except queue.Empty:
            raise AssertionError(f"{command} {args!r} got no answer") from None
        assert "result" in answer or answer["error"]["code"] in (-32602, -32801), answer

    fuzz()
    assert session.process.poll() is None, "the server died"
    assert session.request("last", "workspace/executeCommand", {"command": "codehearth.status"})
    assert suite_audit.since(mark) == []
    assert (project / "tool.py").read_text(encoding="utf-8") == SOURCE
    assert sorted(p.name for p in project.iterdir()) == [".env", "tool.py"]
