from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Sandbox configuration, read from BOOMERANG_SANDBOX_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="BOOMERANG_SANDBOX_")

    host: str = "127.0.0.1"
    port: int = 8025
    # Where SendGrid-style event webhooks go; unset means none are posted.
    feedback_url: str | None = None
    # PEM private key for the signed event webhook; unset means one is made at startup.
    sendgrid_webhook_private_key_path: Path | None = None
    # Twilio signs status callbacks with the account's auth token.
    twilio_auth_token: str = "sandbox-auth-token"
    # JSON-lines file that keeps the outbox across restarts; unset keeps it in memory.
    outbox_path: Path | None = None
    webhook_attempts: int = 3
    webhook_backoff_seconds: float = 0.2
    webhook_timeout_seconds: float = 5.0
    # Webhook posts out at once (as httpx's pool keeps connections alive); the rest queue in order.
    webhook_concurrency: int = 20
