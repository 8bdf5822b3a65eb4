"""How fast and how patiently the Twilio transport sends: its settings and the limiter that
spaces its creates. Read from the environment by `SendSettings.from_env` (see the package docstring)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SendSettings:
    """Pace, patience and retries of the Twilio transport."""

    rate_per_second: float = 1.0
    """At most this many create requests a second (Twilio queues beyond a sender's throughput)."""
    max_attempts: int = 4
    timeout_seconds: float = 10.0
    """Connect and read timeout of each HTTP request."""
    backoff_seconds: float = 1.0
    """Wait before the second attempt; doubles for each later one, unless Twilio says Retry-After."""
    backoff_max_seconds: float = 60.0
    """The longest wait inside one send: a longer Retry-After is handed back to the caller instead."""
    recheck_delay_seconds: float = 2.0
    """After an ambiguous failure, wait this long before asking Twilio what it has (its lists lag)."""

    def __post_init__(self) -> None:
        if self.rate_per_second <= 0 or self.timeout_seconds <= 0 or self.max_attempts < 1:
            raise ValueError(f"SMS settings out of range: {self} (rate and timeout > 0, at least 1 attempt)")
        if min(self.backoff_seconds, self.backoff_max_seconds, self.recheck_delay_seconds) < 0:
            raise ValueError(f"SMS settings out of range: {self} (waits cannot be negative)")

    @classmethod
    def from_env(cls) -> SendSettings:
        def number(name: str, default: str) -> float:
            value = os.environ.get(name) or default
            try:
                return float(value)
            except ValueError:
                raise ValueError(f"{name}={value!r} is not a number") from None

        return cls(
            rate_per_second=number("RETENTION_SMS_RATE_PER_SECOND", "1"),
            max_attempts=int(number("RETENTION_SMS_MAX_ATTEMPTS", "4")),
            timeout_seconds=number("RETENTION_SMS_TIMEOUT_SECONDS", "10"),
            backoff_seconds=number("RETENTION_SMS_BACKOFF_SECONDS", "1"),
            backoff_max_seconds=number("RETENTION_SMS_BACKOFF_MAX_SECONDS", "60"),
            recheck_delay_seconds=number("RETENTION_SMS_RECHECK_DELAY_SECONDS", "2"),
        )


class IntervalLimiter:
    """At most `rate` calls of `wait()` a second, evenly spaced (a token bucket of one token):
    Twilio sends a sender's messages at a fixed throughput, so bursts gain nothing."""

    def __init__(self, rate_per_second: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate_per_second
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)
