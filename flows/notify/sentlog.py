"""The sent-log: every reminder sent, so no unit gets the same reminder twice."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

from flows.outputs.atomic import write_text

LOG_FILE = "reminders-sent.json"
SKIPPED_SAME_STATE, SKIPPED_ALREADY_SENT = "skipped-same-state", "skipped-already-sent"


class SentLog:
    """Every reminder sent, as JSON (written atomically after each send)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.entries: list[dict] = []
        if self.path.is_file():
            self.entries = json.loads(self.path.read_text(encoding="utf-8")).get("sent", [])

    def skip_reason(self, unit: str, deadline: date, offset: int, state: str) -> str | None:
        mine = [e for e in self.entries
                if e["unit_code"] == unit and e["deadline"] == deadline.isoformat()]
        if mine and mine[-1]["state"] == state:
            return SKIPPED_SAME_STATE
        if any(e["offset"] == offset for e in mine):
            return SKIPPED_ALREADY_SENT
        return None

    def add(self, unit: str, deadline: date, offset: int, state: str, as_of: date,
            message: EmailMessage) -> None:
        self.entries.append({
            "unit_code": unit, "deadline": deadline.isoformat(), "offset": offset,
            "day": as_of.isoformat(), "state": state,
            "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "subject": str(message["Subject"]), "message_id": str(message["Message-ID"])})
        write_text(self.path, json.dumps({"version": 1, "sent": self.entries},
                                         ensure_ascii=False, indent=2))
