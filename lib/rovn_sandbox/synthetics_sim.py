"""CloudWatch Synthetics GetCanaryRuns for moto, which has canaries but no runs.

POST /canary/{name}/runs answers the canary's runs, newest first, `MaxResults` at a
time (1-100, default 100) with a `NextToken`, each a CanaryRun: Id, Name, Status
{State RUNNING | PASSED | FAILED, StateReason, StateReasonCode}, Timeline {Started,
Completed (absent while RUNNING)}, ArtifactS3Location. An unknown canary is a 404
ResourceNotFoundException.
https://docs.aws.amazon.com/AmazonSynthetics/latest/APIReference/API_GetCanaryRuns.html
https://docs.aws.amazon.com/AmazonSynthetics/latest/APIReference/API_CanaryRunStatus.html

The runs are what a scenario writes (`RUNS`), so a canary can be caught in its first,
still RUNNING, check.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime

from rovn_sandbox import moto_guard

RUNS: dict[str, list[dict]] = {}  # canary name -> runs, newest first


def add_run(name: str, state: str, started: datetime, completed: datetime | None = None, reason: str = "") -> None:
    run = {"Id": str(uuid.uuid4()), "Name": name, "Status": {"State": state},
           "Timeline": {"Started": started.timestamp()},
           "ArtifactS3Location": f"cw-syn-results-123456789012-us-east-2/canary/{name}"}
    if completed is not None:
        run["Timeline"]["Completed"] = completed.timestamp()
    if state == "FAILED":
        run["Status"] |= {"StateReason": reason or "Canary failed", "StateReasonCode": "CANARY_FAILURE"}
    RUNS.setdefault(name, []).insert(0, run)


@moto_guard.patches
def install() -> None:
    from moto.synthetics import urls
    from moto.synthetics.responses import SyntheticsResponse

    urls.url_paths["{0}/canary/(?P<name>[^/]+)/runs$"] = SyntheticsResponse.dispatch

    def get_canary_runs(self) -> str | tuple:
        name = self.path.rstrip("/").split("/")[-2]
        if name not in self.synthetics_backend.canaries:
            return 404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, json.dumps(
                {"Message": f"Canary {name} not found"})
        params = json.loads(self.body or "{}")
        size = int(params.get("MaxResults") or 100)
        if not 1 <= size <= 100:
            return 400, {"x-amzn-ErrorType": "ValidationException"}, json.dumps(
                {"Message": "MaxResults must be between 1 and 100"})
        start = int(params.get("NextToken") or 0)
        runs = RUNS.get(name, [])
        page = {"CanaryRuns": runs[start:start + size]}
        if start + size < len(runs):
            page["NextToken"] = str(start + size)
        return json.dumps(page)

    SyntheticsResponse.get_canary_runs = get_canary_runs
