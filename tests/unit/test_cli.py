"""The ``codehearth`` command: FILE:LINE:COL parsing, the workspace root of a file,
``doctor`` against the fake Ollama, and ``complete`` through a real server subprocess
(run once per module: starting the server costs seconds)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from tests.fakes.fake_ollama import VERSION, FakeOllama, RecordedRequest
from tests.fakes.fake_openai import FakeVLLM

from codehearth.cli import _parse_location, main, workspace_root_for
from codehearth.models.embedded_backend import embedded_available

SOURCE = "def add(a, b):\n    \n"


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Run in an empty folder with a private cache dir and no $OLLAMA_HOST."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    return tmp_path


def has_marker_above(path: Path) -> bool:
    return any(
        (folder / ".git").exists() or (folder / "codehearth.toml").exists()
        for folder in path.resolve().parents
    )


# -- FILE:LINE:COL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        pytest.param("calc.py:2:5", (Path("calc.py"), 1, 4), id="relative"),
        pytest.param("/src/calc.py:1:1", (Path("/src/calc.py"), 0, 0), id="absolute-first"),
        pytest.param("my dir/calc.py:10:12", (Path("my dir/calc.py"), 9, 11), id="space"),
        pytest.param("a:b.py:3:7", (Path("a:b.py"), 2, 6), id="colon-in-name"),
    ],
)
def test_parse_location_turns_one_based_into_zero_based(
    location: str, expected: tuple[Path, int, int]
) -> None:
    assert _parse_location(location) == expected


@pytest.mark.parametrize(
    ("location", "message"),
    [
        pytest.param("calc.py:0:1", "1-based", id="line-zero"),
        pytest.param("calc.py:1:0", "1-based", id="column-zero"),
        pytest.param("calc.py", "FILE:LINE:COL", id="no-position"),
        pytest.param("calc.py:2", "FILE:LINE:COL", id="no-column"),
        pytest.param("calc.py:x:1", "FILE:LINE:COL", id="line-not-a-number"),
        pytest.param("calc.py:1:-1", "FILE:LINE:COL", id="negative-column"),
        pytest.param(":1:1", "FILE:LINE:COL", id="no-file"),
        pytest.param("", "FILE:LINE:COL", id="empty"),
    ],
)
def test_parse_location_rejects_bad_locations(location: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _parse_location(location)


# -- workspace root --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markers", "root"),
    [
        pytest.param({"repo/.git": "dir"}, "repo", id="git-folder"),
        pytest.param({"repo/.git": "file"}, "repo", id="git-file-of-a-worktree"),
        pytest.param({"repo/codehearth.toml": "file"}, "repo", id="toml"),
        pytest.param(
            {"repo/.git": "dir", "repo/pkg/codehearth.toml": "file"}, "repo/pkg", id="nearest-wins"
        ),
    ],
)
def test_workspace_root_is_the_nearest_folder_with_a_marker(
    tmp_path: Path, markers: dict[str, str], root: str
) -> None:
    for marker, kind in markers.items():
        path = tmp_path / marker
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "dir":
            path.mkdir()
        else:
            path.write_text("", encoding="utf-8")
    source = tmp_path / "repo" / "pkg" / "sub" / "calc.py"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(SOURCE, encoding="utf-8")
    assert workspace_root_for(source) == (tmp_path / root).resolve()


def test_workspace_root_without_a_marker_is_the_files_folder(tmp_path: Path) -> None:
    if has_marker_above(tmp_path):
        pytest.skip("the temporary directory itself lies inside a repository")
    source = tmp_path / "loose" / "calc.py"
    source.parent.mkdir()
    source.write_text(SOURCE, encoding="utf-8")
    assert workspace_root_for(source) == source.parent.resolve()


# -- main ------------------------------------------------------------------------------------


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "doctor" in capsys.readouterr().err


def doctor_rows(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["doctor", "--json", *argv])
    rows = json.loads(capsys.readouterr().out)
    return code, {row["check"]: row for row in rows}


def without_embedded(folder: Path) -> None:
    (folder / "codehearth.toml").write_text("[models]\nembedded = 'off'\n", encoding="utf-8")


def test_doctor_passes_when_ollama_and_the_model_are_there(
    isolated: Path, fake: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    code, rows = doctor_rows(capsys, "--host", fake.url)
    assert code == 0
    endpoint = rows["endpoint ollama"]
    assert endpoint["status"] == "OK"
    assert fake.url in endpoint["detail"] and VERSION in endpoint["detail"]
    assert "this machine" in endpoint["detail"]
    assert "qwen2.5-coder:7b" in endpoint["detail"]  # the models it has
    assert rows["route completion #1"]["status"] == "OK"
    assert "qwen2.5-coder:1.5b-base" in rows["route completion #1"]["detail"]
    assert rows["route chat #1"]["status"] == "OK"
    assert rows["completion template"]["status"] == "OK"
    assert "qwen" in rows["completion template"]["detail"]
    assert rows["grammar python"]["status"] == "OK"
    assert rows["cache dir"] == {
        "check": "cache dir",
        "status": "OK",
        "detail": str(isolated / "cache" / "codehearth"),
        "fix": "",
    }
    assert all(row["status"] != "FAIL" for row in rows.values())


def test_doctor_fails_with_the_pull_command_when_the_model_is_missing(
    isolated: Path, fake: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    without_embedded(isolated)
    code, rows = doctor_rows(capsys, "--host", fake.url, "--model", "missing:1b")
    assert code == 1
    assert rows["route completion #1"]["status"] == "FAIL"
    assert rows["route completion #1"]["fix"] == "ollama pull missing:1b"


def test_doctor_fails_with_the_serve_command_when_ollama_is_down(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    without_embedded(isolated)
    with FakeOllama() as stopped:
        url = stopped.url
    code, rows = doctor_rows(capsys, "--host", url)
    assert code == 1
    assert rows["endpoint ollama"]["status"] == "FAIL"
    assert "ollama serve" in rows["endpoint ollama"]["fix"]


@pytest.mark.skipif(not embedded_available(), reason="llama-cpp-python is not installed")
def test_doctor_only_warns_when_the_embedded_model_can_answer_instead(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOllama() as stopped:
        url = stopped.url
    code, rows = doctor_rows(capsys, "--host", url)
    assert code == 0
    assert rows["endpoint ollama"]["status"] == "WARN"
    assert rows["embedded model"]["status"] == "OK"
    assert "gemma3-270m" in rows["route completion #2"]["detail"]


def test_doctor_lists_codehearth_toml_problems_as_warnings(
    isolated: Path, fake: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    (isolated / "codehearth.toml").write_text("[completion]\nmodle = 'x'\n", encoding="utf-8")
    code, rows = doctor_rows(capsys, "--host", fake.url)
    assert code == 0
    assert rows["settings"]["status"] == "WARN"
    assert "completion.modle" in rows["settings"]["detail"]


def test_doctor_never_advises_ollama_pull_for_an_openai_endpoint(
    isolated: Path, fake: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeVLLM() as vllm:
        (isolated / "codehearth.toml").write_text(
            "[models]\nembedded = 'off'\n"
            f"[[models.endpoints]]\nname = 'vllm'\nurl = '{vllm.url}'\nkind = 'openai'\n"
            "[models.fallbacks]\ncompletion = ['missing-7b@vllm']\n",
            encoding="utf-8",
        )
        _code, rows = doctor_rows(capsys, "--host", fake.url)
    row = rows["route completion #2"]
    assert row["status"] == "WARN" and "missing-7b" in row["detail"]
    assert "does not serve" in row["detail"] and "ollama" not in row["fix"]


@pytest.mark.parametrize(
    ("model", "status", "detail"),
    [
        pytest.param(
            "qwen2.5-coder:1.5b-base",
            "OK",
            "qwen2.5-coder (vocabulary has <|fim_prefix|>",
            id="base-model-fim-from-its-vocabulary",
        ),
        pytest.param(
            "llama3.2:3b",
            "WARN",
            "plain (no 'insert' capability and no FIM tokens in the template or the vocabulary)"
            ": completions see only the code before the cursor",
            id="chat-model-prefix-only",
        ),
    ],
)
def test_doctor_warns_when_the_completion_model_is_prefix_only(
    isolated: Path,
    fake: FakeOllama,
    capsys: pytest.CaptureFixture[str],
    model: str,
    status: str,
    detail: str,
) -> None:
    code, rows = doctor_rows(capsys, "--host", fake.url, "--model", model)
    row = rows["completion template"]
    assert code == 0
    assert (row["status"], detail in row["detail"]) == (status, True), row
    if status == "WARN":
        assert "completion.family" in row["fix"] and "ollama pull" in row["fix"]


def test_doctor_shows_why_a_cloud_model_is_skipped(
    isolated: Path, fake: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    without_embedded(isolated)
    code, rows = doctor_rows(capsys, "--host", fake.url, "--model", "qwen3-coder:480b-cloud")
    assert code == 1
    assert (
        "qwen3-coder:480b-cloud (cloud: https://ollama.com:443)"
        in rows["endpoint ollama"]["detail"]
    )
    route = rows["route completion #1"]
    assert route["status"] == "FAIL"
    assert "a cloud model: Ollama sends its prompts to https://ollama.com:443" in route["detail"]
    assert "allowCloud is off" in route["detail"]
    assert route["fix"] == "set models.allowCloud = true to send it prompts"


def test_doctor_prints_a_table_with_each_fix(
    isolated: Path, fake: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    without_embedded(isolated)
    assert main(["doctor", "--host", fake.url, "--model", "missing:1b"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["CHECK", "STATUS", "DETAIL"]
    assert "missing:1b (http" in out and "model not pulled" in out
    assert "fix: ollama pull missing:1b" in out


@pytest.mark.parametrize(
    ("location", "message"),
    [
        pytest.param("{dir}/calc.py:0:1", "1-based", id="bad-location"),
        pytest.param("{dir}/absent.py:1:1", "absent.py", id="missing-file"),
        pytest.param("{dir}/calc.py:9:1", "has no line 9", id="line-past-the-end"),
        pytest.param("{dir}/calc.py:1:99", "column 99", id="column-past-the-end"),
    ],
)
def test_complete_rejects_a_bad_location_without_starting_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], location: str, message: str
) -> None:
    (tmp_path / "calc.py").write_text(SOURCE, encoding="utf-8")
    assert main(["complete", location.format(dir=tmp_path)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


# -- complete through the server --------------------------------------------------------------


@attrs.frozen
class CompleteRun:
    code: int
    out: str
    err: str
    requests: list[RecordedRequest]


@pytest.fixture(scope="module")
def complete_run(tmp_path_factory: pytest.TempPathFactory) -> CompleteRun:
    """``codehearth complete calc.py:2:5 --host FAKE`` once: a real server subprocess."""
    folder = tmp_path_factory.mktemp("complete")
    source = folder / "calc.py"
    source.write_text(SOURCE, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with FakeOllama() as fake:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["complete", f"{source}:2:5", "--host", fake.url])
        requests = fake.requests
    return CompleteRun(code, out.getvalue(), err.getvalue(), requests)


def test_complete_prints_the_completion_the_server_offers(complete_run: CompleteRun) -> None:
    assert complete_run.code == 0
    assert complete_run.out == "return a + b\n"
    prompts = [r.body["prompt"] for r in complete_run.requests if r.body and r.body.get("prompt")]
    assert prompts
    assert all("def add(a, b):\n    " in prompt for prompt in prompts)


def test_complete_loads_the_cold_model_once_with_the_context_it_then_uses(
    complete_run: CompleteRun,
) -> None:
    """No start-up warm-up (``ollama.warmUp`` is off for one-shot runs), but a model that
    is not in memory is loaded by a request of its own before it is asked, with the same
    num_ctx, so Ollama does not load it twice."""
    generations = [r for r in complete_run.requests if r.path == "/api/generate" and r.body]
    warm_ups = [r for r in generations if not r.body.get("prompt")]  # type: ignore[union-attr]
    asked = [r for r in generations if r.body.get("prompt")]  # type: ignore[union-attr]
    assert len(warm_ups) == 1
    assert asked
    assert generations.index(warm_ups[0]) < generations.index(asked[0])
    assert {r.body["options"]["num_ctx"] for r in generations} == {  # type: ignore[index]
        warm_ups[0].body["options"]["num_ctx"]  # type: ignore[index]
    }
