"""Backend failures mapped to a few kinds, each with a message a user can act on.

Every exception the ``ollama`` client (httpx underneath) can raise is turned into one
``BackendError`` by :func:`classify`, so callers handle one type and users see one clear
sentence with the fix instead of a stack trace.
"""

from __future__ import annotations

import enum
import json

import attrs
import httpx
import ollama


class ProblemKind(enum.Enum):
    """What went wrong talking to a model backend."""

    UNREACHABLE = "unreachable"
    MODEL_MISSING = "model-missing"
    SERVER_ERROR = "server-error"
    OVERLOADED = "overloaded"
    STREAM_DROPPED = "stream-dropped"
    STREAM_ERROR = "stream-error"
    BAD_RESPONSE = "bad-response"
    TIMEOUT = "timeout"
    UNSUPPORTED = "unsupported"


@attrs.frozen
class BackendError(Exception):
    """A classified backend failure: ``message`` says what happened and how to fix it."""

    kind: ProblemKind
    message: str
    detail: str = ""

    def __str__(self) -> str:
        return self.message


def model_missing(model: str, detail: str = "") -> BackendError:
    """The one message for a model that is not pulled, wherever it is noticed."""
    return BackendError(
        ProblemKind.MODEL_MISSING, f"model {model} is not pulled: run `ollama pull {model}`", detail
    )


def classify(error: BaseException, *, host: str, model: str) -> BackendError:
    """Map an exception from the ollama client to a BackendError with an actionable message."""
    detail = f"{type(error).__name__}: {error}"
    if isinstance(error, BackendError):
        return error
    if isinstance(error, ollama.ResponseError | httpx.HTTPStatusError):
        if isinstance(error, httpx.HTTPStatusError):
            status, text = error.response.status_code, error.response.text
        else:
            status, text = error.status_code, str(error.error)
        if status == 404:
            return model_missing(model, detail)
        if status == 400:
            return BackendError(
                ProblemKind.UNSUPPORTED,
                f"{model} refused the request: {text[:200]}",
                detail,
            )
        if status == 503:
            return BackendError(
                ProblemKind.OVERLOADED,
                f"Ollama at {host} is busy (queue full); completions resume when it catches up",
                detail,
            )
        if status == -1:
            return BackendError(
                ProblemKind.STREAM_ERROR,
                f"Ollama reported an error while generating with {model}: {text[:200]}",
                detail,
            )
        return BackendError(
            ProblemKind.SERVER_ERROR,
            f"Ollama at {host} failed (HTTP {status}) for {model}: {text[:200]}; "
            "check `ollama ps` and the Ollama server log",
            detail,
        )
    if isinstance(error, httpx.ConnectError | ConnectionError | httpx.ConnectTimeout):
        return BackendError(
            ProblemKind.UNREACHABLE,
            f"Ollama is not reachable at {host}: start it with `ollama serve` (or set ollama.host)",
            detail,
        )
    if isinstance(error, TimeoutError | httpx.TimeoutException):
        return BackendError(
            ProblemKind.TIMEOUT,
            f"{model or 'Ollama'} at {host} did not answer in time; check `ollama ps` and "
            "the Ollama server log",
            detail,
        )
    if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return BackendError(
            ProblemKind.STREAM_DROPPED,
            f"Ollama at {host} dropped the connection mid-answer; check the Ollama server log",
            detail,
        )
    if isinstance(error, json.JSONDecodeError | ValueError | KeyError | TypeError):
        return BackendError(
            ProblemKind.BAD_RESPONSE,
            f"Ollama at {host} sent a response CodeHearth could not read; "
            "is this really an Ollama server?",
            detail,
        )
    if isinstance(error, httpx.HTTPError):
        return BackendError(
            ProblemKind.UNREACHABLE,
            f"HTTP error talking to Ollama at {host}: {error}",
            detail,
        )
    return BackendError(ProblemKind.BAD_RESPONSE, f"unexpected backend failure: {detail}", detail)
