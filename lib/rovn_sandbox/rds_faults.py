"""RDS fault injection: with scenario "rds_snapshot_fails", CreateDBSnapshot fails.

Not a moto gap but our own fault, wrapped around moto 5.2.5's RDSBackend.create_db_snapshot
(its signature is what the wrapper passes on), hence the version guard."""
from __future__ import annotations

from moto.rds.exceptions import RDSClientError
from moto.rds.models import RDSBackend

from rovn_sandbox import moto_guard, scenarios


@moto_guard.patches
def install() -> None:
    original = RDSBackend.create_db_snapshot

    def create_db_snapshot(self, *args, **kwargs):
        if scenarios.active("rds_snapshot_fails"):
            raise RDSClientError("SnapshotQuotaExceeded",
                                 "Cannot create more than 100 manual snapshots (sandbox scenario)")
        return original(self, *args, **kwargs)

    RDSBackend.create_db_snapshot = create_db_snapshot
