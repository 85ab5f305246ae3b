"""DescribeDBSnapshots pages, as RDS does and moto does not: at most `MaxRecords`
(default 100, 20 to 100) per answer, the rest behind a `Marker`.
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBSnapshots.html
So an account with 101 manual snapshots answers 100, and code that reads one page
misses the 101st."""
from __future__ import annotations

from moto.core.responses import ActionResult
from moto.rds.exceptions import InvalidParameterValue
from moto.rds.responses import RDSResponse

from rovn_sandbox import moto_guard


@moto_guard.patches
def install() -> None:
    original = RDSResponse.describe_db_snapshots

    def describe_db_snapshots(self):
        size = int(self.params.get("MaxRecords") or 100)
        if not 20 <= size <= 100:
            raise InvalidParameterValue(f"Invalid value {size} for MaxRecords. Must be between 20 and 100")
        snapshots = list(original(self).result["DBSnapshots"])
        start = int(self.params.get("Marker") or 0)
        page = {"DBSnapshots": snapshots[start:start + size]}
        if start + size < len(snapshots):
            page["Marker"] = str(start + size)
        return ActionResult(page)

    RDSResponse.describe_db_snapshots = describe_db_snapshots
