"""A real shop's history for the demo: CDNOW purchases, dressed as Segment-spec calls.

CDNOW gives who bought when, how many CDs and for how much; names, addresses and the CDs
themselves are made up here, deterministically, so a replay always sends the same calls
(same messageIds), which is what lets a second replay prove nothing is sent twice.

CDNOW has only purchases, so the site activity is synthetic too (`site_activity`), made up by
the same rule on every replay and interleaved with the orders in time order:

- "Checkout Started" 20 minutes before one order in three (the order ends the checkout, so no
  reminder goes out), and a checkout left unfinished ten days after the last order of one
  customer in four (never followed by an order: the 4-hour reminder goes out);
- "Product Viewed" of a CD in the genre they bought last, three days past the at-risk horizon
  of another one customer in four who stopped buying, which makes them `neutral` (browsing, not
  buying) for the segmenter until it runs out two weeks later.

Only activity that ends at least two weeks before the history does is made up, so the flows it
starts have run by the replay's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from statistics import median
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from boomerang.devstack.kafka_broker import repo_root

CDNOW = repo_root() / "data" / "cdnow"
DEMO_HISTORY = CDNOW / "cdnow_first300.txt"
# What `make demo` can replay (HISTORY=...): the first 300 customers (all of whom joined in
# the first days of January 1997), the published 1/10 sample of the whole cohort (2,357
# customers who joined over the first quarter, as a shop's customers do), or the whole cohort.
HISTORIES = {
    "first300": DEMO_HISTORY,
    "sample": CDNOW / "CDNOW_sample.txt",
    "full": CDNOW / "CDNOW_master.txt",
}

CATALOGUE = [
    ("cd-0001", "Kind of Blue", "Jazz"),
    ("cd-0002", "OK Computer", "Rock"),
    ("cd-0003", "The Miseducation of Lauryn Hill", "Hip-Hop"),
    ("cd-0004", "Homogenic", "Electronic"),
    ("cd-0005", "Buena Vista Social Club", "World"),
    ("cd-0006", "Mezzanine", "Electronic"),
    ("cd-0007", "Car Wheels on a Gravel Road", "Country"),
    ("cd-0008", "The Goldberg Variations", "Classical"),
    ("cd-0009", "Aquemini", "Hip-Hop"),
    ("cd-0010", "Blue Lines", "Electronic"),
    ("cd-0011", "Time Out", "Jazz"),
    ("cd-0012", "Urban Hymns", "Rock"),
]
FIRST_NAMES = ["Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jon", "Kai", "Lena"]
AREA_CODES = ["415", "202", "212", "312", "617"]


@dataclass(frozen=True)
class Purchase:
    customer: int
    day: datetime
    cds: int
    value: Decimal
    seq: int  # n-th purchase of that customer on that day


def load_purchases(path: Path = DEMO_HISTORY) -> list[Purchase]:
    """Any of the CDNOW files: `customer date cds value`, or the sample's `customer
    sample_customer date cds value`; a header line is skipped."""
    purchases: list[Purchase] = []
    seen: dict[tuple[int, str], int] = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if not fields or not fields[0].isdigit():
            continue  # the header
        cust, day, cds, value = fields[0], *fields[-3:]
        seq = seen[(int(cust), day)] = seen.get((int(cust), day), -1) + 1
        purchases.append(
            Purchase(
                customer=int(cust),
                # CDNOW has days only: noon in New York, where the demo's customers live, so the
                # event-time clock of a replay stands inside every flow's send window at its end.
                day=datetime.strptime(day, "%Y%m%d").replace(hour=17, tzinfo=timezone.utc),
                cds=int(cds),
                value=Decimal(value),
                seq=seq,
            )
        )
    return sorted(purchases, key=lambda p: (p.day, p.customer, p.seq))


def customer_id(n: int) -> str:
    return f"cdnow-{n:05d}"


def phone_for(n: int) -> str | None:
    """Two customers in five gave a (fictional, 555-01xx) mobile number and SMS consent."""
    if n % 5 not in (0, 1):
        return None
    return f"+1{AREA_CODES[(n // 100) % len(AREA_CODES)]}5550{100 + n % 100}"


def birthday_of(n: int) -> date | None:
    """Two customers in three told the shop their (fictional) birthday, spread over the year."""
    if n % 3 == 2:
        return None
    return date(1950 + n % 40, 1, 1) + timedelta(days=(n * 97) % 365)


def identify_call(n: int, first_seen: datetime) -> dict:
    phone = phone_for(n)
    traits = {
        "email": f"customer{n:05d}@example.com",
        "firstName": FIRST_NAMES[n % len(FIRST_NAMES)],
        "lastName": f"Listener{n}",
        "email_consent": True,
        "timezone": "America/New_York",
        "locale": "en-US",
    }
    if phone:
        traits |= {"phone": phone, "sms_consent": True}
    if born := birthday_of(n):
        traits["birthday"] = born.isoformat()
    return {
        "type": "identify",
        "userId": customer_id(n),
        "messageId": f"cdnow-identify-{n:05d}",
        "timestamp": first_seen.isoformat(),
        "traits": traits,
    }


def order_id(p: Purchase) -> str:
    return f"cdnow-{p.customer:05d}-{p.day:%Y%m%d}-{p.seq}"


def order_call(p: Purchase) -> dict:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": customer_id(p.customer),
        "messageId": f"order-{order_id(p)}",
        "timestamp": p.day.isoformat(),
        "properties": {
            "order_id": order_id(p),
            "total": str(p.value),
            "currency": "USD",
            "products": _lines(p),
        },
    }


def _lines(p: Purchase) -> list[dict]:
    """Spread the purchase's value over `cds` discs from the catalogue, to the cent."""
    count = max(p.cds, 1)
    unit = (p.value / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    lines = []
    for i in range(count):
        pid, name, category = CATALOGUE[(p.customer * 7 + p.seq * 3 + i) % len(CATALOGUE)]
        price = unit if i < count - 1 else p.value - unit * (count - 1)
        lines.append({"product_id": pid, "name": name, "category": category, "price": str(price), "quantity": 1})
    return lines


def replay_calls(purchases: list[Purchase]) -> list[dict]:
    """Every customer's identify, then their orders and site activity, in the order history
    happened."""
    dated = [(p.day, order_call(p)) for p in purchases] + site_activity(purchases)
    dated.sort(key=lambda at_call: at_call[0])  # by time only: the sort is stable
    calls, identified = [], set()
    for at, call in dated:
        n = int(call["userId"].removeprefix("cdnow-"))
        if n not in identified:
            identified.add(n)
            calls.append(identify_call(n, at))
        calls.append(call)
    return calls


# --- synthetic site activity (CDNOW has only purchases) ---------------------------------------

CHECKOUT_BEFORE_ORDER = timedelta(minutes=20)
ABANDONED_AFTER_LAST_ORDER = timedelta(days=10, hours=2)  # 19:00 UTC, mid-afternoon in New York
VIEWED_AFTER_AT_RISK = timedelta(days=3, hours=-2)  # 11:00 in New York, inside nurture's send window
# Activity ends this long before the history does, so what it starts (a reminder 4 h later, the
# nurture series over 12 days) has come due by the replay's end.
ROOM_BEFORE_END = timedelta(days=14)
# The segmenter's default at-risk horizon (services/segmenter/.../policies/default.yaml,
# `at_risk`): intervals x the median gap between purchase days, within [min, max] days; a
# one-time buyer's a fixed number of days. A unit test keeps the two in step.
AT_RISK_INTERVALS, AT_RISK_MIN_DAYS, AT_RISK_MAX_DAYS, AT_RISK_ONE_TIME_BUYER_DAYS = 2, 30, 180, 60
SHOP = "https://shop.example"


def checks_out_first(p: Purchase) -> bool:
    """One order in three (a customer's first of the day) went through a tracked checkout."""
    return p.seq == 0 and (p.customer + p.day.toordinal()) % 3 == 0


def abandons_a_checkout(n: int) -> bool:
    return n % 4 == 1


def browses_after_stopping(n: int) -> bool:
    return n % 4 == 3


def at_risk_after(purchase_days: list[datetime]) -> timedelta:
    """How long after the last order the segmenter's default policy says the customer is at risk."""
    days = sorted(set(purchase_days))
    if len(days) < 2:
        return timedelta(days=AT_RISK_ONE_TIME_BUYER_DAYS)
    gap = median(b - a for a, b in zip(days, days[1:]))
    return min(max(gap * AT_RISK_INTERVALS, timedelta(days=AT_RISK_MIN_DAYS)), timedelta(days=AT_RISK_MAX_DAYS))


def site_activity(purchases: list[Purchase]) -> list[tuple[datetime, dict]]:
    """The synthetic checkouts and product views of these purchases' customers, each with its time."""
    if not purchases:
        return []
    latest = max(p.day for p in purchases) - ROOM_BEFORE_END
    activity = []
    for p in filter(checks_out_first, purchases):
        at = p.day - CHECKOUT_BEFORE_ORDER
        activity.append((at, checkout_call(p, order_id(p), at)))
    by_customer: dict[int, list[Purchase]] = {}
    for p in purchases:
        by_customer.setdefault(p.customer, []).append(p)
    for n, bought in sorted(by_customer.items()):
        last = bought[-1]
        if abandons_a_checkout(n) and (at := last.day + ABANDONED_AFTER_LAST_ORDER) <= latest:
            activity.append((at, checkout_call(last, f"cdnow-{n:05d}-{at:%Y%m%d}-cart", at)))
        at_risk = last.day + at_risk_after([p.day for p in bought])
        if browses_after_stopping(n) and (at := at_risk + VIEWED_AFTER_AT_RISK) <= latest:
            activity.append((at, product_viewed_call(last, at)))
    return activity


def checkout_call(p: Purchase, checkout_id: str, at: datetime) -> dict:
    """Checkout Started (E-commerce Spec v2: `order_id` names the checkout) for the CDs of `p`."""
    return {
        "type": "track",
        "event": "Checkout Started",
        "userId": customer_id(p.customer),
        "messageId": f"checkout-{checkout_id}",
        "timestamp": at.isoformat(),
        "properties": {
            "order_id": checkout_id,
            "value": str(p.value),
            "currency": "USD",
            "products": _lines(p),
            "recovery_url": f"{SHOP}/checkout/{checkout_id}",
        },
    }


def product_viewed_call(last: Purchase, at: datetime) -> dict:
    """Another CD in the genre of the customer's last purchase."""
    bought = _lines(last)[0]
    pid, name, category = next(
        (item for item in CATALOGUE if item[2] == bought["category"] and item[0] != bought["product_id"]),
        (bought["product_id"], bought["name"], bought["category"]),
    )
    return {
        "type": "track",
        "event": "Product Viewed",
        "userId": customer_id(last.customer),
        "messageId": f"view-cdnow-{last.customer:05d}-{at:%Y%m%d}-{pid}",
        "timestamp": at.isoformat(),
        "properties": {"product_id": pid, "name": name, "category": category, "url": f"{SHOP}/products/{pid}"},
    }
