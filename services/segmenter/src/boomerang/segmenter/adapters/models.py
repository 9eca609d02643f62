"""The stores' scoring models as this worker knows them: in memory, filled from the compacted
models topic (every worker reads all of it, no consumer group) and by the leader's own fits."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from aiokafka import AIOKafkaConsumer

from boomerang.segmenter.domain.model import CustomerState
from boomerang.segmenter.domain.scorecard import ScoreCard, StoreModel, orders_of, score_card
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


class StoreModels:
    def __init__(self, remembered_cards: int = 4096) -> None:
        self._by_store: dict[str, StoreModel] = {}
        # Handling one event scores the customer up to three times (before it, after it, and
        # for the published scores), mostly with the same orders at the same instant: the
        # cards are remembered by what they depend on, so each distinct one costs once.
        self._cards: OrderedDict[tuple, ScoreCard | None] = OrderedDict()
        self._remembered = remembered_cards
        self.scored = 0  # cards computed, not recalled (for tests and metrics)

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
        model = self._by_store.get(state.store_id)
        if model is None:
            return None
        days, amounts = orders_of(state, at)
        key = (model.model_id, at, tuple(days), tuple(amounts))
        if key in self._cards:
            self._cards.move_to_end(key)
            return self._cards[key]
        card = score_card(state, model, at)
        self.scored += 1
        self._cards[key] = card
        if len(self._cards) > self._remembered:
            self._cards.popitem(last=False)
        return card


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
