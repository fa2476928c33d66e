"""classify(): every failure the ollama client (httpx underneath) can raise becomes one
BackendError of a few kinds, with a message that says what to do about it; a 404 is a
missing model only when the body names one, and a refused request is told apart by what
the server says."""

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
            (HOST, "ollama.connectTimeout"),
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


def status_error(status: int, body: str, content_type: str = "application/json") -> Exception:
    response = httpx.Response(
        status, text=body, headers={"content-type": content_type}, request=REQUEST
    )
    return httpx.HTTPStatusError(f"HTTP {status}", request=REQUEST, response=response)


@pytest.mark.parametrize(
    ("error", "kind", "fragments", "absent"),
    [
        pytest.param(
            ollama.ResponseError("model 'qwen2.5-coder:1.5b' not found", 404),
            ProblemKind.MODEL_MISSING,
            (f"ollama pull {MODEL}",),
            (),
            id="404-model-not-found",
        ),
        pytest.param(
            ollama.ResponseError("404 page not found", 404),
            ProblemKind.SERVER_ERROR,
            (f"no such endpoint at {HOST}", "is this Ollama?", "ollama.host"),
            ("ollama pull",),
            id="404-gin-unknown-route",
        ),
        pytest.param(
            status_error(404, '{"error":{"message":"File Not Found","type":"not_found_error"}}'),
            ProblemKind.SERVER_ERROR,
            (f"no such endpoint at {HOST}", "is this Ollama?"),
            ("ollama pull",),
            id="404-llama-server-behind-ollama-host",
        ),
        pytest.param(
            ollama.ResponseError(
                "the prompt is longer than the context length currently available "
                "(prompt: 9000, context: 8192)",
                400,
            ),
            ProblemKind.CONTEXT_EXCEEDED,
            (MODEL, "context", "9000"),
            (),
            id="400-prompt-longer-than-context",
        ),
        pytest.param(
            ollama.ResponseError("input length exceeds the context length", 400),
            ProblemKind.CONTEXT_EXCEEDED,
            (MODEL, "context"),
            (),
            id="400-embed-input-exceeds-context",
        ),
        pytest.param(
            ollama.ResponseError(f"registry.ollama.ai/library/{MODEL} does not support tools", 400),
            ProblemKind.UNSUPPORTED,
            (MODEL, "does not support tools"),
            (),
            id="400-no-tool-calling",
        ),
        pytest.param(
            ollama.ResponseError("invalid character 'x' looking for beginning of value", 400),
            ProblemKind.REFUSED,
            (MODEL, "refused", "invalid character"),
            (),
            id="400-anything-else",
        ),
    ],
)
def test_not_found_and_refused_requests_are_told_apart_by_what_ollama_says(
    error: Exception, kind: ProblemKind, fragments: tuple[str, ...], absent: tuple[str, ...]
) -> None:
    classified = classify(error, host=HOST, model=MODEL)
    assert classified.kind is kind
    for fragment in fragments:
        assert fragment in classified.message
    for fragment in absent:
        assert fragment not in classified.message
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
    missing = ollama.ResponseError(f"model '{MODEL}' not found", 404)
    error = classify(missing, host=HOST, model=MODEL)
    assert str(error) == error.message
    with pytest.raises(BackendError, match="ollama pull"):
        raise error
