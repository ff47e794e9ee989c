"""Webhook delivery of budget alerts, from the durable outbox in PostgreSQL (`budget_alert`).

An alert is recorded in the transaction that wrote the spend crossing its threshold, with
``delivery = 'pending'``; nothing is sent from that transaction. A :class:`Deliverer` takes due
alerts one at a time (``FOR UPDATE SKIP LOCKED``: any number of processes may deliver at once, and
never send one alert concurrently), POSTs each to its budget's webhook (or the service's default)
and records the outcome in the same row:

- a 2xx answer: ``delivered``;
- no webhook for it: ``no_webhook`` (the alert stays listed in the API and in the log);
- anything else (refused connection, timeout, 4xx, 5xx): the attempt is counted, the error kept,
  and ``next_attempt_at`` moved back — exponentially, from `base_delay` up to `max_delay`, with
  jitter. Alerts are retried for as long as it takes: a receiver that was down gets every alert
  once it is back.

At least once: an alert whose POST succeeded but whose outcome could not be recorded (the database
went away at that instant) is sent again. Each request carries the alert's id (in the body and in
``X-Ledger-Alert-Id``), stable across retries, for the receiver to deduplicate on, and
``X-Ledger-Signature: sha256=<hex>``, the HMAC-SHA256 of the exact body with the shared secret
(``WEBHOOK_SECRET``); the body is the same bytes on every attempt.

:class:`Dispatcher` runs a deliverer in a background thread of each gunicorn worker
(app/gunicorn_conf.py); ``flask costs alerts deliver`` runs one in the foreground.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.metrics import instruments
from app.models import BudgetAlert
from app.money import money_text

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Ledger-Signature"
ID_HEADER = "X-Ledger-Alert-Id"
EVENT = "budget.threshold_crossed"


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for `body`: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def payload(alert: BudgetAlert) -> bytes:
    """The JSON body sent for an alert: the same bytes on every attempt."""
    return orjson.dumps({
        "id": alert.id, "type": EVENT, "companyId": alert.company_id, "budgetId": alert.budget_id,
        "period": alert.period, "periodStart": alert.period_start.astimezone(UTC).isoformat(),
        "periodEnd": alert.period_end.astimezone(UTC).isoformat(), "threshold": alert.threshold,
        "limit": money_text(alert.limit_usd), "spent": money_text(alert.spent),
        "createdAt": alert.created_at.astimezone(UTC).isoformat(),
    })


@dataclass
class Round:
    """What one :meth:`Deliverer.deliver_due` did."""

    delivered: int = 0
    failed: int = 0
    no_webhook: int = 0

    @property
    def handled(self) -> int:
        return self.delivered + self.failed + self.no_webhook


def utc_now() -> datetime:
    return datetime.now(UTC)


class Deliverer:
    def __init__(self, session_factory: sessionmaker[Session], *, secret: str, default_url: str | None = None,
                 timeout: float = 5.0, base_delay: float = 2.0, max_delay: float = 600.0,
                 clock: Callable[[], datetime] = utc_now) -> None:
        if not secret:
            raise ValueError("a webhook secret is needed to sign deliveries (WEBHOOK_SECRET)")
        self._sessions = session_factory
        self._secret = secret.encode()
        self._default_url = default_url
        self._timeout = timeout
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._clock = clock

    @classmethod
    def from_settings(cls, session_factory: sessionmaker[Session], settings: Settings) -> Deliverer:
        """The deliverer the service's settings describe (WEBHOOK_SECRET, ALERT_WEBHOOK_URL)."""
        return cls(session_factory, secret=settings.webhook_secret or "", default_url=settings.alert_webhook_url)

    def deliver_due(self, limit: int = 100) -> Round:
        """Deliver up to `limit` alerts that are due now, one transaction each; what happened."""
        done = Round()
        for _ in range(limit):
            outcome = self._deliver_one()
            if outcome is None:
                break
            instruments.alert_delivery(outcome)
            setattr(done, outcome, getattr(done, outcome) + 1)
        return done

    def backoff(self, attempts: int) -> timedelta:
        """How long to wait after the `attempts`-th failed attempt (±20% jitter)."""
        delay = min(self._base_delay * 2 ** (attempts - 1), self._max_delay)
        return timedelta(seconds=delay * random.uniform(0.8, 1.2))

    def _deliver_one(self) -> str | None:
        now = self._clock()
        with self._sessions() as session:
            alert = session.scalars(
                select(BudgetAlert)
                .where(BudgetAlert.delivery == "pending", BudgetAlert.next_attempt_at <= now)
                .order_by(BudgetAlert.next_attempt_at, BudgetAlert.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if alert is None:
                return None
            url = alert.webhook_url or self._default_url
            if url is None:
                alert.delivery = "no_webhook"
                session.commit()
                return "no_webhook"
            alert.attempts += 1
            error = self._post(url, alert)
            if error is None:
                alert.delivery, alert.delivered_at, alert.last_error = "delivered", self._clock(), None
                log.info("[BudgetAlert] Alert %d delivered to %s (attempt %d)", alert.id, url, alert.attempts)
            else:
                alert.last_error = error[:1000]
                alert.next_attempt_at = self._clock() + self.backoff(alert.attempts)
                log.warning("[BudgetAlert] Alert %d not delivered to %s (attempt %d: %s); next attempt at %s",
                            alert.id, url, alert.attempts, error, alert.next_attempt_at.isoformat())
            session.commit()
            return "delivered" if error is None else "failed"

    def _post(self, url: str, alert: BudgetAlert) -> str | None:
        """POST the alert; None on a 2xx answer, else what went wrong."""
        body = payload(alert)
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "llm-cost-ledger",
            ID_HEADER: str(alert.id), SIGNATURE_HEADER: sign(self._secret, body),
            "X-Ledger-Attempt": str(alert.attempts)})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310 - http(s) only
                response.read(65536)
                return None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


class Dispatcher:
    """A deliverer in a daemon thread: delivers what is due, then waits `interval` seconds (or
    until :meth:`wake`)."""

    def __init__(self, deliverer: Deliverer, *, interval: float = 1.0) -> None:
        self._deliverer = deliverer
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-delivery", daemon=True)

    def start(self) -> Dispatcher:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self._deliverer.deliver_due().handled and not self._stop.is_set():
                    pass
            except Exception:  # noqa: BLE001 - the database may be away: try again next round
                log.exception("[BudgetAlert] Delivery round failed; retrying in %s s", self._interval)
            self._wake.wait(self._interval)
            self._wake.clear()
