"""ECR image scan findings in the sandbox. moto answers DescribeImageScanFindings with a
fixed {HIGH: 1} unless findings are seeded per tag through its own API, so the world's
seed (world.py) and the build simulator's pushes (codebuild_sim.py) both post the
findings each image should have, in DescribeImageScanFindings' shape
(https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImageScanFindings.html)."""
from __future__ import annotations

import json
from datetime import datetime, timezone


def result(registry: str, repository: str, tag: str, counts: dict) -> dict:
    """One image's completed scan with `counts` findings by severity ({"HIGH": 1, …})."""
    findings = [{"name": f"CVE-2026-{1000 + i}-{sev.lower()}", "severity": sev,
                 "uri": "https://nvd.nist.gov/", "description": f"sandbox {sev} finding"}
                for sev, n in counts.items() for i in range(n)]
    return {"registryId": registry, "repositoryName": repository, "imageId": {"imageTag": tag},
            "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
            "imageScanFindings": {"findings": findings, "findingSeverityCounts": dict(counts),
                                  "imageScanCompletedAt": datetime.now(timezone.utc).isoformat()}}


def post(endpoint: str, region: str, results: list[dict]) -> None:
    """moto's API for per-tag scan findings (moto's default is a fixed {HIGH: 1})."""
    import urllib3

    urllib3.request("POST", f"{endpoint}/moto-api/static/ecr/scan-finding-results",
                    body=json.dumps({"results": results, "region": region}),
                    headers={"Content-Type": "application/json"}, timeout=120)  # not urllib3's 3 s default
