"""Which addresses ``codehearth serve --tcp`` may listen on without ``--allow-remote``."""

from __future__ import annotations

import pytest

from codehearth.transport import NotLoopbackError, loopback_addresses, serve_tcp


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        pytest.param("127.0.0.1", True, id="ipv4-loopback"),
        pytest.param("127.3.2.1", True, id="ipv4-loopback-range"),
        pytest.param("::1", True, id="ipv6-loopback"),
        pytest.param("localhost", True, id="localhost"),
        pytest.param("0.0.0.0", False, id="ipv4-any"),
        pytest.param("::", False, id="ipv6-any"),
        pytest.param("192.168.1.20", False, id="lan-address"),
        pytest.param("8.8.8.8", False, id="public-address"),
        pytest.param("", False, id="empty"),
        pytest.param("not a host name", False, id="not-a-name"),
    ],
)
def test_only_loopback_addresses_are_offered(host: str, loopback: bool) -> None:
    assert bool(loopback_addresses(host)) is loopback


def test_serving_beyond_this_machine_is_refused_before_anything_listens() -> None:
    with pytest.raises(NotLoopbackError, match="--allow-remote"):
        serve_tcp(object(), "0.0.0.0", 0)
