"""Feedback's configuration, read from BOOMERANG_FEEDBACK_* (Kafka from the shared BOOMERANG_*)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from boomerang.shared.links import LinkSettings
from boomerang.shared.settings import ServiceSettings

DEFAULT_SMS_HELP = "Reply STOP to unsubscribe, START to resubscribe. Msg & data rates may apply."


class FeedbackSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BOOMERANG_FEEDBACK_", extra="ignore")

    port: int = 8004
    database_url: str = "sqlite:///build/data/feedback.db"

    sendgrid_webhook_public_key: str | None = Field(
        default=None, description="base64 DER SubjectPublicKeyInfo as SendGrid's UI shows it, or PEM"
    )
    sendgrid_webhook_public_key_path: Path | None = Field(
        default=None, description="file holding the key instead (what tools/sandbox writes)"
    )
    sendgrid_timestamp_tolerance_s: int = Field(default=15 * 60, ge=1)

    twilio_auth_token: SecretStr | None = None
    public_base_url: str | None = Field(
        default=None,
        description="scheme://host[:port] that Twilio calls; behind a proxy it signs that URL, not ours",
    )

    # Signed unsubscribe and survey links: BOOMERANG_LINK_SIGNING_KEY (and _PREVIOUS_SIGNING_KEYS),
    # the same key the messenger signs with. Without one, the link pages answer 503.
    links: LinkSettings = Field(default_factory=LinkSettings)
    sms_help_text: str = Field(default=DEFAULT_SMS_HELP, description="TwiML answer to HELP/INFO")
    sms_help_texts: dict[str, str] = Field(
        default_factory=dict, description='per store id, JSON: {"store-1": "Acme: reply STOP to ..."}'
    )

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    publish_timeout_s: float = Field(default=2.0, gt=0, description="how long a request waits for Kafka")
    relay_interval_s: float = Field(default=1.0, gt=0)
    relay_max_backoff_s: float = Field(default=30.0, gt=0)
    relay_batch_size: int = Field(default=500, ge=1)

    def help_text(self, store_id: str | None) -> str:
        return self.sms_help_texts.get(store_id or "", self.sms_help_text)

    def sendgrid_public_key_text(self) -> str | None:
        if self.sendgrid_webhook_public_key:
            return self.sendgrid_webhook_public_key
        if self.sendgrid_webhook_public_key_path:
            return self.sendgrid_webhook_public_key_path.read_text()
        return None
