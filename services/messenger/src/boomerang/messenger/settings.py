"""Messenger configuration, read from BOOMERANG_MESSENGER_* (and BOOMERANG_* for Kafka)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from boomerang.shared.settings import ServiceSettings


class MessengerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BOOMERANG_MESSENGER_", extra="ignore")

    port: int = 8003
    database_url: str = "sqlite:///build/data/messenger.db"
    group_id: str = "boomerang-messenger"

    sendgrid_api_key: str = "SG.sandbox"
    sendgrid_base_url: str = "https://api.sendgrid.com"
    twilio_account_sid: str = "AC" + "0" * 32
    twilio_auth_token: str = "sandbox-auth-token"
    twilio_base_url: str = "https://api.twilio.com"

    from_email: str = "receipts@shop.example"
    from_name: str = "Boomerang Shop"
    reply_to_email: str = "support@shop.example"
    sms_from: str = "+15005550006"
    # Where Twilio posts delivery statuses (feedback's /v1/webhooks/twilio/status); none: not asked.
    twilio_status_callback_url: str | None = None

    # Bounded retries on 429/5xx: attempts in all, exponential backoff with jitter between them,
    # never waiting longer than backoff_max_seconds even when Retry-After asks for more.
    send_attempts: int = 5
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    provider_timeout_seconds: float = 10.0
    # Twilio's DateSent filter is compared with our clock; allow this much skew when reconciling.
    reconcile_clock_skew_seconds: float = 120.0
