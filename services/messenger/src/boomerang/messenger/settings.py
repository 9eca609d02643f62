"""Messenger configuration, read from BOOMERANG_MESSENGER_* (and BOOMERANG_* for Kafka)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from boomerang.messenger.domain.stores import StoreProfile
from boomerang.shared.links import LinkSettings
from boomerang.shared.settings import ServiceSettings


class StoreSettings(BaseModel):
    """One store's own values; anything left out comes from the messenger's defaults."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    url: str | None = None
    reply_to: str | None = None
    default_locale: str | None = None
    default_timezone: str | None = None
    postal_address: str | None = None
    coupon_prefix: str | None = None


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

    # Stores' own flow files: <flows_dir>/<store_id>/<flow>.yaml over the defaults (see flows/).
    flows_dir: Path | None = None

    # The store's side of every message; per store in STORES, e.g.
    # BOOMERANG_MESSENGER_STORES='{"acme": {"name": "Acme", "reply_to": "help@acme.example",
    #   "default_locale": "de_DE", "default_timezone": "Europe/Berlin"}}'
    store_name: str = "Boomerang Shop"
    store_url: str = "https://shop.example"
    default_locale: str = "en_US"
    default_timezone: str = "UTC"
    postal_address: str | None = None
    stores: dict[str, StoreSettings] = Field(default_factory=dict)
    # Signed unsubscribe and survey links (BOOMERANG_LINK_SIGNING_KEY, BOOMERANG_LINK_BASE_URL,
    # shared with feedback, which verifies them); an optional mailto in List-Unsubscribe.
    links: LinkSettings = Field(default_factory=LinkSettings)
    unsubscribe_mailto: str | None = None
    # Where Twilio posts delivery statuses (feedback's /v1/webhooks/twilio/status); none: not asked.
    twilio_status_callback_url: str | None = None

    # Bounded retries on 429/5xx: attempts in all, exponential backoff with jitter between them,
    # never waiting longer than backoff_max_seconds even when Retry-After asks for more.
    send_attempts: int = 5
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    provider_timeout_seconds: float = 10.0
    # Events handled at once (one fetch from Kafka; different customers concurrently), and the
    # threads the blocking SendGrid SDK calls run in, i.e. at most this many sends in flight.
    batch_size: int = 200
    # Batches handled at once: the next batch is composed while the last one's sends are out.
    batches_in_flight: int = 3
    provider_threads: int = 16
    # The SendGrid SDK's calls run in a child process, so that its threads do not take the GIL
    # from the event loop (adapters.sdk_process); true: in this process's threads instead.
    sendgrid_in_process: bool = False
    # The child runs SCHED_IDLE: it takes the CPU the event loop leaves and never preempts it.
    # false: the usual priority (for a host where other busy processes share the messenger's cores
    # without a cgroup of their own, which would take its turns).
    sdk_process_idle: bool = True
    # Each SDK thread keeps its connection to SendGrid open between emails reused within this
    # many seconds (below the provider's idle timeout; adapters.kept_alive); 0: the SDK's own
    # transport, a new connection (and over HTTPS a TLS handshake) for every email.
    sendgrid_keep_alive_seconds: float = Field(default=4.0, ge=0)
    # SendGrid's Email Activity shows a message seconds to minutes after accepting it: a send
    # whose outcome is unknown (lost connection, timeout, 5xx) or left pending by a crash is only
    # looked up this long after it went out, and sent again only if it is not found then (the
    # message waits in the ledger, `delayed` for reason `awaiting_lookup`). 0: look at once (the
    # provider sandbox indexes a message as it takes it).
    sendgrid_lookup_lag_seconds: float = Field(default=600.0, ge=0)
    # false: the account has no Email Activity (a paid add-on), so such a send cannot be looked
    # up: it is failed for a person to decide (reason "outcome unknown..."), never sent again.
    sendgrid_email_activity: bool = True
    # Twilio's DateSent filter is compared with our clock; allow this much skew when reconciling.
    reconcile_clock_skew_seconds: float = 120.0

    # The scheduler of delayed messages (later flow steps, send windows, quiet hours): how often
    # it looks for due ones, how many it claims at once, and after how long a claimed one whose
    # worker died is claimed again (longer than a send with all its retries can take).
    scheduler_interval_seconds: float = 30.0
    scheduler_batch_size: int = 50
    scheduler_lease_seconds: float = 300.0
    # How often the date flows' calendar is read (birthdays, anniversaries due within a day).
    date_sweep_interval_seconds: float = 3600.0
    # "event-time": `now` is the latest time among the commerce events read (a replay of old
    # history, as the demo runs it; boomerang.shared.clocks); "wall": the real clock.
    clock: Literal["wall", "event-time"] = "wall"

    def store(self, store_id: str) -> StoreProfile:
        own = self.stores.get(store_id) or StoreSettings()
        return StoreProfile(
            store_id=store_id,
            name=own.name or self.store_name,
            url=own.url or self.store_url,
            reply_to=own.reply_to or self.reply_to_email,
            default_locale=own.default_locale or self.default_locale,
            default_timezone=own.default_timezone or self.default_timezone,
            postal_address=own.postal_address or self.postal_address,
            coupon_prefix=own.coupon_prefix,
        )
