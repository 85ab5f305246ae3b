"""Every string from the world is escaped wherever it is rendered (issue 20, class 4), in
headless Chromium: runs whose every recordable field holds an injection string
(incidents.HOSTILE) — a draft's name, parameters, targets, summary and an artifact's
file name; a migration file name and a commit message in a deploy's plan; a branch name
in a refusal; log lines, Sentry titles, an alarm reason and an ECS event in a P0 triage
with its post-mortem — then the auditor index built from them. No script runs on any
page (window.__xss stays unset), every run is listed, and on the pages the library
renders no injected element exists: the strings show as text.

Chromium's setup is test_index.py's (the `browser` fixture)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rovn_sandbox import control, github
from rovn_sandbox.incidents import HOSTILE
from tests.browser.test_index import browser, downloads  # noqa: F401 - the Chromium fixtures
from tests.conftest import commit_source, rovn_ops

XSS = "return window.__xss === undefined ? null : window.__xss"
INJECTED = ("return document.querySelectorAll('[onerror],[onload],a[href^=javascript]').length + "
            "[...document.scripts].filter((s) => s.text.includes('__xss') && !s.text.includes('const RUNS')).length")


def _draft(tmp: Path) -> Path:
    """A notebook under development, named with a hostile string, whose parameter holds
    one and which records hostile targets, summary and an artifact's name."""
    name = HOSTILE[0].replace("/", "")
    cells = [
        {"cell_type": "code", "id": "p", "metadata": {"tags": ["parameters"]}, "outputs": [], "execution_count": None,
         "source": "note: str = ''  # free text\n"},
        {"cell_type": "code", "id": "b", "metadata": {}, "outputs": [], "execution_count": None, "source": (
            "import os, pathlib\n"
            "from IPython.display import HTML, Markdown, display\n"
            "from rovn_ops.core import record\n"
            f"HOSTILE = {list(HOSTILE)!r}\n"
            "for s in HOSTILE:\n"
            "    print(s)\n"
            "    display(Markdown(s), HTML(s))  # the notebook's own hostile output: the page policy stops it\n"
            "art = pathlib.Path(os.environ['ROVN_RESULT_FILE']).parent / (HOSTILE[0].replace('/', '') + '.txt')\n"
            "art.write_text(note)\n"
            "record.record(artifacts=[str(art)], targets=HOSTILE, summary={'what': HOSTILE[4], 'x': HOSTILE[2]},\n"
            "              outcome='success')\n")}]
    path = tmp / f"{name}.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": {
        "name": "python3", "language": "python", "display_name": "Python 3"}}, "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, sandbox):
    control.reset(sandbox)
    tmp = tmp_path_factory.mktemp("hostile")
    d = tmp / "evidence"
    env = {"ROVN_EVIDENCE_DIR": str(d)}
    runs = {}
    # a draft: name, parameter, targets, summary, artifact file name, its own outputs
    res = rovn_ops("run", str(_draft(tmp)), "--quiet", "-p", f"note={HOSTILE[1]} {HOSTILE[2]}", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    runs["draft"] = res
    # a migration file name and a commit message in a deploy's plan
    src = Path(sandbox["source_dir"])
    (src / "migrations" / f"0013_{HOSTILE[0].replace('/', '')}.sql").write_text(
        "CREATE TABLE IF NOT EXISTS hostile_names (id int);\n")
    commit_source(sandbox, HOSTILE[2] + "\n\n" + HOSTILE[4])
    runs["deploy"] = rovn_ops("run", "deploy", "--quiet", env=env)
    assert runs["deploy"].returncode in (0, 3), runs["deploy"].stdout + runs["deploy"].stderr
    # a branch name in a refusal
    github.git(src, "checkout", "-q", "-b", "x<svg/onload=window.__xss=1>")
    runs["branch"] = rovn_ops("run", "deploy", "--quiet", env=env)
    github.git(src, "checkout", "-q", "main")
    # log lines, Sentry titles, an alarm reason, an ECS event; a P0 with its post-mortem
    control.scenario(sandbox, "hostile_strings")
    runs["triage"] = rovn_ops("run", "incident_triage", "--quiet", "-p", "notify=false", env=env)
    assert runs["triage"].returncode == 4, runs["triage"].stdout + runs["triage"].stderr  # a P0: attention
    runs["status"] = rovn_ops("run", "service_status", "--quiet", env=env)
    assert rovn_ops("evidence", "index", env=env).returncode == 0
    manifests = {m.parent.name: {**json.loads(m.read_text()), "dir": m.parent} for m in d.rglob("manifest.json")}
    return d, manifests, runs


def _html_of(manifests, runbook):
    m = next(m for m in manifests.values() if m["runbook"] == runbook)
    return m["dir"] / next(f["path"] for f in m["files"] if f["kind"] == "html")


def test_the_index_runs_no_script_and_lists_every_run(hostile, browser):
    from selenium.webdriver.common.by import By

    d, manifests, _ = hostile
    assert len(manifests) >= 5
    browser.get((d / "index.html").as_uri())
    assert browser.execute_script(XSS) is None
    listed = {r.get_attribute("data-run") for r in browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")}
    assert listed == set(manifests), set(manifests) - listed
    assert browser.execute_script(INJECTED) == 0
    assert "<!--<script>" in browser.find_element(By.ID, "runs").text or any(
        "<!--<script>" in json.dumps(m, default=str) for m in manifests.values())
    draft = next(m for m in manifests.values() if m["runbook"].startswith("<img"))
    assert draft["runbook"] in browser.find_element(By.ID, "runs").text  # shown as text


@pytest.mark.parametrize("runbook", ["incident_triage", "deploy", "service_status"])
def test_a_library_rendered_run_shows_world_strings_as_text(hostile, browser, runbook):
    from selenium.webdriver.common.by import By

    _, manifests, _ = hostile
    browser.get(_html_of(manifests, runbook).as_uri())
    assert browser.execute_script(XSS) is None
    assert browser.execute_script(INJECTED) == 0, runbook
    text = browser.find_element(By.TAG_NAME, "body").text
    if runbook == "incident_triage":
        assert "<img src=x onerror=" in text and "[click me](javascript:" in text  # shown, not obeyed
        assert browser.find_elements(By.CSS_SELECTOR, "a[href^='javascript']") == []
    if runbook == "deploy":
        assert "0013_<img src=x onerror=" in text


def test_the_post_mortem_escapes_log_lines_and_sentry_titles(hostile):
    _, manifests, _ = hostile
    m = next(m for m in manifests.values() if m["runbook"] == "incident_triage")
    [pm] = [f for f in m["files"] if f["path"].endswith(".md")]
    text = (m["dir"] / pm["path"]).read_text()
    assert "Sentry" in text and "&lt;img src=x onerror=" in text
    assert "<img" not in text and "<svg" not in text and "<script" not in text
    assert not re.search(r"(?<!\\)\[click me\]\(javascript:", text)  # no live link
    assert "\n# heading" not in text and "\x1b" not in text


def test_a_draft_that_displays_hostile_html_runs_none_of_it(hostile, browser):
    _, manifests, _ = hostile
    draft = next(m for m in manifests.values() if m["runbook"].startswith("<img"))
    html = draft["dir"] / next(f["path"] for f in draft["files"] if f["kind"] == "html")
    browser.get(html.as_uri())
    assert browser.execute_script(XSS) is None
