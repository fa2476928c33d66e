"""Remote endpoints as users have them: extra headers with ``${VAR}`` values (sent, and
scrubbed from errors), a CA bundle or ``insecure``, and the environment's proxies for
servers off this machine only, as ``no_proxy`` allows; the settings that carry them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest
from tests.fakes.fake_openai import MODELS_PATH, FakeOpenAI

from codehearth.models.connection import endpoint_transport, expand_headers, proxy_for
from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.factory import build_pool
from codehearth.models.ollama_backend import OllamaBackend
from codehearth.models.openai_backend import OpenAIBackend
from codehearth.settings import build_settings

pytestmark = pytest.mark.usefixtures("no_ca_bundle")

TOKEN = "gw-7f3a9c1e5b2d4f6a8c0e"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


# -- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expanded", "unset"),
    [
        pytest.param({"X-Org": "acme"}, {"X-Org": "acme"}, (), id="plain"),
        pytest.param(
            {"Authorization": "Bearer ${GATEWAY_TOKEN}"},
            {"Authorization": f"Bearer {TOKEN}"},
            (),
            id="variable",
        ),
        pytest.param(
            {"X-Pair": "${GATEWAY_USER}:${GATEWAY_TOKEN}"},
            {"X-Pair": f"ci:{TOKEN}"},
            (),
            id="two-variables",
        ),
        pytest.param(
            {"X-Key": "${NOT_SET_ANYWHERE}", "X-Org": "acme"},
            {"X-Org": "acme"},
            ("NOT_SET_ANYWHERE",),
            id="unset-variable-drops-the-header",
        ),
        pytest.param({"X-Price": "$5 or $HOME"}, {"X-Price": "$5 or $HOME"}, (), id="no-braces"),
    ],
)
def test_header_values_name_environment_variables(
    headers: dict[str, str], expanded: dict[str, str], unset: tuple[str, ...]
) -> None:
    environ = {"GATEWAY_TOKEN": TOKEN, "GATEWAY_USER": "ci", "HOME": "/home/me"}
    assert expand_headers(headers, environ) == (expanded, unset)


async def test_headers_go_with_every_request_and_never_into_an_error(fake: FakeOpenAI) -> None:
    backend = OpenAIBackend(fake.url, headers={"X-Gateway-Key": TOKEN})
    try:
        await backend.list_models()
        with pytest.raises(BackendError) as raised:  # the fake's 404 quotes the model name
            await backend.warm_up(TOKEN, num_ctx=2048)
    finally:
        await backend.aclose()
    assert [r.headers.get("x-gateway-key") for r in fake.requests] == [TOKEN, TOKEN]
    assert raised.value.kind is ProblemKind.MODEL_MISSING
    assert TOKEN not in raised.value.message + raised.value.detail


async def test_ollama_sends_its_headers_and_scrubs_them_from_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "ollama-key-never-sent")
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(500, json={"error": f"proxy refused token {TOKEN}"})

    backend = OllamaBackend(
        "https://ollama.example.com",
        headers={"Authorization": f"Bearer {TOKEN}"},
        transport=httpx.MockTransport(handler),
    )
    try:
        with pytest.raises(BackendError) as raised:
            await backend.list_models()
    finally:
        await backend.aclose()
    assert seen[0]["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in raised.value.message + raised.value.detail
    assert "[REDACTED]" in raised.value.message


# -- proxies ----------------------------------------------------------------------------------


PROXIES = {"https_proxy": "http://proxy.corp:3128", "HTTP_PROXY": "proxy.corp:8080"}


@pytest.mark.parametrize(
    ("url", "environ", "proxy"),
    [
        pytest.param("https://api.example.com/v1", PROXIES, "http://proxy.corp:3128", id="https"),
        pytest.param("http://gpu-box:8000", PROXIES, "http://proxy.corp:8080", id="http"),
        pytest.param("http://127.0.0.1:11434", PROXIES, None, id="loopback-never"),
        pytest.param("http://localhost:8080", PROXIES, None, id="localhost-never"),
        pytest.param("http://[::1]:8080", {"ALL_PROXY": "http://p:1"}, None, id="ipv6-loopback"),
        pytest.param("https://api.example.com", {}, None, id="no-proxy-set"),
        pytest.param(
            "https://api.example.com", {"ALL_PROXY": "socks5://p:1080"}, "socks5://p:1080", id="all"
        ),
        pytest.param(
            "https://api.example.com",
            {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"},
            "http://lower:1",
            id="lower-case-first",
        ),
        pytest.param(
            "https://api.example.com", {**PROXIES, "no_proxy": "*"}, None, id="no-proxy-star"
        ),
        pytest.param(
            "https://api.example.com", {**PROXIES, "NO_PROXY": "example.com"}, None, id="domain"
        ),
        pytest.param(
            "https://api.example.com", {**PROXIES, "NO_PROXY": ".example.com"}, None, id="suffix"
        ),
        pytest.param(
            "https://notexample.com",
            {**PROXIES, "NO_PROXY": "example.com"},
            "http://proxy.corp:3128",
            id="not-a-suffix-match",
        ),
        pytest.param(
            "http://10.1.2.3:8000", {**PROXIES, "NO_PROXY": "10.0.0.0/8"}, None, id="cidr"
        ),
        pytest.param(
            "https://api.example.com",
            {**PROXIES, "no_proxy": "api.example.com:443"},
            None,
            id="port",
        ),
        pytest.param(
            "https://api.example.com:8443",
            {**PROXIES, "no_proxy": "api.example.com:443"},
            "http://proxy.corp:3128",
            id="other-port",
        ),
    ],
)
def test_the_proxy_is_for_servers_off_this_machine_that_no_proxy_does_not_name(
    url: str, environ: dict[str, str], proxy: str | None
) -> None:
    assert proxy_for(url, environ) == proxy


async def test_a_remote_server_is_reached_through_the_proxy_and_a_local_one_directly(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        remote = OpenAIBackend("http://models.example:8000")
        local = OpenAIBackend(fake.url)
        try:
            with pytest.raises(BackendError):  # the "proxy" does not know the route
                await remote.list_models()
            assert await local.list_models()
        finally:
            await remote.aclose()
            await local.aclose()
        through_proxy = [r.path for r in proxy.requests]
    assert through_proxy == [f"http://models.example:8000/v1{MODELS_PATH.removeprefix('/v1')}"]
    assert [r.path for r in fake.requests] == [MODELS_PATH]


# -- certificates -----------------------------------------------------------------------------


def test_insecure_is_warned_once_per_url(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        endpoint_transport("https://self-signed.example:8443", insecure=True)
    warnings = [r.getMessage() for r in caplog.records if "not checked" in r.getMessage()]
    assert warnings == [
        "certificates of https://self-signed.example:8443 are not checked (insecure = true)"
    ]


def test_a_ca_bundle_is_read_and_a_bad_one_refused(tmp_path: Path) -> None:
    endpoint_transport("https://gpu-box:8443", ca_bundle=certifi.where())
    endpoint_transport("https://gpu-box:8443", ca_bundle=str(Path(certifi.where()).parent))
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate", encoding="utf-8")
    with pytest.raises(OSError):  # ssl.SSLError is an OSError
        endpoint_transport("https://gpu-box:8443", ca_bundle=str(bad))


# -- settings ---------------------------------------------------------------------------------


def endpoint(**values: Any) -> dict[str, Any]:
    return {"name": "gw", "url": "https://gateway.example.com/v1", "kind": "openai", **values}


def build(*entries: dict[str, Any]) -> tuple[tuple[str, ...], list[str]]:
    loaded = build_settings({"models": {"allowCloud": True, "endpoints": list(entries)}})
    assert loaded.warnings == ()
    built = build_pool(loaded.settings)
    return built.warnings, [e.url for e in built.pool.backends]


def test_header_names_are_kept_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TOKEN", TOKEN)
    loaded = build_settings({"models": {"endpoints": [endpoint(headers={"X-Api-Key": "k"})]}})
    assert loaded.settings.models.endpoints[0]["headers"] == {"X-Api-Key": "k"}


@pytest.mark.parametrize(
    ("entry", "warning"),
    [
        pytest.param(endpoint(headers={"X Bad": "v"}), "headers", id="bad-header-name"),
        pytest.param(endpoint(headers={"X-A": "a\r\nX-B: b"}), "headers", id="header-injection"),
        pytest.param(endpoint(headers=["X-A: a"]), "headers", id="headers-not-a-table"),
        pytest.param(endpoint(caBundle="/no/such/ca.pem"), "caBundle", id="missing-ca-bundle"),
        pytest.param(endpoint(insecure="yes"), "insecure", id="insecure-not-a-bool"),
        pytest.param(
            endpoint(caBundle=certifi.where(), insecure=True), "pick one", id="both-ca-and-insecure"
        ),
    ],
)
def test_a_bad_remote_option_is_warned_and_the_entry_ignored(
    entry: dict[str, Any], warning: str
) -> None:
    warnings, urls = build(entry)
    assert any(warning in text and "entry ignored" in text for text in warnings), warnings
    assert "https://gateway.example.com/v1" not in urls


def test_an_unknown_key_is_warned_and_the_entry_kept() -> None:
    warnings, urls = build(endpoint(apiKeyEnvv="X"))
    assert any("unknown key 'api_key_envv'" in text for text in warnings), warnings
    assert "https://gateway.example.com/v1" in urls


def test_an_unset_variable_and_an_unreadable_ca_bundle_are_warned(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate", encoding="utf-8")
    warnings, urls = build(
        endpoint(headers={"X-Key": "${CODEHEARTH_TEST_UNSET_VARIABLE}"}, caBundle=str(bad))
    )
    assert any("CODEHEARTH_TEST_UNSET_VARIABLE" in text for text in warnings), warnings
    assert any("could not be read" in text for text in warnings), warnings
    assert "https://gateway.example.com/v1" in urls
