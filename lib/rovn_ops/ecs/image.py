"""The image: its tag (prod-YYYYMMDDhhmmss[-suffix]), its presence in ECR, and the
scan gate (§9: ECR image scan on push; findings at or above a threshold refuse)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from rovn_ops.safety.params import IMAGE_TAG, SEVERITIES


def new_tag(suffix: str = "", now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    tag = f"prod-{now:%Y%m%d%H%M%S}" + (f"-{suffix}" if suffix else "")
    assert IMAGE_TAG.fullmatch(tag), tag
    return tag


# Every status DescribeImageScanFindings can report (imageScanStatus.status), basic scanning's
# and enhanced scanning's (Amazon Inspector), and what each means for a gate. Reference:
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImageScanFindings.html
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageScanStatus.html
JUDGED = {"COMPLETE": "the basic scan completed", "ACTIVE": "enhanced scanning: findings current, kept up to date"}
STALE = {"SCAN_ELIGIBILITY_EXPIRED": "enhanced scanning no longer rescans it: the findings are those of its last "
                                     "scan, not updated since"}
NOT_CLEAN = {
    "IN_PROGRESS": "its scan is still in progress: no findings yet",
    "PENDING": "enhanced scanning has not produced findings yet (PENDING)",
    "FAILED": "its scan FAILED: rescan it (aws ecr start-image-scan) before trusting it",
    "UNSUPPORTED_IMAGE": "ECR cannot scan it (media type, OS or package manager unsupported): nothing vouches "
                         "for it",
    "FINDINGS_UNAVAILABLE": "its findings are unavailable (FINDINGS_UNAVAILABLE)",
    "LIMIT_EXCEEDED": "the scan quota was exceeded: it was not scanned",
    "IMAGE_ARCHIVED": "the image is archived: restore it before ECS can pull it",
}


@dataclass(frozen=True)
class Scan:
    repository: str
    tag: str
    exists: bool
    status: str = ""              # imageScanStatus.status (see JUDGED, STALE, NOT_CLEAN), "" if never scanned
    counts: dict = field(default_factory=dict)
    digest: str = ""

    def problems(self, threshold: str) -> list[str]:
        name = f"image {self.repository}:{self.tag}"
        if not self.exists:
            return [f"{name} is not in ECR"]
        if not self.status:
            return [f"{name} was never scanned"]
        if self.status in NOT_CLEAN:
            return [f"{name}: {NOT_CLEAN[self.status]}"]
        if self.status not in JUDGED and self.status not in STALE:
            return [f"{name} has scan status {self.status}, which this suite does not know: not judged clean"]
        at_or_above = SEVERITIES[SEVERITIES.index(threshold):]
        found = {s: self.counts[s] for s in at_or_above if self.counts.get(s)}
        if found:
            listed = ", ".join(f"{n} {s}" for s, n in found.items())
            return [f"{name} has {listed} finding(s) (threshold {threshold})"]
        return []

    def warnings(self) -> list[str]:
        return [f"image {self.repository}:{self.tag}: {STALE[self.status]}"] if self.status in STALE else []

    def summary(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts.items()) or "no findings"
        return f"{self.repository}:{self.tag} scan {self.status}: {counts}"


def reference(image: str) -> tuple[str, str, str]:
    """(registry id, repository, tag or digest) of an ECR image URI
    (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:TAG|@sha256:…]); registry "" if not ECR's."""
    host, _, path = image.partition("/")
    registry = host.split(".", 1)[0] if ".dkr.ecr." in host and host.split(".", 1)[0].isdigit() else ""
    if "@" in path:
        repo, ref = path.split("@", 1)
    else:
        repo, _, ref = path.rpartition(":")
    return registry, repo, ref


def scan(ecr, repository: str, tag: str, *, deadline_s: float = 0, pause: float = 2.0) -> Scan:
    """The image and its scan; waits up to deadline_s for a scan still in progress."""
    image = {"imageDigest": tag} if tag.startswith("sha256:") else {"imageTag": tag}
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
        if status not in ("IN_PROGRESS", "PENDING") or time.monotonic() > deadline:
            counts = found.get("imageScanFindings", {}).get("findingSeverityCounts", {})
            return Scan(repository, tag, True, status, dict(counts), detail.get("imageDigest", ""))
        time.sleep(pause)
