"""`migrate`: alembic upgrade at every start, on SQLite and PostgreSQL, with a throwaway history."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import alembic
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect, text

from boomerang.shared.db import Baseline, draft_revision, make_engine, migrate, schema_drift

pytestmark = pytest.mark.integration
VERSION_TABLE = "alembic_version_widgets"
TEMPLATE = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"

ENV = """
import sqlalchemy as sa
from boomerang.shared.db import run_migrations

widgets = sa.Table("widgets", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("name", sa.String(40), nullable=False, index=True))
run_migrations([widgets])
"""

REVISION = """
import time
import sqlalchemy as sa
from alembic import op

revision = {rev!r}
down_revision = {down!r}
branch_labels = depends_on = None


def upgrade():
    {body}


def downgrade():
    pass
"""

CREATE_WIDGETS = """op.create_table("widgets", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(40), nullable=False))
    op.create_index("ix_widgets_name", "widgets", ["name"])
    time.sleep({pause})  # long enough for concurrent starters to collide without a lock"""


def history(tmp_path: Path, *revisions: tuple[str, str | None, str], env: str = ENV) -> Path:
    where = tmp_path / "migrations"
    (where / "versions").mkdir(parents=True)
    (where / "env.py").write_text(env)
    (where / "script.py.mako").write_text(TEMPLATE.read_text())
    for rev, down, body in revisions:
        (where / "versions" / f"{rev}.py").write_text(REVISION.format(rev=rev, down=down, body=body))
    return where


def widgets_model() -> list[Table]:
    table = Table(
        "widgets",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String(40), nullable=False, index=True),
    )
    return [table]


def revision_of(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    finally:
        engine.dispose()


def tables_of(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrades_an_empty_database_once_and_then_does_nothing(database_url, tmp_path):
    where = history(tmp_path, ("0001", None, CREATE_WIDGETS.format(pause=0)))
    migrate(database_url, where, VERSION_TABLE)
    migrate(database_url, where, VERSION_TABLE)
    assert revision_of(database_url) == ["0001"]
    assert tables_of(database_url) == {"widgets", VERSION_TABLE}
    engine = make_engine(database_url)
    assert schema_drift(engine, widgets_model()) == []
    engine.dispose()


def test_drift_is_reported_when_the_model_moves_on_without_a_migration(database_url, tmp_path):
    migrate(database_url, history(tmp_path, ("0001", None, CREATE_WIDGETS.format(pause=0))), VERSION_TABLE)
    model = widgets_model()
    model[0].append_column(Column("colour", String(16), nullable=True))
    engine = make_engine(database_url)
    with engine.begin() as conn:  # someone else's table in the same database is not ours to drop
        conn.execute(text("CREATE TABLE other_service_things (id INTEGER PRIMARY KEY)"))
    drift = schema_drift(engine, model)
    engine.dispose()
    assert [(d[0], d[3].name) for d in drift] == [("add_column", "colour")]


def test_concurrent_starters_take_turns(database_url, tmp_path):
    """Four processes, like four pods starting at once, each holding its upgrade open for a while."""
    where = history(tmp_path, ("0001", None, CREATE_WIDGETS.format(pause=1.0)))
    code = "import sys; from boomerang.shared.db import migrate; migrate(*sys.argv[1:])"
    argv = [sys.executable, "-c", code, database_url, str(where), VERSION_TABLE]
    starters = [subprocess.Popen(argv, stderr=subprocess.PIPE) for _ in range(4)]
    outcomes = [(p.communicate(timeout=120)[1], p.returncode) for p in starters]
    failures = [err.decode()[-2000:] for err, code in outcomes if code != 0]
    assert failures == []
    assert revision_of(database_url) == ["0001"]


BROKEN = """op.create_table("gadgets", sa.Column("id", sa.Integer, primary_key=True))
    raise RuntimeError("boom")"""


def test_a_failing_revision_leaves_the_previous_one_intact(database_url, tmp_path):
    where = history(tmp_path, ("0001", None, CREATE_WIDGETS.format(pause=0)))
    migrate(database_url, where, VERSION_TABLE)
    (where / "versions" / "0002.py").write_text(REVISION.format(rev="0002", down="0001", body=BROKEN))
    with pytest.raises(RuntimeError, match="boom"):
        migrate(database_url, where, VERSION_TABLE)
    # Its CREATE TABLE was rolled back with it, on SQLite too.
    assert tables_of(database_url) == {"widgets", VERSION_TABLE}
    assert revision_of(database_url) == ["0001"]


def test_an_upgrade_is_one_transaction(database_url, tmp_path):
    where = history(tmp_path, ("0001", None, CREATE_WIDGETS.format(pause=0)), ("0002", "0001", BROKEN))
    with pytest.raises(RuntimeError, match="boom"):
        migrate(database_url, where, VERSION_TABLE)
    assert tables_of(database_url) == set()


def test_a_database_built_by_create_all_is_adopted_not_rebuilt(database_url, tmp_path):
    engine = make_engine(database_url)
    model = widgets_model()
    model[0].metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO widgets (id, name) VALUES (1, 'kept')"))
    engine.dispose()
    grow = 'op.add_column("widgets", sa.Column("colour", sa.String(16)))'
    where = history(tmp_path, ("0001", None, CREATE_WIDGETS.format(pause=0)), ("0002", "0001", grow))

    migrate(database_url, where, VERSION_TABLE, baseline=Baseline("0001", ["widgets"]))

    assert revision_of(database_url) == ["0002"]
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, colour FROM widgets")).all() == [("kept", None)]
    engine.dispose()


def test_without_a_baseline_existing_tables_are_an_error(database_url, tmp_path):
    engine = make_engine(database_url)
    widgets_model()[0].metadata.create_all(engine)
    engine.dispose()
    where = history(tmp_path, ("0001", None, CREATE_WIDGETS.format(pause=0)))
    with pytest.raises(Exception, match="(?i)already exists"):
        migrate(database_url, where, VERSION_TABLE)


def test_an_in_memory_database_is_refused(tmp_path):
    with pytest.raises(ValueError, match="in-memory"):
        migrate("sqlite:///:memory:", history(tmp_path, ("0001", None, "pass")), VERSION_TABLE)


def test_a_draft_revision_holds_what_the_models_gained_in_plain_sqlalchemy(tmp_path):
    grown = ENV.replace("import sqlalchemy as sa", "import sqlalchemy as sa\nfrom sqlmodel import AutoString")
    grown = grown.replace("index=True)", 'index=True), sa.Column("colour", AutoString(16))')
    where = history(tmp_path, ("0001", None, CREATE_WIDGETS.format(pause=0)), env=grown)

    drafted = draft_revision(where, VERSION_TABLE, "widgets have a colour")

    assert drafted.name.startswith("0002_")
    source = drafted.read_text()
    assert "revision: str = '0002'" in source and "= '0001'" in source
    assert "batch_op.add_column(sa.Column('colour', sa.String(length=16), nullable=True))" in source
    assert "sqlmodel" not in source
