"""Retrying a send: what is transient, how long to wait, and a hard cap on the total time."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_MIN_ATTEMPT_SECONDS = 0.5


class DeliveryError(Exception):
    """A send failed. The message is shown to people: it never holds a URL or a secret."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retryable = retryable
        self.retry_after = retry_after
        self.attempts = 1


def is_retryable_status(status_code: int) -> bool:
    return status_code == 429 or status_code == 408 or status_code >= 500


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    timeout_seconds: float = 10.0
    # Retries (waits and later attempts) end within budget_seconds of the first try, so a
    # send never takes longer than max(budget_seconds, timeout_seconds).
    budget_seconds: float = 30.0
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 10.0
    jitter: float = 0.2

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        delay = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (attempt - 1))
        return delay * (1 + self.jitter * (2 * rng() - 1))

    @property
    def deadline_seconds(self) -> float:
        return max(self.budget_seconds, self.timeout_seconds)


def send_with_retries(
    send: Callable[[float], None],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
) -> int:
    """Call send(timeout) until it succeeds; return the attempts used, or raise DeliveryError
    (with `.attempts`) once the error is permanent, attempts run out, or the deadline nears."""
    retry_deadline = clock() + policy.budget_seconds
    attempt = 0
    while True:
        attempt += 1
        timeout = policy.timeout_seconds
        if attempt > 1:
            timeout = max(_MIN_ATTEMPT_SECONDS, min(timeout, retry_deadline - clock()))
        try:
            send(timeout)
            return attempt
        except DeliveryError as exc:
            exc.attempts = attempt
            if not exc.retryable or attempt >= policy.max_attempts:
                raise
            delay = exc.retry_after if exc.retry_after is not None else policy.backoff(attempt, rng)
            if clock() + delay + _MIN_ATTEMPT_SECONDS > retry_deadline:
                exc.message += f" (gave up: next try in {delay:.1f} s is past the retry budget)"
                exc.args = (exc.message,)
                raise
            sleep(delay)
