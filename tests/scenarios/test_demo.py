"""`make demo` (rovn-ops demo) keeps working: it previews a reversal, ships a previewed deploy
from a committed, pushed release, runs service_status and builds the index, exit 0."""
from tests.conftest import rovn_ops


def test_demo_ships_a_deploy_and_its_evidence_verifies(fresh, evidence_dir):
    res = rovn_ops("demo")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "deploy run" in res.stdout and ": success, approved by giles" in res.stdout, res.stdout
    assert (evidence_dir / "index.html").exists()
    check = rovn_ops("evidence", "verify")
    assert check.returncode == 0, check.stdout + check.stderr
