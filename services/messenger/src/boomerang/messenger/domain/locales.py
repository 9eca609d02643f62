"""Which locale's templates a message is written from.

The customer's locale first (its region, then its language: `de_AT`, then `de`), then the
store's default locale the same way, then English. The renderer takes the first of these that
has the message's templates, so a locale with only some messages translated still works.
"""

from __future__ import annotations

FALLBACK = "en"


def normalize(locale: str | None) -> str | None:
    """`de-at`, `de_AT.UTF-8` -> `de_AT`; None for empty."""
    if not locale:
        return None
    base = locale.split(".", 1)[0].split("@", 1)[0].replace("-", "_").strip()
    if not base:
        return None
    language, _, region = base.partition("_")
    return f"{language.lower()}_{region.upper()}" if region else language.lower()


def candidates(customer_locale: str | None, store_locale: str | None = None) -> tuple[str, ...]:
    """Template locales to try, most specific first, English last, no repeats."""
    out: list[str] = []
    for locale in (normalize(customer_locale), normalize(store_locale), FALLBACK):
        if locale is None:
            continue
        for option in (locale, locale.split("_", 1)[0]):
            if option not in out:
                out.append(option)
    return tuple(out)


def formatting_locale(customer_locale: str | None, store_locale: str | None) -> str:
    """Amounts and dates follow the customer's own conventions, else the store's."""
    return normalize(customer_locale) or normalize(store_locale) or "en_US"
