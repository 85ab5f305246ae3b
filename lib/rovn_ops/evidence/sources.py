"""The human behind a role session, from CloudTrail (issue 27, build 3).

STS's GetCallerIdentity names a role session, never the SourceIdentity it was assumed
with (AssumeRole's `SourceIdentity`, which a role's trust policy can require with
sts:SourceIdentity); CloudTrail records it in every event of the session, as
userIdentity.sessionContext.sourceIdentity, and it cannot be changed for the session:
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html#STS-API-source-identity
The index, online, asks LookupEvents for the session's events from the run's start on
(Username: the session name) and shows the source identity of an event made by the run's
own operator ARN. Offline, or before CloudTrail delivers (minutes), it shows none.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

SESSION = re.compile(r"^arn:aws[a-z-]*:sts::[0-9]{12}:assumed-role/[^/]+/(?P<session>.+)$")
WINDOW = timedelta(hours=2)  # a run's own writes fall within it


def lookup(cloudtrail, arn: str, since: datetime) -> str | None:
    """The source identity of the role session `arn` in CloudTrail's events from `since` on, or None."""
    m = SESSION.match(arn or "")
    if not m:
        return None
    pages = cloudtrail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": m["session"]}],
        StartTime=since - timedelta(minutes=1), EndTime=since + WINDOW)
    for page in pages:
        for event in page.get("Events", []):
            who = (json.loads(event.get("CloudTrailEvent") or "{}").get("userIdentity") or {})
            source = (who.get("sessionContext") or {}).get("sourceIdentity")
            if who.get("arn") == arn and source:
                return str(source)
    return None


def fill(rows: list[dict], cloudtrail) -> None:
    """Name the source identity of each role-session run in its row (field and operator line)."""
    for r in rows:
        if not SESSION.match(r.get("operator_arn") or "") or not r.get("started_at"):
            continue
        started = datetime.fromisoformat(r["started_at"].replace("Z", "+00:00"))
        source = lookup(cloudtrail, r["operator_arn"], started if started.tzinfo else started.replace(tzinfo=timezone.utc))
        r["source_identity"] = source or ""
        if source:
            r["operator"] = f"{source} (source identity) · {r['operator']}"
