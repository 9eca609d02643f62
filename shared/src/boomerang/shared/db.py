"""Store engines and schema migrations: SQLite by default, PostgreSQL by URL.

Each service owns its database and its alembic history, shipped inside its package."""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, event, inspect, pool, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import create_engine
from sqlmodel.sql.sqltypes import AutoString

# stdlib logging, not structlog: unconfigured (CLI commands whose stdout scripts capture) it stays
# silent, and configure_logging renders it as JSON like the rest.
log = logging.getLogger(__name__)
# alembic.context and alembic.op are module-level proxies: one migration at a time per process.
_ALEMBIC_IS_PROCESS_GLOBAL = threading.Lock()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def ping(engine: Engine) -> bool:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return True


# -- migrations ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """What `create_all` built before a service had migrations: such a database is stamped at
    `revision` (whose schema must equal it) instead of failing on "table already exists"."""

    revision: str
    tables: Collection[str]


def migrate(
    url: str, script_location: str | Path, version_table: str, *, baseline: Baseline | None = None
) -> None:
    """`alembic upgrade head` for one service's database; safe at every start.

    At head it changes nothing. Concurrent callers take turns: on PostgreSQL under an advisory lock
    named after the version table, on SQLite under BEGIN IMMEDIATE. The whole upgrade is one
    transaction on both, so a failed migration leaves the previous revision intact.
    """
    if url.startswith("sqlite") and ":memory:" in url:
        raise ValueError("an in-memory SQLite database lives in one connection; migrate a file instead")
    started = time.perf_counter()
    config = alembic_config(script_location, version_table)
    engine = _migration_engine(url)
    try:
        with _ALEMBIC_IS_PROCESS_GLOBAL, engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(version_table)})
            config.attributes["connection"] = conn
            before = _current_revision(conn, version_table)
            if before is None and baseline and _built_by_create_all(conn, baseline):
                command.stamp(config, baseline.revision)
                log.info("schema_adopted: %s at %s", version_table, baseline.revision)
            command.upgrade(config, "head")
            after = _current_revision(conn, version_table)
    finally:
        engine.dispose()
    took = time.perf_counter() - started
    log.info("schema_migrated: %s from %s to %s in %.3fs", version_table, before, after, took)


def alembic_config(script_location: str | Path, version_table: str, url: str | None = None) -> Config:
    """A Config without alembic.ini, for `alembic.command.*` (e.g. `revision(..., autogenerate=True)`)
    with a URL, or with a connection put in `config.attributes["connection"]`."""
    config = Config()
    config.set_main_option("script_location", str(script_location).replace("%", "%%"))
    config.attributes["version_table"] = version_table
    if url is not None:
        config.attributes["url"] = url
    return config


def draft_revision(
    script_location: str | Path, version_table: str, message: str, url: str | None = None
) -> Path:
    """Autogenerate the next revision from the models (numbered 0002, 0003, ...), to review and edit.

    Compares against `url` brought to head, or a scratch SQLite database when none is given.
    """
    config = alembic_config(script_location, version_table)
    current = ScriptDirectory.from_config(config).get_current_head()
    rev_id = f"{int(current) + 1:04d}" if current and current.isdigit() else None
    with tempfile.TemporaryDirectory() as scratch:
        url = url or f"sqlite:///{Path(scratch) / 'draft.db'}"
        migrate(url, script_location, version_table)
        config.attributes["url"] = url
        script = command.revision(config, message, autogenerate=True, rev_id=rev_id)
    return Path(script.path)


def run_migrations(tables: Sequence[Table]) -> None:
    """The body of every service's `migrations/env.py`; `tables` are the service's own.

    All services register their models on SQLModel's one global MetaData, so autogenerate compares
    against a copy holding only these tables, and ignores every other table it finds in the database.
    """
    from alembic import context

    config = context.config
    if context.is_offline_mode():
        raise RuntimeError("offline (--sql) migrations are not supported; run them against a database")
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(context, connection, tables, config.attributes["version_table"])
        return
    engine = _migration_engine(config.attributes["url"])
    try:
        with engine.begin() as conn:
            _run_on(context, conn, tables, config.attributes["version_table"])
    finally:
        engine.dispose()


def service_metadata(tables: Sequence[Table]) -> MetaData:
    """A MetaData with copies of just these tables (foreign keys among them kept)."""
    metadata = MetaData()
    for table in tables:
        table.to_metadata(metadata)
    return metadata


def schema_drift(engine: Engine, tables: Sequence[Table]) -> list:
    """What autogenerate would change to make the database match these tables; [] when they agree."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=_compare_options(tables))
        return compare_metadata(context, service_metadata(tables))


def _run_on(context, connection: Connection, tables: Sequence[Table], version_table: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=service_metadata(tables),
        version_table=version_table,
        # Batch mode recreates tables on SQLite, whose ALTER TABLE is limited, and is plain
        # ALTER elsewhere: revisions rendered this way run on both backends.
        render_as_batch=True,
        render_item=_render_plain_types,
        **_compare_options(tables),
    )
    with context.begin_transaction():
        context.run_migrations()


def _render_plain_types(type_: str, obj, _autogen_context):
    # SQLModel's AutoString would render as sqlmodel.sql.sqltypes.AutoString(...) without an import;
    # it is a VARCHAR, so revisions say sa.String and stay plain SQLAlchemy.
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _compare_options(tables: Sequence[Table]) -> dict:
    own = {table.name for table in tables}

    def include_name(name, type_, _parent_names) -> bool:
        return type_ != "table" or name in own

    return {"include_name": include_name, "compare_type": True, "compare_server_default": True}


def _migration_engine(url: str) -> Engine:
    """A short-lived engine whose transactions hold the write lock on SQLite.

    pysqlite issues no BEGIN before DDL, so by default each CREATE TABLE commits on its own and two
    starters could interleave; BEGIN IMMEDIATE makes the upgrade atomic and the second one wait.
    """
    if not url.startswith("sqlite"):
        return create_engine(url, poolclass=pool.NullPool)
    _ensure_sqlite_dir(url)
    engine = create_engine(url, poolclass=pool.NullPool, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _take_the_write_lock(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _current_revision(conn: Connection, version_table: str) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": version_table}).get_current_revision()


def _built_by_create_all(conn: Connection, baseline: Baseline) -> bool:
    existing = set(inspect(conn).get_table_names())
    return bool(baseline.tables) and set(baseline.tables) <= existing


def _lock_key(version_table: str) -> int:
    # Stable across processes (unlike hash()), and signed to fit PostgreSQL's bigint.
    digest = hashlib.blake2b(f"boomerang-migrate:{version_table}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the API read while a consumer writes; synchronous=NORMAL is durable in WAL mode.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
