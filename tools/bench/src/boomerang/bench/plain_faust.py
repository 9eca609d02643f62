"""The reference the segmenter's throughput is read against besides the raw consumer: the plainest
faust worker there is, one agent over the same topic counting each customer's events in an
in-memory table, one event at a time (the issue's "about 3,000 events/s on this kind of machine").

Run as `python -m boomerang.bench.plain_faust BOOTSTRAP TOPIC EXPECTED OUT_JSON DATA_DIR`: it
reads until it has seen EXPECTED events, writes {events, seconds} (first event to last) to
OUT_JSON and exits.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import faust

from boomerang.shared.kafka.topics import PARTITIONS


def main(bootstrap: str, topic: str, expected: int, out: Path, data_dir: Path) -> None:
    app = faust.App(
        f"plain-faust-{os.getpid()}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=str(data_dir),
        consumer_auto_offset_reset="earliest",
        topic_partitions=PARTITIONS,  # the changelog co-partitioned with the source, as faust requires
        web_enabled=False,
        autodiscover=False,
    )
    source = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    counts = app.Table("counts", default=int, key_type=bytes, value_type=int)
    seen = {"events": 0, "first": 0.0}

    @app.agent(source)
    async def count(stream: faust.StreamT) -> None:
        try:
            async for event in stream.events():
                if not seen["events"]:
                    seen["first"] = time.perf_counter()
                counts[event.key] += 1
                seen["events"] += 1
                if seen["events"] == expected:
                    out.write_text(json.dumps({"events": expected, "seconds": time.perf_counter() - seen["first"]}))
                    os._exit(0)  # measured; nothing of this app needs a clean stop
        except Exception:  # noqa: BLE001 - a crashed agent leaves faust running: end, the bench reports it
            traceback.print_exc()
            os._exit(1)

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5]))
