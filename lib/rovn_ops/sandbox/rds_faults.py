"""RDS fault injection: with scenario "rds_snapshot_fails", CreateDBSnapshot fails."""
from __future__ import annotations

from moto.rds.exceptions import RDSClientError
from moto.rds.models import RDSBackend

from rovn_ops.sandbox import scenarios


def install() -> None:
    original = RDSBackend.create_db_snapshot

    def create_db_snapshot(self, *args, **kwargs):
        if scenarios.active("rds_snapshot_fails"):
            raise RDSClientError("SnapshotQuotaExceeded",
                                 "Cannot create more than 100 manual snapshots (sandbox scenario)")
        return original(self, *args, **kwargs)

    RDSBackend.create_db_snapshot = create_db_snapshot
