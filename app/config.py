"""Settings from the environment, in one place, with defaults that make `make run` work.

`DATABASE_URL` (``postgresql+psycopg://…``) names the database. When it is unset the app uses
the embedded development cluster that `make run` starts in ``./.pgdata`` (see
:mod:`app.embedded_pg`); if that cluster does not exist either, start-up fails with a message
saying what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import ClassVar

MAX_BATCH_CALLS = 10_000


class ConfigError(RuntimeError):
    """The environment does not describe a usable configuration."""


@dataclass(frozen=True)
class OtlpMapping:
    """How the spans `POST /v1/traces` receives become calls (app.otlp; README, "OpenTelemetry ingest").

    Each field of a call is taken from the first of its attribute keys that the span — or else its
    resource — carries (a key on the span overrides the same key on the resource; earlier keys win
    over later ones). `metadata` copies attributes into the call's metadata under keys of its own.
    Spans whose `gen_ai.operation.name` is in `ignored_operations` wrap model calls rather than
    being one (an agent run whose usage sums its chat spans): they are not recorded.
    """

    company: tuple[str, ...] = ("ledger.company_id", "tenant.id")
    user: tuple[str, ...] = ("ledger.user_id", "enduser.id", "user.id")
    assistant_id: tuple[str, ...] = ("ledger.assistant_id", "gen_ai.agent.id", "gen_ai.agent.name", "service.name")
    assistant_name: tuple[str, ...] = ("ledger.assistant_name", "gen_ai.agent.name", "service.name")
    endpoint: tuple[str, ...] = ("ledger.endpoint", "http.route")
    metadata: tuple[tuple[str, str], ...] = (("operation", "gen_ai.operation.name"),)  # (metadata key, attribute)
    ignored_operations: frozenset[str] = frozenset({"invoke_agent", "create_agent", "execute_tool",
                                                    "invoke_workflow"})

    # The variable that sets each field: a comma-separated list ("" for none).
    VARIABLES: ClassVar[dict[str, str]] = {"company": "OTLP_COMPANY_ATTRIBUTES", "user": "OTLP_USER_ATTRIBUTES",
                 "assistant_id": "OTLP_ASSISTANT_ID_ATTRIBUTES", "assistant_name": "OTLP_ASSISTANT_NAME_ATTRIBUTES",
                 "endpoint": "OTLP_ENDPOINT_ATTRIBUTES", "metadata": "OTLP_METADATA_ATTRIBUTES",
                 "ignored_operations": "OTLP_IGNORED_OPERATIONS"}

    @classmethod
    def from_env(cls, env: dict[str, str]) -> OtlpMapping:
        values: dict[str, object] = {}
        for name, variable in cls.VARIABLES.items():
            raw = env.get(variable)
            if raw is None:
                continue
            items = tuple(item.strip() for item in raw.split(",") if item.strip())
            if name == "metadata":
                pairs = tuple(item.partition("=")[::2] for item in items)
                if bad := [item for item, (key, attribute) in zip(items, pairs, strict=True)
                           if not key.strip() or not attribute.strip()]:
                    raise ConfigError(f"{variable} must list key=attribute pairs, got {', '.join(map(repr, bad))}")
                values[name] = tuple((key.strip(), attribute.strip()) for key, attribute in pairs)
            else:
                values[name] = frozenset(items) if name == "ignored_operations" else items
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Settings:
    database_url: str
    # Requests larger than this are refused before parsing (a full 10,000-call batch is ~5 MB).
    max_request_bytes: int = 32 * 1024 * 1024
    # Default and maximum page size of `GET /api/costs`.
    default_page_size: int = 50
    max_page_size: int = 1_000
    # Raw calls are kept this many whole months (plus the current one); rollups keep everything.
    retention_months: int = 13
    # Monthly partitions are created this many months ahead.
    partitions_ahead: int = 3
    # Budget alerts (app.alerts.delivery): the webhook of budgets that name none, and the secret
    # that signs every delivery. Without a secret alerts are recorded and logged, not sent.
    alert_webhook_url: str | None = None
    webhook_secret: str | None = None
    # Deliver alerts from a background thread of each gunicorn worker (ALERT_DELIVERY=off: leave
    # it to `flask costs alerts deliver`).
    alert_delivery: bool = True
    # GET /metrics reads the database's totals at most once per this many seconds per process
    # (METRICS_CACHE_SECONDS).
    metrics_cache_seconds: int = 5
    # POST /v1/traces: which attributes of a span name its company, user, assistant and endpoint.
    otlp: OtlpMapping = field(default_factory=OtlpMapping)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        from app import embedded_pg  # not at import time: `python -m app.embedded_pg` imports this package

        url = env.get("DATABASE_URL") or embedded_pg.default_url()
        if not url:
            raise ConfigError(
                "DATABASE_URL is not set and there is no embedded cluster in ./.pgdata. "
                "Run `make run` (it starts one) or export "
                "DATABASE_URL=postgresql+psycopg://user@host:port/dbname."
            )
        webhook = env.get("ALERT_WEBHOOK_URL") or None
        if webhook is not None and not webhook.startswith(("http://", "https://")):
            raise ConfigError(f"ALERT_WEBHOOK_URL must be an http:// or https:// URL, got {webhook!r}")
        delivery = env.get("ALERT_DELIVERY", "on").lower()
        if delivery not in ("on", "off"):
            raise ConfigError(f"ALERT_DELIVERY must be on or off, got {delivery!r}")
        return cls(database_url=normalise_url(url),
                   retention_months=_positive_int(env, "RETENTION_MONTHS", cls.retention_months),
                   partitions_ahead=_positive_int(env, "PARTITIONS_AHEAD", cls.partitions_ahead),
                   alert_webhook_url=webhook, webhook_secret=env.get("WEBHOOK_SECRET") or None,
                   alert_delivery=delivery == "on",
                   metrics_cache_seconds=_positive_int(env, "METRICS_CACHE_SECONDS", cls.metrics_cache_seconds),
                   otlp=OtlpMapping.from_env(env))


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` / ``postgres://`` URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _positive_int(env, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {raw!r}")
    return int(raw)
