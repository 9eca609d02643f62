"""The stores' scoring models as this worker knows them: in memory, filled from the compacted
models topic (every worker reads all of it, no consumer group) and by the leader's own fits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

from aiokafka import AIOKafkaConsumer

from boomerang.segmenter.domain.model import CustomerState
from boomerang.segmenter.domain.scorecard import ScoreCard, StoreModel, score_card, score_cards_each
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


class StoreModels:
    def __init__(self) -> None:
        self._by_store: dict[str, StoreModel] = {}

    def put(self, model: StoreModel) -> bool:
        """True if the model is new to this worker (newer fit, or a store without one)."""
        current = self._by_store.get(model.store_id)
        if current is not None and current.model.fitted_at > model.model.fitted_at:
            return False
        if current is not None and current.model_id == model.model_id:
            return False
        self._by_store[model.store_id] = model
        return True

    def get(self, store_id: str) -> StoreModel | None:
        return self._by_store.get(store_id)

    def __len__(self) -> int:
        return len(self._by_store)

    def score(self, state: CustomerState, at: datetime) -> ScoreCard | None:
        # Not remembered here: a batch scores each (order records, time) once (segmentation's _Batch).
        model = self._by_store.get(state.store_id)
        return None if model is None else score_card(state, model, at)

    def score_many(self, requests: Sequence[tuple[CustomerState, datetime]]) -> list[ScoreCard | None]:
        """`score` of each (state, time), one vectorised pass per store."""
        cards: list[ScoreCard | None] = [None] * len(requests)
        rows_of: dict[str, list[int]] = {}
        for row, (state, _) in enumerate(requests):
            rows_of.setdefault(state.store_id, []).append(row)
        for store_id, rows in rows_of.items():
            model = self._by_store.get(store_id)
            if model is not None:
                for row, card in zip(rows, score_cards_each([requests[r] for r in rows], model), strict=True):
                    cards[row] = card
        return cards


async def follow_models(
    bootstrap: str, topic: str, on_model: Callable[[StoreModel], None], poll_ms: int = 1000
) -> None:
    """Reads the models topic from the beginning, then keeps reading; runs until cancelled."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=poll_ms)
            for records in batches.values():
                for record in records:
                    if record.value is None:
                        continue
                    try:
                        on_model(StoreModel.from_json(record.value))
                    except (ValueError, KeyError, TypeError) as exc:
                        log.error("model_unreadable", offset=record.offset, error=str(exc)[:200])
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
