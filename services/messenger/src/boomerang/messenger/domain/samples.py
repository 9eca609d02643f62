"""Sample data for previews: a customer and everything any default flow can show.

A preview of a customer the messenger has no contact card for, or of a flow whose trigger was
not given, uses these. They read like a real small shop (coffee), so the copy can be judged.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.content import Campaign, Guide, MessageInputs, Milestone, Product
from boomerang.shared.events import CheckoutStarted, OrderLine, OrderPlaced

DEFAULT_SHOP = "https://shop.example"


def sample_contact(store_id: str, customer_id: str) -> Contact:
    return Contact(
        store_id=store_id,
        customer_id=customer_id,
        email="ada@example.com",
        phone="+4915112345678",
        email_consent=True,
        sms_consent=True,
        first_name="Ada",
    )


def _line(
    shop: str, product_id: str, name: str, price: str, quantity: int = 1, category: str = "coffee"
) -> OrderLine:
    return OrderLine(
        product_id=product_id,
        name=name,
        category=category,
        quantity=quantity,
        unit_price=Decimal(price),
        url=f"{shop}/products/{product_id}",
    )


def sample_inputs(now: datetime, currency: str = "USD", shop: str = DEFAULT_SHOP) -> MessageInputs:
    """Everything any default flow can show; links point into `shop` (the store's URL)."""
    shop = shop.rstrip("/")
    lines = [
        _line(shop, "ethiopia-yirgacheffe", "Ethiopia Yirgacheffe, 250 g", "14.50", 2),
        _line(shop, "pour-over-dripper", "Ceramic Pour-Over Dripper", "32.00", category="brewing gear"),
    ]
    order = OrderPlaced(
        order_id="1042",
        placed_at=now - timedelta(days=7),
        currency=currency,
        subtotal=Decimal("61.00"),
        shipping=Decimal("4.90"),
        tax=Decimal("0"),
        total=Decimal("65.90"),
        lines=lines,
        email="ada@example.com",
    )
    checkout = CheckoutStarted(
        checkout_id="chk-7731",
        started_at=now - timedelta(hours=4),
        currency=currency,
        total=Decimal("47.40"),
        lines=[_line(shop, "hand-grinder", "Hand Grinder, Steel Burrs", "47.40", category="brewing gear")],
        recovery_url=f"{shop}/checkout/chk-7731/recover",
    )
    return MessageInputs(
        order=order,
        checkout=checkout,
        delivery_date=(now + timedelta(days=3)).date(),
        recommendations=[
            Product(name="Paper Filters, 100 pack", url=f"{shop}/products/filters", price=Decimal("5.90")),
            Product(name="Glass Server, 600 ml", url=f"{shop}/products/glass-server", price=Decimal("24.00")),
        ],
        products=[
            Product(name="Colombia Huila, 250 g", url=f"{shop}/products/colombia-huila", price=Decimal("13.90")),
            Product(name="Cold Brew Bottle", url=f"{shop}/products/cold-brew-bottle", price=Decimal("29.00")),
            Product(name="Gooseneck Kettle", url=f"{shop}/products/gooseneck-kettle", price=Decimal("49.00")),
        ],
        product=Product(
            name="Ethiopia Yirgacheffe, 250 g",
            url=f"{shop}/reorder/ethiopia-yirgacheffe",
            price=Decimal("14.50"),
        ),
        last_ordered_on=(now - timedelta(days=27)).date(),
        categories=["coffee", "brewing gear"],
        guides=[
            Guide(
                title="Dialling in your grind",
                summary="Why a coarser grind can make your pour-over sweeter, and how to tell.",
                url=f"{shop}/guides/grind-size",
                category="brewing gear",
            ),
            Guide(
                title="Storing beans so they stay fresh",
                summary="Air, light and heat: three things your coffee would rather avoid.",
                url=f"{shop}/guides/storing-beans",
                category="coffee",
            ),
            Guide(
                title="Our roasting calendar",
                summary="Which coffees are in season, and when the next lots arrive.",
                url=f"{shop}/guides/roasting-calendar",
            ),
        ],
        campaign=Campaign(
            subject="Our holiday coffees are here",
            heading="A first taste of the holidays",
            paragraphs=[
                "Our holiday blend is back, roasted in small batches with notes of dark chocolate and orange.",
                "As one of our regulars, you get to try it a week before everyone else.",
            ],
            cta_label="Discover the holiday blend",
            cta_url=f"{shop}/collections/holiday",
        ),
        milestone=Milestone(orders=10, currency=currency),
        first_order_on=date(now.year - 1, now.month, min(now.day, 28)),
    )
