"""The auditor index in headless Chromium (Debian's chromium + chromedriver), opened
from disk with no server: the rows, and a filter."""
import shutil

import pytest

from rovn_ops.sandbox import control
from tests.conftest import reverse_migration, rovn_ops

CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def index(tmp_path_factory, sandbox):
    control.reset(sandbox)
    d = tmp_path_factory.mktemp("index") / "evidence"
    env = {"ROVN_EVIDENCE_DIR": str(d)}
    assert rovn_ops("run", "service_status", "--quiet", env=env).returncode == 0
    assert rovn_ops("run", "service_status", "--quiet", "-p", "service=missing", env=env).returncode == 1
    reverse_migration(env)
    res = rovn_ops("evidence", "index", env=env)
    assert res.returncode == 0
    return d / "index.html"


@pytest.fixture(scope="module")
def browser():
    if CHROMEDRIVER is None:
        pytest.fail("chromedriver is not installed: `make test` installs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--allow-file-access-from-files"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def _rows(browser):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")


def test_rows_and_outcome_filter(index, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(index.as_uri())
    rows = _rows(browser)
    assert len(rows) == 4
    text = " ".join(r.text for r in rows)
    assert "service_status" in text and "migration_reversal" in text and "claude-deploy" in text
    assert browser.find_element(By.ID, "count").text == "4 of 4 runs"
    Select(browser.find_element(By.ID, "f-outcome")).select_by_visible_text("failed")
    rows = _rows(browser)
    assert len(rows) == 1 and "failed" in rows[0].text and "service_status" in rows[0].text
    assert browser.find_element(By.ID, "count").text == "1 of 4 runs"
    assert "outcome=failed" in browser.current_url  # a filtered view is a link an auditor can share
    link = rows[0].find_element(By.LINK_TEXT, "notebook").get_attribute("href")
    assert link.startswith("file://") and link.endswith(".html")


def test_filter_from_the_url_and_change_view(index, browser):
    from selenium.webdriver.common.by import By

    browser.get(index.as_uri() + "#runbook=migration_reversal")
    rows = _rows(browser)
    assert len(rows) == 2 and {"preview", "success"} <= {r.find_element(By.CLASS_NAME, "outcome").text for r in rows}
    changes = browser.find_elements(By.CSS_SELECTOR, "#changes tbody tr")
    assert len(changes) == 1
    assert "giles" in changes[0].text and "verified" in changes[0].text and "0011_add_worker_npi.sql" in changes[0].text
    assert browser.find_element(By.CSS_SELECTOR, "svg[role=img] rect") is not None  # the per-week chart
