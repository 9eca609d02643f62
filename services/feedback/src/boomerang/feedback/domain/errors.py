"""Why a webhook was turned away; each carries its HTTP status, code and the field at fault."""

from __future__ import annotations

from boomerang.shared.errors import BadRequest, Forbidden, ServiceUnavailable, Unauthorized


class MissingSignature(Unauthorized):
    code = "missing_signature"


class InvalidSignature(Forbidden):
    code = "invalid_signature"


class StaleTimestamp(Forbidden):
    code = "stale_timestamp"


class WebhookNotConfigured(ServiceUnavailable):
    code = "webhook_not_configured"

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=60)


class InvalidPayload(BadRequest):
    code = "invalid_payload"


# Counted by reason in the signature-failure metric.
SIGNATURE_REJECTIONS = (MissingSignature, InvalidSignature, StaleTimestamp)


class LinksNotConfigured(ServiceUnavailable):
    code = "links_not_configured"

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=60)


class KafkaUnavailable(ServiceUnavailable):
    """Unsubscribes and survey answers wait for Kafka's ack, as ingest does: a person is waiting."""

    code = "kafka_unavailable"
