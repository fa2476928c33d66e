"""classify(): every failure the ollama client (httpx underneath) can raise becomes one
BackendError of a few kinds, with a message that says what to do about it."""

from __future__ import annotations

import json

import httpx
import ollama
import pytest

from codehearth.models.errors import BackendError, ProblemKind, classify

HOST = "http://127.0.0.1:11434"
MODEL = "qwen2.5-coder:1.5b"
REQUEST = httpx.Request("POST", f"{HOST}/api/generate")


@pytest.mark.parametrize(
    ("error", "kind", "fragments"),
    [
        pytest.param(
            ollama.ResponseError('model "qwen2.5-coder:1.5b" not found', 404),
            ProblemKind.MODEL_MISSING,
            (f"ollama pull {MODEL}",),
            id="response-404",
        ),
        pytest.param(
            ollama.ResponseError("llama runner process has terminated", 500),
            ProblemKind.SERVER_ERROR,
            (HOST, "HTTP 500", MODEL, "llama runner process has terminated", "ollama ps"),
            id="response-500",
        ),
        pytest.param(
            ollama.ResponseError("server busy", 503),
            ProblemKind.OVERLOADED,
            (HOST, "busy"),
            id="response-503",
        ),
        pytest.param(
            ollama.ResponseError("unexpected EOF"),
            ProblemKind.STREAM_ERROR,
            (MODEL, "unexpected EOF"),
            id="error-line-in-stream",
        ),
        pytest.param(
            httpx.ConnectError("All connection attempts failed", request=REQUEST),
            ProblemKind.UNREACHABLE,
            (HOST, "ollama serve"),
            id="httpx-connect-error",
        ),
        pytest.param(
            ConnectionError("Failed to connect to Ollama."),
            ProblemKind.UNREACHABLE,
            (HOST, "ollama serve"),
            id="builtin-connection-error",
        ),
        pytest.param(
            httpx.ConnectTimeout("timed out", request=REQUEST),
            ProblemKind.UNREACHABLE,
            (HOST, "ollama serve"),
            id="connect-timeout",
        ),
        pytest.param(
            httpx.ReadTimeout("timed out", request=REQUEST),
            ProblemKind.TIMEOUT,
            (HOST, MODEL, "did not answer in time"),
            id="read-timeout",
        ),
        pytest.param(
            TimeoutError(),
            ProblemKind.TIMEOUT,
            (HOST, MODEL, "did not answer in time"),
            id="builtin-timeout",
        ),
        pytest.param(
            httpx.RemoteProtocolError("peer closed connection", request=REQUEST),
            ProblemKind.STREAM_DROPPED,
            (HOST, "dropped"),
            id="remote-protocol-error",
        ),
        pytest.param(
            httpx.ReadError("connection reset", request=REQUEST),
            ProblemKind.STREAM_DROPPED,
            (HOST, "dropped"),
            id="read-error",
        ),
        pytest.param(
            json.JSONDecodeError("Expecting value", '{"model":"oops", this', 17),
            ProblemKind.BAD_RESPONSE,
            (HOST, "really an Ollama server"),
            id="json-decode-error",
        ),
        pytest.param(
            KeyError("version"),
            ProblemKind.BAD_RESPONSE,
            (HOST, "could not read"),
            id="missing-field",
        ),
        pytest.param(
            httpx.UnsupportedProtocol("Request URL is missing a scheme", request=REQUEST),
            ProblemKind.UNREACHABLE,
            (HOST, "HTTP error"),
            id="other-httpx-error",
        ),
        pytest.param(
            RuntimeError("something odd"),
            ProblemKind.BAD_RESPONSE,
            ("unexpected backend failure", "RuntimeError", "something odd"),
            id="anything-else",
        ),
    ],
)
def test_classify_maps_each_failure_to_a_kind_and_an_actionable_message(
    error: Exception, kind: ProblemKind, fragments: tuple[str, ...]
) -> None:
    classified = classify(error, host=HOST, model=MODEL)
    assert classified.kind is kind
    for fragment in fragments:
        assert fragment in classified.message
    assert classified.detail.startswith(f"{type(error).__name__}: ")


def test_a_backend_error_passes_through_unchanged() -> None:
    original = BackendError(ProblemKind.TIMEOUT, "already classified", "detail")
    assert classify(original, host=HOST, model=MODEL) is original


def test_a_long_server_error_is_shortened_in_the_message_but_kept_in_the_detail() -> None:
    text = "x" * 1000
    classified = classify(ollama.ResponseError(text, 500), host=HOST, model=MODEL)
    assert "x" * 200 in classified.message
    assert "x" * 201 not in classified.message
    assert text in classified.detail


def test_a_backend_error_reads_as_its_message() -> None:
    error = classify(ollama.ResponseError("not found", 404), host=HOST, model=MODEL)
    assert str(error) == error.message
    with pytest.raises(BackendError, match="ollama pull"):
        raise error
