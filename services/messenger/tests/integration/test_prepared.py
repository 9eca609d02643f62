"""adapters.sql.Prepared: a statement run on the driver's cursor reads and writes exactly what
SQLAlchemy's own execution does, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import bindparam, insert, select, update

from boomerang.messenger.adapters.sql import Prepared, PreparedCache, ShortIn, _Executed
from boomerang.messenger.adapters.store import ContactRow, LedgerRow, SuppressionRow

pytestmark = pytest.mark.integration
_CONTACTS = ContactRow.__table__
_SUPPRESSIONS = SuppressionRow.__table__
_LEDGER = LedgerRow.__table__
MOMENT = datetime(1997, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def _suppression(customer: str, lift: bool) -> dict:
    return {
        "store_id": "s1", "customer_id": customer, "channel": "email", "block": "unsubscribe",
        "address": "", "lift": lift, "changed_at": MOMENT,
    }  # fmt: skip


def test_reads_what_sqlalchemy_wrote_with_the_same_types(engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(_SUPPRESSIONS), [_suppression("c1", True), _suppression("c2", False)])
        conn.execute(insert(_CONTACTS), {"store_id": "s1", "customer_id": "c1", "birthday": date(1970, 2, 28)})
    read = select(_SUPPRESSIONS).where(_SUPPRESSIONS.c.store_id == bindparam("store")).order_by(_SUPPRESSIONS.c.customer_id)
    contact = select(_CONTACTS.c.birthday, _CONTACTS.c.email).where(_CONTACTS.c.customer_id == bindparam("c"))
    prepare = PreparedCache(engine.dialect.name)

    with engine.connect() as conn:
        expected = [tuple(row) for row in conn.execute(read, {"store": "s1"})]
        found = prepare(read).all(conn, {"store": "s1"})
        birthday = prepare(contact).first(conn, {"c": "c1"})

    assert isinstance(prepare(read), Prepared)
    assert found == expected
    assert [type(row[5]) for row in found] == [bool, bool] and found[0][5] is True
    assert found[0][6].replace(tzinfo=UTC) == MOMENT  # SQLite: naive, as SQLAlchemy gives it
    assert birthday == (date(1970, 2, 28), None)


def test_what_it_writes_sqlalchemy_reads_and_compares_in_order(engine) -> None:
    prepare = PreparedCache(engine.dialect.name)
    add = prepare(insert(_SUPPRESSIONS), column_keys=[column.name for column in _SUPPRESSIONS.c])
    moved = update(_SUPPRESSIONS).where(
        _SUPPRESSIONS.c.customer_id == bindparam("c"), _SUPPRESSIONS.c.changed_at < bindparam("before")
    ).values(lift=bindparam("lift"))

    with engine.begin() as conn:
        add.run_many(conn, [_suppression("c1", True), _suppression("c2", True)])
        changed = prepare(moved).run(conn, {"c": "c1", "before": MOMENT.replace(microsecond=890124), "lift": False})
        unchanged = prepare(moved).run(conn, {"c": "c2", "before": MOMENT, "lift": False})
    with engine.connect() as conn:
        rows = conn.execute(select(_SUPPRESSIONS.c.customer_id, _SUPPRESSIONS.c.lift, _SUPPRESSIONS.c.changed_at)
                            .order_by(_SUPPRESSIONS.c.customer_id)).all()  # fmt: skip

    assert (changed, unchanged) == (1, 0)
    assert [(c, lift, moment.replace(tzinfo=UTC)) for c, lift, moment in rows] == [
        ("c1", False, MOMENT), ("c2", True, MOMENT)
    ]  # fmt: skip


def test_a_statement_it_cannot_prepare_runs_through_sqlalchemy(engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(_SUPPRESSIONS), [_suppression(f"c{n}", True) for n in range(3)])
    expanding = select(_SUPPRESSIONS.c.customer_id).where(_SUPPRESSIONS.c.customer_id.in_(bindparam("ids", expanding=True)))
    short = ShortIn(lambda ids: select(_SUPPRESSIONS.c.customer_id).where(_SUPPRESSIONS.c.customer_id.in_(ids)), "ids")
    prepare = PreparedCache(engine.dialect.name)
    statement, params = short(["c0", "c2"])

    with engine.connect() as conn:
        via_sqlalchemy = prepare(expanding).all(conn, {"ids": ["c0", "c2"]})
        via_driver = prepare(statement).all(conn, params)

    assert isinstance(prepare(expanding), _Executed) and isinstance(prepare(statement), Prepared)
    assert sorted(via_sqlalchemy) == sorted(via_driver) == [("c0",), ("c2",)]


def test_a_moment_with_another_offset_is_stored_as_the_same_instant(engine) -> None:
    from datetime import timedelta, timezone

    new_york = MOMENT.astimezone(timezone(timedelta(hours=-5)))
    prepare = PreparedCache(engine.dialect.name)
    add = prepare(insert(_SUPPRESSIONS), column_keys=[column.name for column in _SUPPRESSIONS.c])
    with engine.begin() as conn:
        add.run(conn, _suppression("c1", True) | {"changed_at": new_york})
    with engine.connect() as conn:
        (stored,) = conn.execute(select(_SUPPRESSIONS.c.changed_at)).one()

    assert stored.replace(tzinfo=stored.tzinfo or UTC) == MOMENT
