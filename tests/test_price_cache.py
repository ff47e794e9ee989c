"""The per-process price cache and the price epoch that keeps it honest (`app.models.price_epoch`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, event, insert, select, text, update
from sqlalchemy.orm import Session

from app.models import ModelPrice, PriceEpoch
from app.pricing import PriceBook, PriceCache, PricesChanged
from app.partitions import ensure_partitions
from tests.calls import post_call
from tests.committed import partitions_restored

AT = datetime(2026, 3, 5, 10, tzinfo=UTC)
TEST_SOURCE = "test_price_cache"


def epoch(session) -> int:
    return session.scalar(select(PriceEpoch.epoch))


@pytest.fixture
def statements(engine):
    """Every SQL statement sent through SQLAlchemy while the test runs."""
    seen: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    yield seen
    event.remove(engine, "before_cursor_execute", remember)


def test_every_kind_of_price_write_moves_the_epoch_to_a_value_never_seen_before(session):
    seen = [epoch(session)]
    price = session.scalars(select(ModelPrice).where(ModelPrice.model == "gpt-4o")).first()
    with session.begin_nested() as savepoint:  # a change that rolls back still uses up its value
        session.execute(update(ModelPrice).where(ModelPrice.id == price.id).values(source="x"))
        seen.append(epoch(session))
        savepoint.rollback()
    assert epoch(session) == seen[0]
    session.execute(update(ModelPrice).where(ModelPrice.id == -1).values(source="x"))  # no row: still a write
    seen.append(epoch(session))
    session.execute(insert(ModelPrice).values(provider="acme", model="m1", valid_from=AT, source=TEST_SOURCE))
    seen.append(epoch(session))
    session.execute(delete(ModelPrice).where(ModelPrice.provider == "acme"))
    seen.append(epoch(session))
    session.execute(text("TRUNCATE model_price CASCADE"))  # rolled back with the test
    seen.append(epoch(session))
    assert len(set(seen)) == len(seen), seen


def test_a_cached_model_is_priced_without_reading_prices_again(client, statements):
    post_call(client)
    statements.clear()
    post_call(client)
    assert not [s for s in statements if "model_price" in s]


@pytest.fixture
def elsewhere(engine):
    """Run statements in another connection and commit them, as another process would; the rows
    they add are deleted when the test's own transaction is over (its calls hold them). The month
    of the test's calls gets its partition first, committed: made inside the test's transaction, it
    would lock model_price (the partition's foreign key) until the test ends."""
    def run(statement):
        with engine.begin() as other:
            other.execute(statement)

    with partitions_restored(engine):
        with Session(engine) as session:
            ensure_partitions(session, today=datetime.now(UTC).date(), months=[AT.date()])  # and the months ahead
            session.commit()
        yield run
        run(delete(ModelPrice).where(ModelPrice.source == TEST_SOURCE))


def test_a_price_committed_by_another_process_applies_to_the_next_call(elsewhere, client):
    assert Decimal(post_call(client)["totalCost"]) == Decimal("0.0075")  # gpt-4o from the catalog, now cached
    elsewhere(insert(ModelPrice).values(  # as `flask costs prices set` would, from another process
        provider="openai", model="gpt-4o", kind="override", valid_from=datetime(2026, 3, 1, tzinfo=UTC),
        input_per_mtok=Decimal(1), output_per_mtok=Decimal(2), source=TEST_SOURCE))
    assert Decimal(post_call(client)["totalCost"]) == Decimal("0.002")  # 1,000 × $1 + 500 × $2 per million
    elsewhere(update(ModelPrice).where(ModelPrice.source == TEST_SOURCE).values(output_per_mtok=Decimal(4)))
    assert Decimal(post_call(client)["totalCost"]) == Decimal("0.003")


def test_a_book_that_meets_two_epochs_stops(session):
    book = PriceBook(session, PriceCache())
    assert book.price_at("openai", "gpt-4o", AT) is not None
    session.execute(update(ModelPrice).where(ModelPrice.id == -1).values(source="x"))
    with pytest.raises(PricesChanged):
        book.price_at("anthropic", "claude-sonnet-4-5", AT)


def test_the_cache_starts_over_past_its_size(session):
    cache = PriceCache(max_models=2)
    for model in ("gpt-4o", "gpt-4o-mini", "o3"):
        cache.histories(session, "openai", model)
    assert len(cache._histories) == 1
