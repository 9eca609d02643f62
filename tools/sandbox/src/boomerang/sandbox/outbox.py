"""Every message the sandbox accepted, newest last, optionally kept in a JSON-lines file."""

import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class OutboxMessage:
    id: str
    provider: str  # "sendgrid" or "twilio"
    to: list[str]
    from_: str | None
    received_at: datetime
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    reply_to: str | None = None
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    custom_args: dict[str, str] = field(default_factory=dict)
    # SendGrid: the X-Message-Id of the request that carried this message.
    x_message_id: str | None = None
    # Twilio: what the Message resource needs to be rebuilt from the outbox.
    account_sid: str | None = None
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    num_segments: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        leading = {"id": self.id, "provider": self.provider, "to": self.to, "from": data.pop("from_")}
        return {**leading, **data, "received_at": self.received_at.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "OutboxMessage":
        fields = dict(data)
        fields["from_"] = fields.pop("from")
        fields["received_at"] = datetime.fromisoformat(fields["received_at"])
        return cls(**fields)

    def matches(self, to: str | None = None, provider: str | None = None) -> bool:
        wanted_provider = provider is None or self.provider == provider
        wanted_to = to is None or to.lower() in (r.lower() for r in self.to)
        return wanted_provider and wanted_to


class Outbox:
    """Thread-safe store; appends to `path` on accept so a restart keeps the history."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._messages: list[OutboxMessage] = []
        if path is not None and path.exists():
            self._messages = _load(path)

    def add(self, messages: list[OutboxMessage]) -> None:
        with self._lock:
            self._messages.extend(messages)
            if self._path is not None:
                _append(self._path, messages)

    def find(self, to: str | None = None, provider: str | None = None) -> list[OutboxMessage]:
        """Matching messages, newest first."""
        with self._lock:
            return [m for m in reversed(self._messages) if m.matches(to, provider)]

    def get(self, message_id: str) -> OutboxMessage | None:
        with self._lock:
            return next((m for m in self._messages if m.id == message_id), None)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            if self._path is not None:
                self._path.write_text("")


def _load(path: Path) -> list[OutboxMessage]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [OutboxMessage.from_json(json.loads(line)) for line in lines if line.strip()]


def _append(path: Path, messages: list[OutboxMessage]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for message in messages:
            f.write(json.dumps(message.to_json()) + "\n")
