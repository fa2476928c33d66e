"""Backend failures mapped to a few kinds, each with a message a user can act on.

Every exception the ``ollama`` client (httpx underneath) can raise is turned into one
``BackendError`` by :func:`classify`, so callers handle one type and users see one clear
sentence with the fix instead of a stack trace. A refused request (HTTP 400 and the like)
is told apart by what the server says, the same way for Ollama and OpenAI-compatible
servers (:func:`refusal`): a prompt longer than the model's context, a capability the
model lacks (such as tool calling), or anything else. :func:`scrub` takes an endpoint's
secrets (its extra headers' values) out of an error.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence

import attrs
import httpx
import ollama

from codehearth.models.redact import REDACTED


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
    """The model or server lacks a capability the request needs (tool calling, infill)."""
    CONTEXT_EXCEEDED = "context-exceeded"
    """The prompt does not fit the model's context as the server runs it."""
    REFUSED = "refused"
    """The server refused the request for another reason (HTTP 400, 413, 422)."""


@attrs.frozen
class BackendError(Exception):
    """A classified backend failure: ``message`` says what happened and how to fix it."""

    kind: ProblemKind
    message: str
    detail: str = ""

    def __str__(self) -> str:
        return self.message


SECRET_MIN_CHARS = 8
"""Header values (and words of them) at least this long are scrubbed from errors."""


def header_secrets(headers: Mapping[str, str]) -> tuple[str, ...]:
    """What of an endpoint's extra headers an error message must never show: each value,
    and each word of it (the token of ``Bearer <token>``), longest first."""
    found = {
        text
        for value in headers.values()
        for text in (value, *value.split())
        if len(text) >= SECRET_MIN_CHARS
    }
    return tuple(sorted(found, key=len, reverse=True))


def scrub(error: BackendError, secrets: Sequence[str]) -> BackendError:
    """``error`` with each of ``secrets`` (header values, keys) replaced in its message and
    detail."""
    message, detail = error.message, error.detail
    for secret in secrets:
        message, detail = message.replace(secret, REDACTED), detail.replace(secret, REDACTED)
    return attrs.evolve(error, message=message, detail=detail)


def model_missing(model: str, detail: str = "") -> BackendError:
    """The one message for a model that is not pulled, wherever it is noticed."""
    return BackendError(
        ProblemKind.MODEL_MISSING, f"model {model} is not pulled: run `ollama pull {model}`", detail
    )


# What servers say when the prompt does not fit: Ollama (llm/llama_server.go "the prompt
# is longer than the context length currently available", "input length exceeds the
# context length"), llama.cpp's server (format_error_response's exceed_context_size_error,
# "request (N tokens) exceeds the available context size (M tokens)"), vLLM and OpenAI
# ("This model's maximum context length is N tokens", code context_length_exceeded).
_CONTEXT_EXCEEDED = re.compile(
    r"exceed_context_size|exceeds the available context size|longer than the context length"
    r"|exceeds the context length|maximum context length|context_length_exceeded",
    re.IGNORECASE,
)
# Tool calling the model or server lacks: Ollama "<model> does not support tools"
# (images.go), llama.cpp "tools param requires --jinja flag" (an HTTP 500 from
# oaicompat_chat_params_parse), vLLM '"auto" tool choice requires
# --enable-auto-tool-choice and --tool-call-parser to be set'.
_TOOLS_UNSUPPORTED = re.compile(
    r"does not support tools|--jinja|--enable-auto-tool-choice", re.IGNORECASE
)
# Other capabilities: Ollama '"x" does not support generate', llama.cpp "Infill is not
# supported by this model" (not_supported_error, HTTP 501), vLLM "suffix is not currently
# supported", llama.cpp "Unsupported param: suffix".
_UNSUPPORTED = re.compile(r"does not support|not supported|unsupported", re.IGNORECASE)
REFUSAL_STATUSES = frozenset({400, 413, 422, 501})
"""Statuses whose cause is told apart by :func:`refusal` (501: llama.cpp's
not_supported_error)."""
SERVER_TEXT_LIMIT = 200

# Ollama's answer for a model it does not have: {"error":"model 'x' not found"}
# (server/routes.go), or 'model "x" not found, try pulling it first' from the scheduler.
_MODEL_NOT_FOUND = re.compile(r"model\s+['\"].*['\"]\s+not found", re.IGNORECASE)


def is_refusal(status: int, text: str) -> bool:
    """Whether an error status with this body is a refused request for :func:`refusal`
    (llama.cpp answers a request with tools but without ``--jinja`` with HTTP 500)."""
    return status in REFUSAL_STATUSES or bool(_TOOLS_UNSUPPORTED.search(text))


def refusal(status: int, text: str, *, said: str, model: str, where: str) -> BackendError:
    """A request ``where`` (the endpoint, as messages name it) refused with ``status``:
    ``text`` is the whole error body the cause is read from, ``said`` the part quoted."""
    detail = f"HTTP {status}: {text[:SERVER_TEXT_LIMIT]}"
    if _CONTEXT_EXCEEDED.search(text):
        return BackendError(
            ProblemKind.CONTEXT_EXCEEDED,
            f"the prompt does not fit the context of {model} at {where}: {said}",
            detail,
        )
    if _TOOLS_UNSUPPORTED.search(text) or _UNSUPPORTED.search(text) or status == 501:
        return BackendError(
            ProblemKind.UNSUPPORTED, f"{model} at {where} cannot do this: {said}", detail
        )
    return BackendError(
        ProblemKind.REFUSED, f"{model} at {where} refused the request: {said}", detail
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
        if status == 404 and _MODEL_NOT_FOUND.search(text):
            return model_missing(model, detail)
        if status == 404:
            return BackendError(
                ProblemKind.SERVER_ERROR,
                f"no such endpoint at {host} ({text.strip()[:80]}): is this Ollama? (an old "
                "Ollama, or ollama.host pointing at another server)",
                detail,
            )
        if is_refusal(status, text):
            refused = refusal(
                status, text, said=text[:SERVER_TEXT_LIMIT], model=model, where=f"Ollama at {host}"
            )
            return attrs.evolve(refused, detail=detail)
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
    if isinstance(error, httpx.ConnectTimeout):
        return BackendError(
            ProblemKind.UNREACHABLE,
            f"Ollama at {host} did not accept a connection in time: check that it runs and "
            "that the host is right (or raise ollama.connectTimeout for a slow network)",
            detail,
        )
    if isinstance(error, httpx.ConnectError | ConnectionError):
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
