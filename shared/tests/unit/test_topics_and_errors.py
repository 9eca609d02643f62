from boomerang.shared.errors import BadRequest, ServiceUnavailable
from boomerang.shared.kafka import ALL_TOPICS, COMMERCE_EVENTS, CUSTOMER_SCORES, dead_letter_topic
from boomerang.shared.kafka.topics import DAY_MS


def test_the_catalogue_matches_the_architecture() -> None:
    names = {t.name for t in ALL_TOPICS}
    assert names == {
        "commerce.events.v1", "customer.segments.v1", "customer.scores.v1",
        "message.events.v1", "feedback.events.v1", "privacy.erasure.v1",
    }
    assert COMMERCE_EVENTS.config["retention.ms"] == str(30 * DAY_MS)
    assert CUSTOMER_SCORES.config["cleanup.policy"] == "compact"
    # one partition count for all: a customer's records share a partition number everywhere
    assert len({t.partitions for t in ALL_TOPICS}) == 1


def test_dead_letters_are_named_after_source_and_consumer() -> None:
    dlq = dead_letter_topic(COMMERCE_EVENTS, "messenger")
    assert dlq.named("t1.") == "t1.commerce.events.v1.dlq.messenger"


def test_errors_carry_code_field_and_retry_after() -> None:
    err = BadRequest("userId or anonymousId is required", field="userId", code="missing_identity")
    assert err.status_code == 400
    assert err.body() == {
        "error": {"code": "missing_identity", "message": "userId or anonymousId is required", "field": "userId"}
    }
    assert ServiceUnavailable("kafka down", retry_after=7).headers() == {"Retry-After": "7"}
