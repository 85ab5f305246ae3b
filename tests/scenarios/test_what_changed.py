"""Issue 27, finding 5: "what changed", truthfully. A `set_env` or `cpu`/`memory` deploy read
"image same → same" in the index; a deploy that rolled back read as made; the run's HTML
header said "What changed -" where the index showed the revisions. Now both show, from one
function (evidence/changes.py), the task-definition diff (cpu, memory, env, secret references
by name), the revisions and the final outcome: made, rolled back, failed or refused."""
from __future__ import annotations

from pathlib import Path

from rovn_ops.evidence import index
from rovn_sandbox import control
from tests.scenarios.test_deploy import _manifest, preview_then_execute


def _shown(evidence_dir: Path) -> tuple[list[str], str]:
    m = _manifest(evidence_dir)
    [row] = [r for r in index.rows(evidence_dir) if r["run_id"] == m["run_id"]]
    html = next(Path(m["notebook"]["path"]).parent.glob("*.html")).read_text()
    return row["changed"], html


def test_a_set_env_and_cpu_deploy_shows_its_delta_in_the_index_and_the_header(fresh, evidence_dir):
    run = preview_then_execute("-p", "image_tag=prod-202605270526-ai-competitive-fix", "-p", "set_env=FEATURE_X=on",
                               "-p", "cpu=2048", "-p", "memory=4096")
    assert run.returncode == 0, run.stdout + run.stderr
    changed, html = _shown(evidence_dir)
    assert "env FEATURE_X: (none) → on" in changed, changed
    assert any(line.startswith("cpu: ") and line.endswith("→ 2048") for line in changed), changed
    assert any(line.startswith("memory: ") and line.endswith("→ 4096") for line in changed), changed
    assert "image: prod-202605270526-ai-competitive-fix (unchanged)" in changed
    assert changed[-1] == "outcome: made"
    for line in changed:  # the header and the index agree
        assert line.replace("→", "&rarr;") in html or line in html, line


def test_a_deploy_that_rolled_back_shows_as_rolled_back(fresh, evidence_dir):
    control.scenario(fresh, "ecs_new_tasks_fail")
    run = preview_then_execute()
    assert run.returncode == 1, run.stdout + run.stderr
    changed, html = _shown(evidence_dir)
    assert changed[-1] == "outcome: rolled back to rovn-passport-api:288 (the change did not stay)", changed
    assert "outcome: rolled back to rovn-passport-api:288" in html
    assert "What changed</th><td>-" not in html
