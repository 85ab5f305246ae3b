"""§4: passport.rovn.to is DNS-only, so PHI traffic never routes via Cloudflare's edge.
service_status flags a /health that answers with Cloudflare's marks."""
from __future__ import annotations

import json
from pathlib import Path

from rovn_ops.ecs import service as status
from rovn_sandbox import control
from tests.conftest import rovn_ops


def _verdict(evidence: Path) -> str:
    [m] = [json.loads(p.read_text()) for p in evidence.glob("*/*/manifest.json")]
    nb = json.loads(Path(m["notebook"]["path"]).read_text())
    return json.dumps(nb["cells"][-1].get("outputs", []))


def test_edge_marks():
    assert status.edge({"server": "uvicorn"}) == ""
    assert "cf-ray 8e1f-DFW" in status.edge({"cf-ray": "8e1f-DFW"})
    assert "server: cloudflare" in status.edge({"server": "cloudflare"})


def test_a_direct_health_is_not_flagged(fresh, evidence_dir):
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    assert "Cloudflare" not in _verdict(evidence_dir)
    assert status.health(fresh["health_url"]).edge == ""


def test_a_proxied_health_is_flagged(fresh, evidence_dir):
    control.scenario(fresh, "health_proxied")
    h = status.health(fresh["health_url"])
    assert h.ok and "cf-ray" in h.edge and "server: cloudflare" in h.edge
    assert rovn_ops("run", "service_status", "--quiet").returncode == 4  # needs attention
    verdict = _verdict(evidence_dir)
    assert "NEEDS ATTENTION" in verdict.upper() and "through Cloudflare" in verdict and "DNS-only" in verdict
