"""report.html in a real headless Chromium: rows and headline render, sorting and search work."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.outputs import WeekData, build_week_files

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
N = 25


def _week() -> WeekData:
    rng = np.random.default_rng(5)
    p = np.sort(rng.uniform(0.2, 0.9, N))[::-1]
    arr = rng.integers(5, 200, N) * 1000.0
    at_risk = pd.DataFrame(
        {
            "rank": np.arange(1, N + 1),
            "customer_id": [f"C{i:04d}" for i in range(N)],
            "name": [f"Company {chr(65 + i % 26)}{i}" for i in range(N)],
            "account_owner": ["Ann Lee" if i % 2 else "Bo Chen" for i in range(N)],
            "segment": ["SMB"] * N,
            "plan": ["Pro"] * N,
            "arr": arr,
            "churn_probability": p,
            "risk_tier": ["high" if x >= 0.5 else "medium" for x in p],
            "revenue_at_risk": p * arr,
            "days_to_renewal": rng.integers(1, 300, N).astype(float),
            "reason_1": ["NPS fell from 9 to 4"] * (N - 1) + ["Needle: 3 complaints open"],
            "reason_1_direction": ["raises risk"] * N,
            "reason_1_family": ["sentiment"] * N,
            "reason_1_effect": [0.1] * N,
            "main_driver": ["sentiment"] * N,
            "recommended_play": ["Executive call to close the NPS loop"] * N,
            "change": ["new"] * N,
            "previous_rank": [np.nan] * N,
            "previous_probability": [np.nan] * N,
            "probability_change": [np.nan] * N,
        }
    ).astype({"name": object, "reason_1": object})
    return WeekData(
        as_of=pd.Timestamp("2025-06-02"),
        horizon_days=90,
        at_risk=at_risk,
        scores=at_risk.drop(columns=["rank", "change"]),
        excluded=pd.DataFrame(columns=["customer_id", "name", "account_owner", "reason"]),
        active=N,
        drivers=pd.Series({"nps_last": 0.5, "util_active_users_ratio_30d_90d": 0.3}),
        families={"nps_last": "sentiment"},
        model={"name": "churn", "version": "1", "run_id": "r"},
        data_hash="0" * 64,
        drivers_n=N,
    )


@pytest.fixture
def driver(tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(
            f"headless Chromium not installed ({CHROMIUM}, {CHROMEDRIVER}): run make browser"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'chrome-profile'}",
    ):
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield drv
    drv.quit()


def _visible_ids(drv):
    from selenium.webdriver.common.by import By

    rows = drv.find_elements(By.CSS_SELECTOR, "#at-risk tbody tr")
    return [
        r.find_elements(By.TAG_NAME, "td")[1].text.split("\n")[-1] for r in rows if r.is_displayed()
    ]


def test_report_shows_the_list_and_headline_and_sorts_and_searches(driver, tmp_path):
    from selenium.webdriver.common.by import By

    files = build_week_files(_week())
    page = tmp_path / "report.html"
    page.write_bytes(files["report.html"])
    driver.get(page.as_uri())

    assert "At-risk customers" in driver.title
    assert driver.find_element(By.CSS_SELECTOR, "#h-listed .value").text == str(N)
    rows = driver.find_elements(By.CSS_SELECTOR, "#at-risk tbody tr")
    assert len(rows) == N
    assert _visible_ids(driver)[:2] == ["C0000", "C0001"]
    img = driver.find_element(By.CSS_SELECTOR, "img.plot")
    assert driver.execute_script("return arguments[0].naturalWidth", img) > 0  # inline PNG decoded
    driver.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 10_000

    # Sort by ARR (numeric, ascending on first click): the smallest ARR comes first.
    arr_header = driver.find_elements(By.CSS_SELECTOR, "#at-risk thead th")[4]
    arr_header.click()
    week = _week().at_risk
    smallest = week.sort_values(["arr", "customer_id"])["customer_id"].iloc[0]
    assert _visible_ids(driver)[0] == smallest
    arr_header.click()
    assert (
        _visible_ids(driver)[0] == week.sort_values("arr", ascending=False)["customer_id"].iloc[0]
    )

    # Search filters the rows by any text, reasons included.
    driver.find_element(By.ID, "search").send_keys("needle")
    assert _visible_ids(driver) == [f"C{N - 1:04d}"]
    assert driver.find_element(By.ID, "shown").text == "1"
