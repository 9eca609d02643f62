"""The ids a message carries through a provider and back to feedback.

The messenger sets them (SendGrid `custom_args`, the query of Twilio's StatusCallback URL);
the providers echo them in their webhooks; feedback reads them to key what came back by
`store:customer` and to tie it to the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MESSAGE_ID = "boomerang_message_id"
STORE_ID = "boomerang_store_id"
CUSTOMER_ID = "boomerang_customer_id"
FLOW = "boomerang_flow"


@dataclass(frozen=True)
class MessageAttribution:
    message_id: str | None
    store_id: str | None
    customer_id: str | None
    flow: str | None = None

    def as_args(self) -> dict[str, str]:
        pairs = {MESSAGE_ID: self.message_id, STORE_ID: self.store_id, CUSTOMER_ID: self.customer_id, FLOW: self.flow}
        return {k: v for k, v in pairs.items() if v is not None}

    @classmethod
    def from_args(cls, args: Mapping[str, object]) -> MessageAttribution:
        def text(key: str) -> str | None:
            value = args.get(key)
            return value if isinstance(value, str) and value else None

        return cls(text(MESSAGE_ID), text(STORE_ID), text(CUSTOMER_ID), text(FLOW))
