"""`evidence verify --last N` on a clean archive passes, online and with --bucket (issue
27 finding 9: the runs older than the window were reported "in the bucket but not in the
ledger"); a run slipped into the bucket inside the window is still named."""
from datetime import datetime, timezone

from tests.conftest import rovn_ops


def test_last_n_passes_on_a_clean_archive_and_names_a_run_inserted_in_its_window(fresh, aws, evidence_dir):
    for _ in range(4):
        assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    for args in (("--last", "3"), ("--last", "3", "--bucket")):
        res = rovn_ops("evidence", "verify", *args)
        assert res.returncode == 0 and res.stdout.startswith("evidence OK: 3 runs"), (args, res.stdout)
    forged = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-service_status-f0f0f0"
    aws("s3").put_object(Bucket="rovn-evidence-archive", Key=f"runs/{forged}/manifest.json", Body=b"{}")
    res = rovn_ops("evidence", "verify", "--last", "3", "--bucket")
    assert res.returncode == 1 and f"{forged}/ is in the bucket but not in the ledger" in res.stdout, res.stdout
