"""Which messages an order produces, given what we know about the customer."""

from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.flows import RECEIPT, Channel
from boomerang.messenger.domain.policy import NO_ADDRESS, NO_CONSENT, Send, Suppress, decide


def steps(decisions):
    return [
        (d.step.channel, type(d).__name__, getattr(d, "to", None) or getattr(d, "reason", None))
        for d in decisions
    ]


def test_email_and_sms_when_the_customer_has_both_and_consented_to_sms() -> None:
    contact = Contact("s", "c", email="ada@example.com", phone="+14155550100", sms_consent=True)

    decisions = decide(RECEIPT, contact, None, None)

    assert steps(decisions) == [
        (Channel.EMAIL, "Send", "ada@example.com"),
        (Channel.SMS, "Send", "+14155550100"),
    ]


def test_receipts_are_transactional_so_email_marketing_consent_is_not_needed() -> None:
    contact = Contact("s", "c", email="ada@example.com", email_consent=False)

    assert decide(RECEIPT, contact, None, None) == [Send(RECEIPT.steps[0], "ada@example.com")]


def test_sms_without_consent_is_suppressed_with_the_reason() -> None:
    contact = Contact("s", "c", email="ada@example.com", phone="+14155550100", sms_consent=None)

    decisions = decide(RECEIPT, contact, None, None)

    assert decisions[1] == Suppress(RECEIPT.steps[1], NO_CONSENT)


def test_the_orders_own_email_is_used_when_the_customer_was_never_identified() -> None:
    decisions = decide(RECEIPT, None, "guest@example.com", "+14155550100")

    # An order's phone number alone is no SMS consent.
    assert steps(decisions) == [
        (Channel.EMAIL, "Send", "guest@example.com"),
        (Channel.SMS, "Suppress", NO_CONSENT),
    ]


def test_no_address_at_all_suppresses_the_receipt_and_leaves_the_optional_sms_out() -> None:
    assert decide(RECEIPT, Contact("s", "c"), None, None) == [Suppress(RECEIPT.steps[0], NO_ADDRESS)]
    assert decide(RECEIPT, None, "not an email", None) == [Suppress(RECEIPT.steps[0], NO_ADDRESS)]
