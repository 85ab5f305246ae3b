"""`rovn-ops sandbox up` from nothing (new directory: initdb, moto, seeding) until
ready. Target <= 5 s. Baseline: bare moto server + pgserver, no world, no simulator."""
from __future__ import annotations

import os
import sys
import tempfile

from common import BIN, report, timed

BARE = """
import sys, pgserver
from moto.server import ThreadedMotoServer
m = ThreadedMotoServer(ip_address="127.0.0.1", port=0); m.start()
pg = pgserver.get_server(sys.argv[1], cleanup_mode="stop"); pg.get_uri()
m.stop(); pg.cleanup()
"""


def main(runs: int = 3) -> dict:
    ours, base = [], []
    for _ in range(runs):
        d = tempfile.mkdtemp(prefix="rovn-cold-")
        base.append(timed([sys.executable, "-c", BARE, os.path.join(d, "bare-pg")]))
        env = {"ROVN_SANDBOX_DIR": os.path.join(d, "sandbox")}
        ours.append(timed([str(BIN / "rovn-ops"), "sandbox", "up"], env))
        timed([str(BIN / "rovn-ops"), "sandbox", "down"], env)
    return report("sandbox cold start", ours, base, "<= 5 s")


if __name__ == "__main__":
    main()
