"""The receipt shows products bought with the customer's, learnt from earlier orders and views."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from boomerang.messenger.adapters.rendering import TemplateRenderer
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.messages import Outbound
from boomerang.messenger.domain.recommendations import (
    CatalogueProduct,
    Neighbourhood,
    interests_in,
    order_products,
    pairs_in,
)
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.service_layer.composing import Composer
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.handlers import Messenger
from boomerang.messenger.service_layer.ports import PlacedOrder
from boomerang.messenger.service_layer.retry import RetryPolicy
from boomerang.shared.events import Envelope, OrderLine, OrderPlaced, ProductViewed

from .fakes import FakeContacts, FakeLedger, FakeOutcomes, FakeProvider

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
SHOP = "https://shop.example"


class FakeRecommendations:
    """The store's co-purchase data in dictionaries; `calls` tells what happened in which order."""

    def __init__(self) -> None:
        self.orders: set[tuple[str, str]] = set()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.catalogue: dict[str, CatalogueProduct] = {}
        self.interests: dict[str, set[str]] = {}
        self.bought: dict[str, set[str]] = {}
        self.calls: list[str] = []

    def record_order(self, store_id: str, customer_id: str, order: OrderPlaced, now: datetime) -> bool:
        self.calls.append(f"record {order.order_id}")
        if (store_id, order.order_id) in self.orders:
            return False
        self.orders.add((store_id, order.order_id))
        products = order_products(order)
        for product in products:
            known = self.catalogue.get(product.product_id)
            self.catalogue[product.product_id] = CatalogueProduct(
                **{**product.__dict__, "orders": (known.orders if known else 0) + 1}
            )
        self.counts.update(pairs_in(p.product_id for p in products))
        self.bought.setdefault(customer_id, set()).update(p.product_id for p in products)
        self.interests.setdefault(customer_id, set()).update(interests_in(p.category for p in products))
        return True

    def record_orders(self, orders: Sequence[PlacedOrder], now: datetime) -> list[bool]:
        return [self.record_order(*placed, now) for placed in orders]

    def record_view(self, store_id: str, customer_id: str, event: ProductViewed) -> None:
        self.interests.setdefault(customer_id, set()).update(interests_in([event.category]))

    def neighbourhood(
        self, store_id: str, customer_id: str, order_lines: Sequence[OrderLine], k: int
    ) -> Neighbourhood:
        self.calls.append("neighbourhood")
        return Neighbourhood(
            dict(self.counts),
            dict(self.catalogue),
            frozenset(self.interests.get(customer_id, ())),
            frozenset(self.bought.get(customer_id, ())),
        )


class World:
    def __init__(self) -> None:
        self.mail = FakeProvider("sendgrid")
        self.store = FakeRecommendations()
        delivery = Delivery(
            FakeLedger(), {Channel.EMAIL: self.mail}, FakeOutcomes(), lambda: NOW, RetryPolicy(2, 0.001, 0.01)
        )
        composer = Composer(TemplateRenderer(), lambda store: StoreProfile(store, "Shop", SHOP, "help@shop.example"))
        self.messenger = Messenger(FakeContacts(), delivery, composer, lambda: NOW, recommendations=self.store)

    async def order(self, customer: str, order_id: str, *products: tuple[str, str]) -> Outbound:
        lines = [
            OrderLine(
                product_id=pid,
                name=pid.title(),
                category=category,
                unit_price=Decimal("9.50"),
                url=f"{SHOP}/products/{pid}",
            )
            for pid, category in products
        ]
        event = OrderPlaced(
            order_id=order_id, placed_at=NOW, total=Decimal("19"), lines=lines, email=f"{customer}@example.com"
        )
        await self.messenger.handle(
            Envelope.wrap(event, store_id="s1", customer_id=customer, source="test", time=NOW, id=f"ev-{order_id}")
        )
        return self.mail.accepted[-1]

    async def view(self, customer: str, category: str) -> None:
        event = ProductViewed(product_id="any", category=category)
        await self.messenger.handle(
            Envelope.wrap(event, store_id="s1", customer_id=customer, source="test", time=NOW, id=f"view-{customer}")
        )


BEANS = ("beans", "coffee")
FILTERS = ("filters", "coffee")
KETTLE = ("kettle", "gear")


async def test_the_next_customer_is_shown_what_the_first_bought_with_the_same_product() -> None:
    world = World()
    first = await world.order("ada", "o-1", BEANS, FILTERS)

    second = await world.order("bob", "o-2", BEANS)

    assert "Goes well with your order" not in first.text  # nothing learnt yet
    assert "Goes well with your order:\n- Filters ($9.50): " in second.text
    tagged = "utm_source=boomerang&utm_medium=email&utm_campaign=receipt&utm_content=email"
    assert f"{SHOP}/products/filters?{tagged}" in second.text
    assert f'href="{SHOP}/products/filters?{tagged.replace("&", "&amp;")}"' in second.html


async def test_recommendations_are_computed_before_the_order_is_counted() -> None:
    world = World()

    await world.order("ada", "o-1", BEANS, FILTERS)

    assert world.store.calls == ["neighbourhood", "record o-1"]


async def test_a_category_is_recommended_only_to_customers_who_showed_interest_in_it() -> None:
    world = World()
    await world.order("ada", "o-1", BEANS, KETTLE)
    await world.view("cleo", "Gear")

    browsed = await world.order("cleo", "o-2", BEANS)
    never_browsed = await world.order("bob", "o-3", BEANS)

    assert "Kettle" in browsed.text
    assert "Kettle" not in never_browsed.text


async def test_nothing_the_customer_bought_before_is_recommended() -> None:
    world = World()
    await world.order("ada", "o-1", BEANS, FILTERS)
    await world.order("bob", "o-2", FILTERS)

    receipt = await world.order("bob", "o-3", BEANS)

    assert "Filters" not in receipt.text.split("Goes well with your order")[-1]
