"""Twilio message rules: request checks, segment counting, paging."""

from datetime import UTC, datetime, timedelta

import pytest

from boomerang.sandbox.twilio_messages import ListQuery, message_from_form, message_page
from boomerang.sandbox.twilio_rules import TwilioError, check_message_request, num_segments

SMS = {"To": "+447700900123", "From": "+15005550006", "Body": "Hi"}


def code_for(**changes: str) -> int | None:
    form = {k: v for k, v in {**SMS, **changes}.items() if v}
    try:
        check_message_request(form)
    except TwilioError as error:
        return error.code
    return None


def test_valid_request_passes() -> None:
    assert code_for() is None
    assert code_for(From="", MessagingServiceSid="MG" + "0" * 32) is None
    assert code_for(From="SHOP") is None  # alphanumeric sender id


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"To": ""}, 21604),
        ({"To": "07700900123"}, 21211),
        ({"To": "+0123"}, 21211),
        ({"From": ""}, 21603),
        ({"From": "not a sender!"}, 21212),
        ({"Body": ""}, 21602),
        ({"Body": "x" * 1601}, 21617),
        ({"To": "+15005550006"}, 21266),
        ({"StatusCallback": "ftp://x"}, 21609),
        ({"To": "+15005550004"}, 21610),
    ],
)
def test_twilio_error_codes(changes: dict[str, str], code: int) -> None:
    assert code_for(**changes) == code


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters take two septets
        ("€" * 81, 2),
        ("é" * 160, 1),  # in the GSM-7 basic set
        ("ł" * 70, 1),  # not GSM-7: UCS-2
        ("ł" * 71, 2),
        ("😀" * 35, 1),  # two UTF-16 units each
        ("😀" * 36, 2),
    ],
)
def test_num_segments(body: str, segments: int) -> None:
    assert num_segments(body) == segments


def test_date_filters_compare_days_or_moments() -> None:
    sent = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    message = message_from_form(SMS, "AC1", "SM1", sent)

    assert ListQuery(date_sent="2024-05-01").selects(message)
    assert ListQuery(date_sent="2024-05-01T00:00:00Z").selects(message)
    assert not ListQuery(date_sent="2024-05-02").selects(message)
    assert ListQuery(date_sent_before="2024-05-01").selects(message)
    assert not ListQuery(date_sent_before="2024-05-01T11:00:00Z").selects(message)
    assert ListQuery(date_sent_after="2024-05-01T11:00:00").selects(message)


def test_bad_dates_and_paging_are_twilio_errors() -> None:
    with pytest.raises(TwilioError):
        ListQuery.from_params({"PageSize": "many"})
    message = message_from_form(SMS, "AC1", "SM1", datetime(2024, 5, 1, tzinfo=UTC))
    with pytest.raises(TwilioError):
        ListQuery(date_sent="yesterday").selects(message)


def test_page_only_holds_the_accounts_messages() -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    ours = [message_from_form(SMS, "AC1", f"SM{i}", start + timedelta(minutes=i)) for i in range(3)]
    theirs = message_from_form(SMS, "AC2", "SMx", start)

    page = message_page("AC1", [*ours, theirs], ListQuery(page_size=2))

    assert [m["sid"] for m in page["messages"]] == ["SM0", "SM1"]
    assert page["next_page_uri"] == "/2010-04-01/Accounts/AC1/Messages.json?PageSize=2&Page=1"
    assert page["previous_page_uri"] is None
