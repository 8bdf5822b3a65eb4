"""The transport used when no Twilio account is configured: messages written to a file, sent to no one.

Settings: `RETENTION_SMS_SINK_PATH` (default `.local/outbox/sms.jsonl`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retention.outreach.transports import (
    DeliveryStatus,
    SendRequest,
    SendResult,
    SentMessage,
    aware_utc,
    mask_number,
    utc_now,
)

log = logging.getLogger(__name__)

SINK_PATH_ENV = "RETENTION_SMS_SINK_PATH"


def default_sink_path() -> Path:
    from retention.local import local_state_dir

    return Path(os.environ.get(SINK_PATH_ENV) or local_state_dir() / "outbox" / "sms.jsonl")


class LocalSink:
    """Messages appended as JSON lines to one file, for demos and tests: nothing leaves the machine.

    Like Twilio, it takes every message it is given: a second send of the same key is a second
    line (the outbox, not the transport, guarantees one message per customer, and the file is
    the evidence). `status` is always `delivered`. The file is the only place a full number is
    written: keep it out of shared folders.
    """

    name = "local_sink"
    simulated = True

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._read_up_to = 0
        self._by_id: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_env(cls) -> LocalSink:
        return cls(default_sink_path())

    def __repr__(self) -> str:
        return f"LocalSink(path={str(self.path)!r})"

    def send(self, request: SendRequest) -> SendResult:
        with self._lock:
            request.check_window(self._clock())
            record = {
                "provider_message_id": f"local-{uuid.uuid4().hex}",
                "idempotency_key": request.idempotency_key,
                "to": request.to,
                "body": request.body,
                "created_at": self._clock().astimezone(UTC).isoformat(),
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as sink:
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            log.info("simulated SMS %s to %s written to the local sink", request.idempotency_key,
                     mask_number(request.to))
        return SendResult(record["provider_message_id"], "queued", simulated=True)

    def status(self, provider_message_id: str) -> str:
        return self.delivery(provider_message_id).status

    def delivery(self, provider_message_id: str) -> DeliveryStatus:
        with self._lock:
            if provider_message_id not in self._records():
                raise LookupError(f"no message {provider_message_id!r} in the local sink {self.path}")
        return DeliveryStatus("delivered", None, None)

    def sent_to_since(self, to: str, since: datetime) -> list[SentMessage]:
        since = aware_utc(since)
        with self._lock:
            records = list(self._records().values())
        return [
            SentMessage(r["provider_message_id"], r["to"], r["body"], "delivered",
                        datetime.fromisoformat(r["created_at"]), simulated=True)
            for r in records
            if r["to"] == to and datetime.fromisoformat(r["created_at"]) >= since
        ]

    def _records(self) -> dict[str, dict[str, Any]]:
        """Messages by id, reading only what was appended since the last call (another process
        may be appending too)."""
        if not self.path.exists() or self.path.stat().st_size < self._read_up_to:  # gone or started anew
            self._read_up_to, self._by_id = 0, {}
        if not self.path.exists():
            return self._by_id
        with self.path.open("rb") as sink:
            sink.seek(self._read_up_to)
            for line in sink:
                if not line.endswith(b"\n"):
                    break  # a line still being written: read it next time
                self._read_up_to += len(line)
                if line.strip():
                    record = json.loads(line)
                    self._by_id[record["provider_message_id"]] = record
        return self._by_id
