"""The auditor index in headless Chromium (Debian's chromium + chromedriver), opened
from disk with no server: the rows, filters, free-text search, the change-management
view an auditor samples from (what changed, how verified, approvals, integrity,
audit_log), its CSV export, and a run's HTML opening with its summary header. No
glyph needs a colour-emoji font (checked through the DOM); the screenshot is kept
under test-artifacts/ (or $ROVN_TEST_ARTIFACTS)."""
import csv
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from rovn_sandbox import control
from tests.conftest import ROOT, commit_source, reverse_migration, rovn_ops
from tests.scenarios.test_approval_records import as_person

CHROMEDRIVER = shutil.which("chromedriver")
EMOJI = re.compile("[\u2600-\u27bf\u2b00-\u2bff\ufe0f\U0001f000-\U0001faff]")
ARTIFACTS = Path(os.environ.get("ROVN_TEST_ARTIFACTS") or ROOT / "test-artifacts")


@pytest.fixture(scope="module")
def index(tmp_path_factory, sandbox):
    control.reset(sandbox)
    d = tmp_path_factory.mktemp("index") / "evidence"
    env = {"ROVN_EVIDENCE_DIR": str(d)}
    assert rovn_ops("run", "service_status", "--quiet", env=env).returncode == 0
    assert rovn_ops("run", "service_status", "--quiet", "-p", "service=missing", env=env).returncode == 1
    reverse_migration(env)
    commit_source(sandbox, "0013: reverse 0011")  # a deploy ships committed source only (§2)
    why = ["-p", "ticket=OPS-42", "-p", "reason=ship the login fix"]  # issue 27, build 2
    preview = json.loads(rovn_ops("run", "deploy", "--quiet", "--json", *why, env=env).stdout)
    # giles approves in his own process (a signed record): a name the operator passes is only a claim,
    # which the index shows as NOT APPROVED (issue 27, build 1)
    ok = rovn_ops("approve", preview["plan_hash"], "--ticket", "OPS-42", env={**env, **as_person("giles")})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    done = rovn_ops("run", "deploy", "--quiet", *why, "-p", "confirm=true",
                    "-p", f"plan_hash={preview['plan_hash']}", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    res = rovn_ops("evidence", "index", env=env)
    assert res.returncode == 0
    return d / "index.html"


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    if CHROMEDRIVER is None:
        pytest.fail("chromedriver is not installed: `make test` installs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--allow-file-access-from-files", "--window-size=1600,1200"):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver
    driver.quit()


def _rows(browser, table: str = "runs"):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")


def test_rows_and_outcome_filter(index, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(index.as_uri())
    rows = _rows(browser)
    assert len(rows) == 6
    text = " ".join(r.text for r in rows)
    assert "service_status" in text and "migration_reversal" in text and "claude-deploy" in text
    assert browser.find_element(By.ID, "count").text == "6 of 6 runs"
    Select(browser.find_element(By.ID, "f-outcome")).select_by_visible_text("failed")
    rows = _rows(browser)
    assert len(rows) == 1 and "failed" in rows[0].text and "service_status" in rows[0].text
    assert browser.find_element(By.ID, "count").text == "1 of 6 runs"
    assert "outcome=failed" in browser.current_url  # a filtered view is a link an auditor can share
    link = rows[0].find_element(By.LINK_TEXT, "notebook").get_attribute("href")
    assert link.startswith("file://") and link.endswith(".html")


def test_filter_from_the_url_and_change_view(index, browser):
    from selenium.webdriver.common.by import By

    browser.get(index.as_uri() + "#runbook=migration_reversal")
    rows = _rows(browser)
    assert len(rows) == 2 and {"preview", "success"} <= {r.find_element(By.CLASS_NAME, "outcome").text for r in rows}
    changes = _rows(browser, "changes")
    assert len(changes) == 1
    assert "giles" in changes[0].text and "0011_add_worker_npi.sql" in changes[0].text
    assert "pass: verify (migrations OK" in changes[0].text  # how it was verified
    assert browser.find_element(By.CSS_SELECTOR, "svg[role=img] rect") is not None  # the per-week chart


def test_auditor_finds_a_deploy_by_search_exports_csv_and_reads_its_run(index, browser, downloads):
    from selenium.webdriver.common.by import By

    browser.get(index.as_uri())
    box = browser.find_element(By.ID, "f-text")
    box.send_keys("rovn-passport-api:289")
    [deploy] = _rows(browser, "changes")
    assert [r.find_element(By.CSS_SELECTOR, "td:nth-child(2)").text for r in _rows(browser)] == ["deploy"]
    assert "text=rovn-passport-api%3A289" in browser.current_url
    cells = [c.text for c in deploy.find_elements(By.TAG_NAME, "td")]
    assert cells[1:4] == ["deploy", "sandbox", "rovn-passport-api"]
    assert cells[4] == "OPS-42\nship the login fix"  # the ticket and reason (issue 27, build 2)
    changed, verified = cells[5], cells[6]
    assert "revision: rovn-passport-api:288 → rovn-passport-api:289" in changed
    assert re.search(r"image: prod-202605270526-ai-competitive-fix → prod-\d{14}", changed)
    assert "pass: /health reports the new tag" in verified and "pass: running = desired" in verified
    assert cells[7].startswith("claude-deploy (")  # who ran it (issue 27, build 3)
    assert cells[8].startswith("giles") and re.fullmatch(r"[0-9a-f]{12}", cells[9]) and cells[10] == "success"
    assert cells[11] == "signed intact" and re.fullmatch(r"\d+ [0-9a-f]{12}", cells[12])

    browser.find_element(By.ID, "csv").click()
    deadline = time.monotonic() + 20
    while not (found := [p for p in downloads.glob("*.csv")]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert found, "the CSV was not downloaded"
    with open(found[0], newline="") as f:
        exported = list(csv.DictReader(f))
    assert len(exported) == 1  # the rows shown: the search applies
    row = exported[0]
    assert row["runbook"] == "deploy" and row["approved_by"] == "giles" and row["signature"] == "signed"
    assert (row["ticket"], row["reason"]) == ("OPS-42", "ship the login fix")
    assert "rovn-passport-api:288 → rovn-passport-api:289" in row["what_changed"]
    assert "pass: /health reports the new tag" in row["how_verified"] and row["verify"] == "intact"
    assert re.fullmatch(r"\d+ [0-9a-f]{12}", row["audit_log"]) and len(row["plan_hash"]) == 64

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "auditor-index.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    assert not EMOJI.search(browser.find_element(By.TAG_NAME, "body").text)  # nothing renders as a tofu box

    deploy.find_element(By.LINK_TEXT, "notebook").click()
    header = browser.find_element(By.ID, "run-summary")
    first = browser.find_element(By.CSS_SELECTOR, "body > *")
    assert first.get_attribute("id") == "run-summary"  # the summary comes before the notebook
    text = header.text
    for expected in ("Outcome success", "Ticket OPS-42 · ship the login fix", "Who claude-deploy", "Approvals giles", "revision: rovn-passport-api:288 → "
                     "rovn-passport-api:289", "pass /health reports the new tag", "audit_log "):
        assert expected in text, (expected, text)
    browser.save_screenshot(str(ARTIFACTS / "deploy-run.png"))
    assert not EMOJI.search(browser.find_element(By.TAG_NAME, "body").text)


def test_the_control_matrix_page_opens_from_the_index(index, browser):
    """Issue 27, build 8: each overview rule, its check, its tests and latest prod runs; gaps named."""
    from selenium.webdriver.common.by import By

    from rovn_ops.core import controls

    browser.get(index.as_uri())
    browser.find_element(By.ID, "controls-link").click()
    rows = browser.find_elements(By.CSS_SELECTOR, "#controls tbody tr")
    assert len(rows) == len(controls.RULES)
    by_rule = {r.get_attribute("data-rule"): r.text for r in rows}
    assert "rovn_ops.protocol.change:authorize" in by_rule["§10 deployers"]
    assert "gap" in by_rule["§4 marketing site"]
    assert "none in prod" in by_rule["§2 new revision"]  # the sandbox's deploy is never a production run
