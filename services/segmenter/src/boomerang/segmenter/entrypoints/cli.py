"""`boomerang-segmenter worker`: run the faust worker with settings from the environment."""

from __future__ import annotations

import logging

import faust
import typer

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from boomerang.segmenter.bootstrap import CUSTOMERS_TABLE, DUE_TABLE, TOPICS, app_id
from boomerang.shared.kafka.topics import PARTITIONS
from boomerang.segmenter.entrypoints.faust_app import create_faust_app
from boomerang.segmenter.settings import SegmenterSettings
from boomerang.shared.cli import database_commands
from boomerang.shared.kafka import ensure_topics
from boomerang.shared.logs import configure_logging, get_logger

log = get_logger(__name__)
cli = typer.Typer(help="Boomerang segmenter: per-customer state and lifecycle segments on the stream.")


class SegmenterWorker(faust.Worker):
    """faust's worker with Boomerang's JSON logging instead of faust's own."""

    def __init__(self, app: faust.App, settings: SegmenterSettings) -> None:
        super().__init__(app, quiet=True, redirect_stdouts=False, loglevel=settings.common.log_level)
        self.spinner = None
        self._settings = settings

    def _setup_logging(self) -> None:
        common = self._settings.common
        configure_logging("segmenter", common.log_level, common.log_json)
        if logging.getLogger().level > logging.DEBUG:
            # faust narrates every service start and rebalance at INFO; our own logs say what matters.
            for chatty in ("faust", "mode"):
                logging.getLogger(chatty).setLevel(logging.WARNING)


@cli.callback()
def _main() -> None:
    """Subcommands: worker, api, db upgrade."""


@cli.command()
def worker() -> None:
    """Consume commerce events, keep customer state, publish segment changes. Stops on SIGTERM."""
    settings = SegmenterSettings()
    if settings.table_store != "rocksdb":
        # An in-memory table rebuilds every customer from the changelog at each start.
        raise typer.BadParameter("the worker keeps its tables in RocksDB; memory is for unit tests")
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    configure_logging("segmenter", settings.common.log_level, settings.common.log_json)
    from boomerang.segmenter.migrations import upgrade

    upgrade(settings.database_url)  # the snapshot store the worker writes
    runner = SegmenterWorker(create_faust_app(settings), settings)
    try:
        # Our topics get shared's retention; faust would create missing ones with its defaults.
        runner.loop.run_until_complete(
            ensure_topics(settings.common.kafka_bootstrap, settings.common.topic_prefix, TOPICS)
        )
        runner.loop.run_until_complete(ensure_changelogs(settings))
    except Exception:
        log.exception("topics_unavailable", bootstrap=settings.common.kafka_bootstrap)
        raise typer.Exit(1) from None
    runner.execute_from_commandline()


async def ensure_changelogs(settings: SegmenterSettings) -> None:
    """Create the tables' changelog topics before faust starts, as faust would (compacted, the
    source's partitions, `replication_factor`). Left to faust, they are created while the
    consumer joins its group, and the group's metadata can then hold a changelog with 0
    partitions: faust refuses every write to that table ("PartitionsMismatch") until the next
    rebalance."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.common.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        names = [f"{app_id(settings)}-{table}-changelog" for table in (CUSTOMERS_TABLE, DUE_TABLE)]
        wanted = [
            NewTopic(name, PARTITIONS, settings.replication_factor, topic_configs={"cleanup.policy": "compact"})
            for name in names
            if name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:  # another worker made them first
                pass
    finally:
        await admin.close()


@cli.command()
def api(
    host: str | None = typer.Option(None, help="default: BOOMERANG_SEGMENTER_HOST"),
    port: int | None = typer.Option(None, help="default: BOOMERANG_SEGMENTER_API_PORT (8005)"),
) -> None:
    """Serve the query API (customers, segments, score distributions) from the snapshot store."""
    import uvicorn

    from boomerang.segmenter.entrypoints.api import create_app

    settings = SegmenterSettings()
    configure_logging("segmenter", settings.common.log_level, settings.common.log_json)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.api_port,
        log_config=None,  # keep the JSON logging configured above
        access_log=False,
    )


cli.add_typer(database_commands("segmenter", SegmenterSettings, what="snapshot store"), name="db")


def main() -> None:
    cli()
