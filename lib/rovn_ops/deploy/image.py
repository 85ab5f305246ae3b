"""The image: its tag (prod-YYYYMMDDhhmmss[-suffix]), its presence in ECR, and the
scan gate (§9: ECR image scan on push; findings at or above a threshold refuse)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..params import IMAGE_TAG, SEVERITIES


def new_tag(suffix: str = "", now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    tag = f"prod-{now:%Y%m%d%H%M%S}" + (f"-{suffix}" if suffix else "")
    assert IMAGE_TAG.fullmatch(tag), tag
    return tag


@dataclass(frozen=True)
class Scan:
    repository: str
    tag: str
    exists: bool
    status: str = ""              # COMPLETE, IN_PROGRESS, FAILED, or "" (never scanned)
    counts: dict = field(default_factory=dict)
    digest: str = ""

    def problems(self, threshold: str) -> list[str]:
        if not self.exists:
            return [f"image {self.repository}:{self.tag} is not in ECR"]
        if self.status != "COMPLETE":
            return [f"image {self.repository}:{self.tag} has no finished scan (status {self.status or 'none'})"]
        at_or_above = SEVERITIES[SEVERITIES.index(threshold):]
        found = {s: self.counts[s] for s in at_or_above if self.counts.get(s)}
        if found:
            listed = ", ".join(f"{n} {s}" for s, n in found.items())
            return [f"image {self.repository}:{self.tag} has {listed} finding(s) (threshold {threshold})"]
        return []

    def summary(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts.items()) or "no findings"
        return f"{self.repository}:{self.tag} scan {self.status}: {counts}"


def scan(ecr, repository: str, tag: str, *, deadline_s: float = 0, pause: float = 2.0) -> Scan:
    """The image and its scan; waits up to deadline_s for a scan still in progress."""
    image = {"imageTag": tag}
    try:
        detail = ecr.describe_images(repositoryName=repository, imageIds=[image])["imageDetails"][0]
    except (ecr.exceptions.ImageNotFoundException, ecr.exceptions.RepositoryNotFoundException):
        return Scan(repository, tag, exists=False)
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            found = ecr.describe_image_scan_findings(repositoryName=repository, imageId=image)
        except ecr.exceptions.ScanNotFoundException:
            return Scan(repository, tag, True, "", digest=detail.get("imageDigest", ""))
        status = found["imageScanStatus"]["status"]
        if status != "IN_PROGRESS" or time.monotonic() > deadline:
            counts = found.get("imageScanFindings", {}).get("findingSeverityCounts", {})
            return Scan(repository, tag, True, status, dict(counts), detail.get("imageDigest", ""))
        time.sleep(pause)
