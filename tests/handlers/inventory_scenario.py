"""What S3 Inventory and the EventBridge journal would hold for a moto bucket (moto produces neither).

``JournalRecorder`` wraps a scenario's writes and records, for each, the event S3 would send to EventBridge:
``Object Created`` (version id, size, ETag) or ``Object Deleted`` (``deletion-type`` ``Delete Marker Created`` or
``Permanently Deleted``), each with a ``sequencer`` that grows with every write, as S3's does per key. Event times
are the versions' LastModified read back from a listing (on AWS they may differ by up to about a second; the
planner lists keys whose journal-only version lies that close to T).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handlers.s3.inventory_files import listing_rows, write_inventory_report, write_journal


@dataclass
class JournalRecorder:
    s3: Any
    bucket: str
    events: list[dict[str, Any]] = field(default_factory=list)
    _sequence: int = 0

    def _next_sequencer(self) -> str:
        self._sequence += 1
        # S3's sequencers are hex strings of varying length; right-padding makes them comparable.
        return f"{0x617F0829932900 + self._sequence:X}"

    def put(self, key: str, body: bytes) -> str:
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        self.events.append(
            {
                "detail_type": "Object Created",
                "key": key,
                "version_id": response["VersionId"],
                "sequencer": self._next_sequencer(),
                "size": len(body),
                "etag": response["ETag"].strip('"'),
                "reason": "PutObject",
            }
        )
        return str(response["VersionId"])

    def delete(self, key: str, version_id: str | None = None) -> str:
        extra = {"VersionId": version_id} if version_id else {}
        response = self.s3.delete_object(Bucket=self.bucket, Key=key, **extra)
        self.events.append(
            {
                "detail_type": "Object Deleted",
                "key": key,
                "version_id": version_id or response["VersionId"],
                "sequencer": self._next_sequencer(),
                "deletion_type": "Permanently Deleted" if version_id else "Delete Marker Created",
                "reason": "DeleteObject",
            }
        )
        return str(response.get("VersionId", version_id))

    def journal_rows(self) -> list[dict[str, Any]]:
        """The events with their times (the versions' LastModified; a permanent delete's time is now)."""
        times = {
            (row["key"], row["version_id"]): row["last_modified_date"] for row in listing_rows(self.s3, self.bucket)
        }
        rows = []
        latest = max(times.values()) if times else datetime.now()
        for event in self.events:
            when = times.get((event["key"], event["version_id"]), latest)
            rows.append({"bucket": self.bucket, "event_time": when, "requester": "123456789012", **event})
        return rows

    def write_journal(self, reports_bucket: str) -> list[str]:
        return write_journal(self.s3, reports_bucket, self.bucket, self.journal_rows())


def snapshot_inventory(s3: Any, bucket: str, reports_bucket: str, created: datetime) -> Any:
    """One inventory report of ``bucket`` as it is now, dated ``created``."""
    return write_inventory_report(s3, reports_bucket, bucket, list(listing_rows(s3, bucket)), created)
