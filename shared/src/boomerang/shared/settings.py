"""Settings every service shares, read from `BOOMERANG_*` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BOOMERANG_", extra="ignore")

    kafka_bootstrap: str = "localhost:9092"
    topic_prefix: str = Field(default="", description="prepended to every topic name; isolates tests")
    log_level: str = "INFO"
    log_json: bool = True
    kafka_request_timeout_ms: int = 10_000


class ServiceSettings(BaseSettings):
    """Base of each service's settings; subclasses set their own `env_prefix`."""

    model_config = SettingsConfigDict(extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    host: str = "127.0.0.1"
    database_url: str = "sqlite:///build/data/service.db"
