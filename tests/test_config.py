"""Settings from the environment and the embedded cluster used when DATABASE_URL is unset."""

from __future__ import annotations

import pytest

from app import embedded_pg
from app.config import ConfigError, Settings, normalise_url


def test_database_url_from_the_environment_uses_psycopg3():
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u:p@db:5432/ledger"})
    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/ledger"
    assert normalise_url("postgres://db/x") == "postgresql+psycopg://db/x"
    assert normalise_url("postgresql+psycopg://db/x") == "postgresql+psycopg://db/x"


def test_without_database_url_the_embedded_cluster_is_used(tmp_path, monkeypatch):
    (tmp_path / embedded_pg.PORT_FILE).write_text("54999\n")
    monkeypatch.setattr(embedded_pg, "DEV_DATADIR", tmp_path)
    monkeypatch.setattr(embedded_pg, "dev_cluster", lambda datadir=tmp_path: embedded_pg.Cluster(tmp_path, 54999))
    assert Settings.from_env({}).database_url == "postgresql+psycopg://postgres@127.0.0.1:54999/ledger"


def test_without_database_url_or_cluster_the_error_says_what_to_do(monkeypatch):
    monkeypatch.setattr(embedded_pg, "dev_cluster", lambda datadir=None: None)
    with pytest.raises(ConfigError, match="make run"):
        Settings.from_env({})


def test_dev_cluster_is_made_started_and_reused(tmp_path):
    """What `make run` does with no DATABASE_URL: initdb once, start, create the database."""
    import psycopg

    datadir = tmp_path / "pgdata"
    cluster = embedded_pg.ensure_dev_cluster(datadir)
    try:
        with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=ledger") as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        again = embedded_pg.ensure_dev_cluster(datadir)  # already running: same cluster, same port
        assert again.port == cluster.port
        assert embedded_pg.dev_cluster(datadir).url("ledger").endswith(f":{cluster.port}/ledger")
    finally:
        cluster.stop()
    assert not cluster.running()


def test_metrics_cache_seconds_from_the_environment():
    url = {"DATABASE_URL": "postgresql://u@db/ledger"}
    assert Settings.from_env(url).metrics_cache_seconds == 5
    assert Settings.from_env(url | {"METRICS_CACHE_SECONDS": "30"}).metrics_cache_seconds == 30
    with pytest.raises(ConfigError, match="METRICS_CACHE_SECONDS"):
        Settings.from_env(url | {"METRICS_CACHE_SECONDS": "0"})
