"""How CodeHearth reaches a model server over HTTP: extra headers, TLS trust and proxies.

An entry of ``models.endpoints`` may carry

* ``headers``: extra HTTP headers (a gateway's ``X-Api-Key``, an ``Authorization`` for a
  reverse proxy). A value may name environment variables as ``${VAR}``, so secrets stay
  out of settings files; :func:`expand_headers` fills them in. Backends scrub the values
  from every error message, as they do an API key (``errors.header_secrets``);
* ``caBundle``: a PEM file (or a directory of them) of certificate authorities to trust,
  for a server with a self-signed or company certificate;
* ``insecure = true``: no certificate check at all (logged as a warning once per URL).

Proxies come from the environment as curl reads it (``https_proxy``, ``http_proxy``,
``all_proxy``, ``no_proxy``, lower case first), for servers off this machine only: a
loopback server is never reached through a proxy. httpx's own reading of the environment
has no such rule, so every backend's client gets the explicit transport
:func:`endpoint_transport` builds, and the environment's proxies never apply on their own.
No pygls here.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from codehearth.models.ollama_backend import is_loopback

log = logging.getLogger(__name__)

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
"""A valid HTTP header name (RFC 9110 token)."""

_warned_insecure: set[str] = set()


def expand_headers(
    headers: Mapping[str, str], environ: Mapping[str, str] = os.environ
) -> tuple[dict[str, str], tuple[str, ...]]:
    """``headers`` with each ``${VAR}`` replaced by the variable's value, and the names of
    the variables that are not set (a header naming one is left out)."""
    expanded: dict[str, str] = {}
    unset: list[str] = []
    for name, value in headers.items():
        missing = [var for var in _VARIABLE.findall(value) if var not in environ]
        if missing:
            unset.extend(missing)
            continue
        expanded[name] = _VARIABLE.sub(lambda match: environ[match.group(1)], value)
    return expanded, tuple(dict.fromkeys(unset))


def endpoint_transport(
    url: str,
    *,
    ca_bundle: str | None = None,
    insecure: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> httpx.AsyncHTTPTransport:
    """The transport for a client of the server at ``url``: certificates checked against
    ``ca_bundle`` (else the usual ones, ``SSL_CERT_FILE`` included) or not at all when
    ``insecure``, through the environment's proxy unless the server is on this machine or
    ``no_proxy`` names it. Raises OSError or ssl.SSLError for a CA bundle that cannot be
    read."""
    verify: ssl.SSLContext | bool = True
    if insecure:
        verify = False
        if url not in _warned_insecure:
            _warned_insecure.add(url)
            log.warning("certificates of %s are not checked (insecure = true)", url)
    elif ca_bundle:
        path = Path(ca_bundle).expanduser()
        verify = (
            ssl.create_default_context(capath=str(path))
            if path.is_dir()
            else ssl.create_default_context(cafile=str(path))
        )
    return httpx.AsyncHTTPTransport(verify=verify, proxy=proxy_for(url, environ))


def proxy_for(url: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """The proxy the environment names for ``url``, or None: never for a loopback server,
    nor for a host ``no_proxy`` names (``*``, a name or ``.domain`` suffix, optionally
    with ``:port``, an IP address or a CIDR range)."""
    if is_loopback(url):
        return None
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if _bypassed(parts.hostname or "", port, _variable(environ, "no_proxy")):
        return None
    proxy = _variable(environ, f"{parts.scheme}_proxy") or _variable(environ, "all_proxy")
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _variable(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name) or environ.get(name.upper()) or "").strip()


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    host = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in re.split(r"[,\s]+", no_proxy.lower()):
        if entry == "*":
            return True
        if not entry:
            continue
        name, entry_port = entry, None
        if entry.startswith("[") and "]" in entry:  # [::1]:8080
            name, _, rest = entry[1:].partition("]")
            entry_port = rest.removeprefix(":") or None
        elif entry.count(":") == 1:
            name, entry_port = entry.split(":")
        if entry_port is not None and str(port) != entry_port:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = name.lstrip(".").rstrip(".")
        if host == name or host.endswith(f".{name}"):
            return True
    return False


__all__ = [
    "HEADER_NAME",
    "endpoint_transport",
    "expand_headers",
    "proxy_for",
]
