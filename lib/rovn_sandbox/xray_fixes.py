"""X-Ray GetTraceSummaries as AWS answers it, where moto 5 differs (the sandbox installs
this). Reference: https://docs.aws.amazon.com/xray/latest/api/API_GetTraceSummaries.html
and TraceSummary / Http (https://docs.aws.amazon.com/xray/latest/api/API_Http.html).

- moto leaves each summary's Http empty; AWS fills HttpURL, HttpStatus and HttpMethod
  from the trace's root segment.
- moto counts a segment as an error or fault when the key is present, even false; AWS
  reads the flag.
- moto gives every trace ResponseTime 1 and a whole-second Duration; AWS gives seconds as
  a double: ResponseTime from the root segment's start to its end, Duration from the
  first segment's start to the last one's end.
- moto returns every summary at once; AWS pages them with NextToken."""
from __future__ import annotations

import json

from moto.xray.models import SegmentCollection
from moto.xray.responses import XRayResponse

from rovn_sandbox import moto_guard

PAGE = 20  # small, so a few dozen traces already span pages, as a busy hour does in AWS


@moto_guard.patches
def install() -> None:
    if getattr(SegmentCollection, "_rovn_fixed", False):
        return
    SegmentCollection._rovn_fixed = True
    orig_summary = SegmentCollection.summary
    orig_handler = XRayResponse.trace_summaries

    def summary(self, start_time, end_time, filter_expression=None):
        result = orig_summary(self, start_time, end_time, filter_expression)
        for s in result["TraceSummaries"]:
            segs = self._traces[s["Id"]]["segments"]
            root = next((g for g in segs if not g.parent_id), segs[0])
            http = root.http or {}
            req, resp = http.get("request") or {}, http.get("response") or {}
            s["Http"] = {k: v for k, v in {"HttpURL": req.get("url"), "HttpMethod": req.get("method"),
                                           "HttpStatus": resp.get("status")}.items() if v is not None}
            for flag, key in (("HasError", "error"), ("HasFault", "fault"), ("HasThrottle", "throttle")):
                s[flag] = any(bool(g.misc.get(key)) for g in segs)
            s["ResponseTime"] = round(root.end_time - root.start_time, 3)
            s["Duration"] = round(max(g.end_time for g in segs) - min(g.start_time for g in segs), 3)
        return result

    def trace_summaries(self):
        answer = orig_handler(self)
        if not isinstance(answer, str):
            return answer
        body = json.loads(answer)
        start = int(self._get_param("NextToken") or 0)
        every = body["TraceSummaries"]
        body["TraceSummaries"] = every[start:start + PAGE]
        if start + PAGE < len(every):
            body["NextToken"] = str(start + PAGE)
        return json.dumps(body)

    SegmentCollection.summary = summary
    XRayResponse.trace_summaries = trace_summaries
