"""Purchase histories as arrays, and the per-customer summaries the models read.

Time is plain numbers: `day` is days since any fixed epoch (fractions allowed), `now` is on the
same scale and is passed in, never read from a clock. Models work in weeks (`WEEK` days).
Same-day purchases are merged into one transaction (summed), as the CLV literature does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

WEEK = 7.0

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Transactions:
    """One row per transaction: `customer` is an integer index (0..n-1), `day` days since an epoch."""

    customer: IntArray
    day: FloatArray
    amount: FloatArray

    @classmethod
    def of(cls, customer: ArrayLike, day: ArrayLike, amount: ArrayLike, *, merge_same_day: bool = True) -> Transactions:
        c = np.asarray(customer, dtype=np.int64)
        d = np.asarray(day, dtype=np.float64)
        a = np.asarray(amount, dtype=np.float64)
        if not (c.shape == d.shape == a.shape) or c.ndim != 1:
            raise ValueError("customer, day and amount must be 1-d arrays of one length")
        if merge_same_day:
            d = np.floor(d)
            order = np.lexsort((d, c))
            c, d, a = c[order], d[order], a[order]
            new = np.ones(len(c), dtype=bool)
            new[1:] = (c[1:] != c[:-1]) | (d[1:] != d[:-1])
            group = np.cumsum(new) - 1
            a = np.bincount(group, weights=a) if len(a) else a
            c, d = c[new], d[new]
        else:
            order = np.lexsort((d, c))
            c, d, a = c[order], d[order], a[order]
        return cls(customer=c, day=d, amount=a)

    @property
    def n_customers(self) -> int:
        return int(self.customer.max()) + 1 if len(self.customer) else 0

    def before(self, now: float | FloatArray) -> Transactions:
        """Transactions on or before `now` (the calibration view at `now`); `now` may also be
        an array with one time per customer index."""
        keep = self.day <= (now if np.ndim(now) == 0 else np.asarray(now, dtype=np.float64)[self.customer])
        return Transactions(self.customer[keep], self.day[keep], self.amount[keep])

    def between(self, start: float, end: float) -> Transactions:
        """Transactions in (start, end]."""
        keep = (self.day > start) & (self.day <= end)
        return Transactions(self.customer[keep], self.day[keep], self.amount[keep])

    def counts(self, n_customers: int) -> tuple[FloatArray, FloatArray]:
        """(transactions, revenue) per customer index."""
        n = np.bincount(self.customer, minlength=n_customers).astype(np.float64)
        v = np.bincount(self.customer, weights=self.amount, minlength=n_customers)
        return n, v


@dataclass(frozen=True)
class Summary:
    """Each customer's history at `now`, in weeks; only customers with at least one purchase.
    `now` is one time for every row, or an array with each row's own time (a batch of customers
    scored each at the time of their event).

    `index` maps rows back to the customer indices of the `Transactions`.
    - `x`: repeat transactions (transactions after the first), the BG/NBD frequency
    - `t_x`: weeks from first to last transaction; `T`: weeks from first transaction to `now`
    - `recency`: weeks since the last transaction (`T - t_x`)
    - `orders`, `revenue`, `aov` (revenue per transaction, all transactions)
    - `repeat_mean`: mean value of the repeat transactions (0 without any), the Gamma-Gamma input
    - `mean_gap`: mean weeks between transactions (`t_x / x`, NaN for one-time buyers)
    - `last_gap`: weeks between the last two transactions (NaN for one-time buyers)
    """

    now: float | FloatArray
    index: IntArray
    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    orders: FloatArray
    revenue: FloatArray
    repeat_mean: FloatArray
    last_gap: FloatArray

    @property
    def recency(self) -> FloatArray:
        return self.T - self.t_x

    @property
    def aov(self) -> FloatArray:
        return self.revenue / self.orders

    @property
    def mean_gap(self) -> FloatArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.x > 0, self.t_x / np.maximum(self.x, 1.0), np.nan)

    def __len__(self) -> int:
        return len(self.index)

    def take(self, rows: ArrayLike) -> Summary:
        r = np.asarray(rows)
        return Summary(
            now=self.now if np.ndim(self.now) == 0 else self.now[r],
            index=self.index[r],
            x=self.x[r],
            t_x=self.t_x[r],
            T=self.T[r],
            orders=self.orders[r],
            revenue=self.revenue[r],
            repeat_mean=self.repeat_mean[r],
            last_gap=self.last_gap[r],
        )


def summarise(tx: Transactions, now: float | ArrayLike, n_customers: int | None = None) -> Summary:
    """Summaries at `now` of every customer with a transaction on or before `now`; `now` may
    be an array of one time per customer index (the summary's `now` is then per row)."""
    n = tx.n_customers if n_customers is None else n_customers
    cal = tx.before(now)
    c, d, a = cal.customer, cal.day, cal.amount  # sorted by (customer, day)
    orders = np.bincount(c, minlength=n).astype(np.float64)
    revenue = np.bincount(c, weights=a, minlength=n)
    has = orders > 0
    if not has.any():
        empty = np.zeros(0)
        at = float(now) if np.ndim(now) == 0 else empty
        return Summary(at, np.zeros(0, dtype=np.int64), empty, empty, empty, empty, empty, empty, empty)
    starts = np.concatenate(([0], np.cumsum(orders[has]).astype(np.int64)[:-1]))
    ends = starts + orders[has].astype(np.int64) - 1
    first = d[starts]
    last = d[ends]
    first_amount = a[starts]
    prev = np.where(ends > starts, d[np.maximum(ends - 1, 0)], np.nan)
    now = float(now) if np.ndim(now) == 0 else np.asarray(now, dtype=np.float64)[has]
    o = orders[has]
    x = o - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        repeat_mean = np.where(x > 0, (revenue[has] - first_amount) / np.maximum(x, 1.0), 0.0)
    return Summary(
        now=now,
        index=np.flatnonzero(has).astype(np.int64),
        x=x,
        t_x=(last - first) / WEEK,
        T=(now - first) / WEEK,
        orders=o,
        revenue=revenue[has],
        repeat_mean=repeat_mean,
        last_gap=(last - prev) / WEEK,
    )


def summary_of(days: ArrayLike, amounts: ArrayLike, now: float, *, merge_same_day: bool = True) -> Summary:
    """The summary of one customer from their order days and amounts (no orders: empty summary)."""
    d = np.asarray(days, dtype=np.float64)
    return summarise(Transactions.of(np.zeros(len(d), dtype=np.int64), d, amounts, merge_same_day=merge_same_day), now, 1)
