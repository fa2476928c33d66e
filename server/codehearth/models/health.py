"""Endpoint health: a circuit breaker and a latency average per model endpoint.

The breaker is closed while an endpoint answers. After ``failure_threshold`` failures in a
row it opens, and the router skips the endpoint; after ``cooldown_seconds`` it lets one
probe request through (half-open): success closes it, failure opens it again with a
longer cooldown (doubling up to ``max_cooldown_seconds``). Latency is an exponentially
weighted moving average of successful calls. Pure Python, no I/O; the clock is injectable
for tests.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

import attrs


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@attrs.define
class EndpointHealth:
    """Health of one endpoint (a host, or a host and model)."""

    failure_threshold: int = 3
    cooldown_seconds: float = 5.0
    max_cooldown_seconds: float = 120.0
    latency_smoothing: float = 0.2
    clock: Callable[[], float] = time.monotonic
    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    opened_at: float = 0.0
    current_cooldown: float = 0.0
    probe_in_flight: bool = False
    latency_ewma: float | None = None
    last_problem: str = ""
    successes: int = 0
    failures: int = 0

    def available(self) -> bool:
        """May a request go to this endpoint now? (Does not claim the half-open probe.)"""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if self.clock() - self.opened_at < self.current_cooldown:
                return False
            self.state = BreakerState.HALF_OPEN
            self.probe_in_flight = False
        return not self.probe_in_flight

    def begin(self) -> None:
        """A request is being sent; in half-open state it is the one probe."""
        if self.state is BreakerState.HALF_OPEN:
            self.probe_in_flight = True

    def release(self) -> None:
        """The request in flight tells nothing either way; another may probe."""
        self.probe_in_flight = False

    def record_success(self, seconds: float) -> None:
        self.successes += 1
        self.consecutive_failures = 0
        self.state = BreakerState.CLOSED
        self.probe_in_flight = False
        self.current_cooldown = 0.0
        self.last_problem = ""
        if self.latency_ewma is None:
            self.latency_ewma = seconds
        else:
            weight = self.latency_smoothing
            self.latency_ewma = (1 - weight) * self.latency_ewma + weight * seconds

    def record_failure(self, problem: str) -> None:
        self.failures += 1
        self.consecutive_failures += 1
        self.last_problem = problem
        self.probe_in_flight = False
        if self.state is BreakerState.HALF_OPEN:
            self._open(min(self.current_cooldown * 2, self.max_cooldown_seconds))
        elif self.consecutive_failures >= self.failure_threshold:
            self._open(self.cooldown_seconds)

    def _open(self, cooldown: float) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = self.clock()
        self.current_cooldown = max(cooldown, self.cooldown_seconds)

    def describe(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "consecutiveFailures": self.consecutive_failures,
            "latencyMs": None if self.latency_ewma is None else round(self.latency_ewma * 1000, 1),
            "successes": self.successes,
            "failures": self.failures,
            "lastProblem": self.last_problem,
        }
