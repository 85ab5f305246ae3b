"""CloudTrail's LookupEvents for moto (5.2.5), which has none (HTTP 500: NotImplementedError
"The lookup_events action has not been implemented"): the sandbox's
own management events (wire.py records every write call that succeeded), filtered and
paged as the API reference documents: one lookup attribute at most, StartTime before
EndTime, MaxResults 1-50 (default 50), newest first.
https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import JsonRESTError

from rovn_sandbox import moto_guard, wire

events = wire.Events()
_KEYS = {"EventId": "EventId", "EventName": "EventName", "ReadOnly": "ReadOnly", "Username": "Username",
         "EventSource": "EventSource", "AccessKeyId": "AccessKeyId", "ResourceType": None, "ResourceName": None}


class _Refused(JsonRESTError):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)


def _time(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _matches(event: dict, key: str, value: str) -> bool:
    if key in ("ResourceType", "ResourceName"):
        return any(r[key] == value for r in event["Resources"])
    return event[_KEYS[key]] == value


def lookup_events(self) -> str:
    attrs = self._get_param("LookupAttributes") or []
    if len(attrs) > 1:
        raise _Refused("InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.")
    if attrs and attrs[0].get("AttributeKey") not in _KEYS:
        raise _Refused("InvalidLookupAttributesException",
                       f"Lookup attribute key {attrs[0].get('AttributeKey')} is not valid.")
    start, end = _time(self._get_param("StartTime")), _time(self._get_param("EndTime"))
    if start and end and start > end:
        raise _Refused("InvalidTimeRangeException", "Start time must be before end time.")
    size = self._get_param("MaxResults") or 50
    if not 1 <= int(size) <= 50:
        raise _Refused("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
    token = self._get_param("NextToken")
    try:
        offset = int(base64.b64decode(token).decode()) if token else 0
    except ValueError:
        raise _Refused("InvalidNextTokenException", "Invalid NextToken.") from None
    with events.lock:
        found = [e for e in events.items
                 if (not attrs or _matches(e, attrs[0]["AttributeKey"], attrs[0].get("AttributeValue", "")))
                 and (not start or e["EventTime"] >= start) and (not end or e["EventTime"] <= end)]
    page = found[offset:offset + int(size)]
    out = {"Events": [dict(e, EventTime=e["EventTime"].timestamp()) for e in page]}
    if offset + int(size) < len(found):
        out["NextToken"] = base64.b64encode(str(offset + int(size)).encode()).decode()
    return json.dumps(out)


@moto_guard.patches
def install() -> None:
    CloudTrailResponse.lookup_events = lookup_events
