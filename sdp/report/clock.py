"""A record's ``finished_at`` as a key that orders by the instant it names (sdp-tables: of two records of one config
and seed, the later one is kept).

sdp writes UTC ISO times ("2026-12-05T01:00:00+00:00"), but a record written elsewhere or by hand may carry another
offset, no offset, epoch seconds or no time at all. Compared as text, "03:00+05:00" (22:00 UTC) came after
"23:30+00:00", and "not a time" after every date: the earlier record was kept and called the newest (probe round 6).
"""

from __future__ import annotations

from datetime import datetime, timezone

UNKNOWN = ""  # sorts before every time: a record whose clock cannot be read never wins over one whose can


def utc_key(value: object) -> str:
    """``value`` as "YYYY-MM-DDTHH:MM:SS.ffffff+00:00" in UTC (no offset: taken as UTC; a number: epoch seconds), or
    UNKNOWN when it is no time."""
    text = str(value if value is not None else "").strip()
    try:
        when = datetime.fromtimestamp(float(text), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return UNKNOWN
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        return when.astimezone(timezone.utc).isoformat(timespec="microseconds")
    except (ValueError, OverflowError):
        return UNKNOWN
