"""A real shop's history for the demo: CDNOW purchases, dressed as Segment-spec calls.

CDNOW gives who bought when, how many CDs and for how much; names, addresses and the CDs
themselves are made up here, deterministically, so a replay always sends the same calls
(same messageIds), which is what lets a second replay prove nothing is sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
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


def order_call(p: Purchase) -> dict:
    order_id = f"cdnow-{p.customer:05d}-{p.day:%Y%m%d}-{p.seq}"
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": customer_id(p.customer),
        "messageId": f"order-{order_id}",
        "timestamp": p.day.isoformat(),
        "properties": {
            "order_id": order_id,
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
    """Every customer's identify, then their orders, in the order history happened."""
    calls, identified = [], set()
    for p in purchases:
        if p.customer not in identified:
            identified.add(p.customer)
            calls.append(identify_call(p.customer, p.day))
        calls.append(order_call(p))
    return calls
