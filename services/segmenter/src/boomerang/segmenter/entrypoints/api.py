"""The query API: customers, segment sizes and movement, score distributions, from the snapshot store.

A FastAPI app of its own (`boomerang-segmenter api`, BOOMERANG_SEGMENTER_API_PORT), not a view of
the worker's faust (aiohttp) web server: it reads only the database, so it answers for every
worker's customers (not just one worker's partitions), scales and restarts on its own, and its
queries never run on the worker's event loop. OpenAPI at /docs and /openapi.json.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any

import anyio
from fastapi import FastAPI, Path, Query, Request
from pydantic import BaseModel, Field

from boomerang.segmenter.adapters.snapshots import SqlSnapshots
from boomerang.segmenter.adapters.clocks import utc_now
from boomerang.segmenter.domain.snapshots import distribution, movement
from boomerang.segmenter.settings import SegmenterSettings
from boomerang.shared.db import make_engine, ping
from boomerang.shared.errors import NotFound
from boomerang.shared.web import install_error_handlers, ops_router

Store = Annotated[str, Path(pattern=r"^[^:\s]{1,64}$", description="the store id")]
WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}


class Transition(BaseModel):
    id: str = Field(description="the SegmentChanged envelope id")
    dimension: str = Field(description="lifecycle or value")
    from_segment: str | None
    to_segment: str
    reason: str
    detail: str | None
    changed_at: datetime


class Customer(BaseModel):
    store_id: str
    customer_id: str
    lifecycle: str | None = Field(description="prospect, new, active, neutral, at_risk, lapsed, reactivated")
    value_tier: str = Field(description="vip or regular")
    profile: dict[str, Any] = Field(description="orders, net revenue, first/last order, visits, categories, ...")
    scores: dict[str, Any] | None = Field(description="the last CustomerScored; null until the store has a model")
    evaluated_at: datetime | None
    updated_at: datetime = Field(description="when the worker last saved this customer")
    transitions: list[Transition] = Field(description="newest first, at most `history`")


class SegmentMove(BaseModel):
    entered: int
    left: int
    net: int


class Segments(BaseModel):
    store_id: str
    customers: int
    lifecycle: dict[str, int] = Field(description="customers per lifecycle stage")
    value: dict[str, int] = Field(description="customers per value tier (vip, regular)")
    movement: dict[str, dict[str, SegmentMove]] = Field(
        description='per window ("24h", "7d"): transitions into and out of each segment that took effect in it'
    )
    as_of: datetime


class Histogram(BaseModel):
    from_: float = Field(alias="from")
    to: float
    count: int


class Distribution(BaseModel):
    count: int
    mean: float | None
    min: float | None
    max: float | None
    quantiles: dict[str, float]
    histogram: list[Histogram]


class Scores(BaseModel):
    store_id: str
    scored_customers: int
    distributions: dict[str, Distribution] = Field(
        description="predicted_clv_365d, historic_clv, p_alive, lapse_score, clv_percentile, recency/frequency/monetary_score"
    )
    rfm_cells: dict[str, int] = Field(description='customers per R, F, M cell, e.g. "545"')


def create_app(settings: SegmenterSettings | None = None, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    settings = settings or SegmenterSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from boomerang.segmenter.migrations import upgrade

        await anyio.to_thread.run_sync(upgrade, settings.database_url)
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.snapshots = SqlSnapshots(engine)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="Boomerang segmenter",
        description="Customers' lifecycle stages, value tiers and scores, from the segmenter's snapshot store.",
        lifespan=lifespan,
    )
    install_error_handlers(app)

    async def database() -> bool:
        return await anyio.to_thread.run_sync(ping, app.state.engine)

    app.include_router(ops_router({"database": database}))

    def store_of(request: Request) -> SqlSnapshots:
        return request.app.state.snapshots

    @app.get("/v1/customers/{store}/{customer_id}", response_model=Customer, tags=["query"])
    def customer(
        request: Request,
        store: Store,
        customer_id: Annotated[str, Path(min_length=1, max_length=256)],
        history: Annotated[int, Query(ge=0, le=1000, description="transitions to return")] = 100,
    ) -> Customer:
        """A customer's profile, lifecycle stage, value tier, scores and transition history."""
        view = store_of(request).customer(store, customer_id, history)
        if view is None:
            raise NotFound("no such customer in this store", field="customer_id", code="customer_not_found")
        s = view.snapshot
        return Customer(
            store_id=s.store_id,
            customer_id=s.customer_id,
            lifecycle=s.lifecycle,
            value_tier=s.value_tier,
            profile=dict(s.profile),
            scores=None if s.scores is None else dict(s.scores),
            evaluated_at=s.evaluated_at,
            updated_at=s.updated_at,
            transitions=[Transition(**{k: getattr(t, k) for k in Transition.model_fields}) for t in view.transitions],
        )

    @app.get("/v1/segments/{store}", response_model=Segments, tags=["query"])
    def segments(
        request: Request,
        store: Store,
        now: Annotated[datetime | None, Query(description="the end of the movement windows; default: now")] = None,
    ) -> Segments:
        """Customers per lifecycle stage and value tier, and movement over the last 24 h and 7 d."""
        snapshots = store_of(request)
        at = now or clock()
        if at.tzinfo is None:
            at = at.replace(tzinfo=clock().tzinfo)
        stages, tiers = snapshots.sizes(store)
        moved = {
            name: {k: SegmentMove(**v) for k, v in movement(snapshots.moves(store, at - span, at)).as_dict().items()}
            for name, span in WINDOWS.items()
        }
        return Segments(
            store_id=store,
            customers=sum(stages.values()),
            lifecycle=dict(sorted(stages.items())),
            value=dict(sorted(tiers.items())),
            movement=moved,
            as_of=at,
        )

    @app.get("/v1/scores/{store}", response_model=Scores, tags=["query"])
    def scores(
        request: Request,
        store: Store,
        bins: Annotated[int, Query(ge=1, le=100, description="histogram bins")] = 10,
    ) -> Scores:
        """Distributions of the scored customers' scores (quantiles, histogram) and RFM cells."""
        snapshots = store_of(request)
        columns = snapshots.score_columns(store)
        cells = snapshots.rfm_cells(store)
        return Scores(
            store_id=store,
            scored_customers=sum(cells.values()) if cells else max((len(v) for v in columns.values()), default=0),
            distributions={name: Distribution(**distribution(values, bins)) for name, values in columns.items()},
            rfm_cells=cells,
        )

    return app
