"""Feedback's configuration, read from BOOMERANG_FEEDBACK_* (Kafka from the shared BOOMERANG_*)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from boomerang.shared.settings import ServiceSettings


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

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    publish_timeout_s: float = Field(default=2.0, gt=0, description="how long a request waits for Kafka")
    relay_interval_s: float = Field(default=1.0, gt=0)
    relay_max_backoff_s: float = Field(default=30.0, gt=0)
    relay_batch_size: int = Field(default=500, ge=1)

    def sendgrid_public_key_text(self) -> str | None:
        if self.sendgrid_webhook_public_key:
            return self.sendgrid_webhook_public_key
        if self.sendgrid_webhook_public_key_path:
            return self.sendgrid_webhook_public_key_path.read_text()
        return None
