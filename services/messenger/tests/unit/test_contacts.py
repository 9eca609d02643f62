"""Contact cards: identify calls merge into them, unusable values are dropped."""

from boomerang.messenger.domain.contacts import Contact, identify, normalize_phone
from boomerang.shared.events import CustomerIdentified


def test_a_first_identify_creates_the_card_with_normalized_values() -> None:
    event = CustomerIdentified(
        email=" Ada@Example.COM ",
        phone="+1 (415) 555-0100",
        sms_marketing_consent=True,
        email_marketing_consent=False,
        locale="de-DE",
        timezone="Europe/Berlin",
        first_name="Ada",
    )

    contact = identify(None, "s1", "c1", event)

    assert contact == Contact(
        store_id="s1",
        customer_id="c1",
        email="Ada@example.com",
        phone="+14155550100",
        email_consent=False,
        sms_consent=True,
        locale="de_DE",
        timezone="Europe/Berlin",
        first_name="Ada",
    )


def test_fields_the_shop_did_not_send_keep_their_value() -> None:
    known = Contact("s1", "c1", email="ada@example.com", phone="+14155550100", sms_consent=True)

    updated = identify(known, "s1", "c1", CustomerIdentified(sms_marketing_consent=False))

    assert updated.email == "ada@example.com"
    assert updated.phone == "+14155550100"
    assert updated.sms_consent is False


def test_unusable_values_are_dropped_not_stored() -> None:
    known = Contact("s1", "c1", email="ada@example.com", timezone="UTC")

    updated = identify(
        known, "s1", "c1", CustomerIdentified(email="not-an-email", timezone="Mars/Olympus", phone="555")
    )

    assert updated.email == "ada@example.com"
    assert updated.timezone == "UTC"
    assert updated.phone is None


def test_phone_numbers_need_a_country_code() -> None:
    assert normalize_phone("4155550100") is None
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"


def test_the_birthday_is_kept_and_a_later_identify_without_one_does_not_forget_it() -> None:
    from datetime import date

    first = identify(None, "s1", "c1", CustomerIdentified(birthday=date(1990, 2, 28)))
    later = identify(first, "s1", "c1", CustomerIdentified(first_name="Ada"))

    assert first.birthday == date(1990, 2, 28)
    assert later.birthday == date(1990, 2, 28) and later.first_name == "Ada"


def test_the_preferred_channel_trait_is_kept_in_plain_words_and_nonsense_is_not() -> None:
    def told(value: object) -> str | None:
        event = CustomerIdentified(email="ada@example.com", traits={"preferred_channel": value})
        return identify(None, "s1", "c1", event).preferred_channel

    assert [told(v) for v in ("SMS", " text ", "email", "E-mail", "push", 3, None)] == [
        "sms", "sms", "email", "email", None, None, None,
    ]  # fmt: skip
    kept = identify(Contact("s1", "c1", preferred_channel="sms"), "s1", "c1", CustomerIdentified(first_name="Ada"))
    assert kept.preferred_channel == "sms"  # a later identify without it does not forget it
