"""report.html in a real headless Chromium: rows and headline render, sorting, search and the
owner filter work, and the page is usable at 400 px (stacked cards, no sideways scrolling)."""

from __future__ import annotations

import dataclasses
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
#: Measured: 25 customers, the owner sections and the drivers chart print on 4 A4 pages.
PRINTED_PAGES = 5


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
    # The voice of the customer, what changed and the trend, as scoring hands them over.
    at_risk["last_nps_score"] = [3.0 if i % 3 else np.nan for i in range(N)]
    at_risk["last_nps_at"] = pd.Timestamp("2025-05-10")
    at_risk["last_nps_comment"] = ["Support takes days to answer, and nobody calls back"] * N
    at_risk["last_issue_category"] = ["complaint" if i % 2 else None for i in range(N)]
    at_risk["last_issue_status"] = ["open" if i % 4 == 1 else "resolved" for i in range(N)]
    at_risk["last_issue_age_days"] = 12.0
    at_risk["what_changed"] = [
        "3 new complaints in the last 7 days" if i < 5 else "" for i in range(N)
    ]
    at_risk["probability_trend"] = [
        " ".join(["-", "-"] + [f"{q * (0.7 + 0.05 * j):.3f}" for j in range(5)] + [f"{q:.3f}"])
        for q in p
    ]
    dropped = pd.DataFrame(
        {
            "customer_id": ["C0900", "C0901"],
            "name": ["Gone Away Ltd", "Better Now plc"],
            "account_owner": ["Ann Lee", "Bo Chen"],
            "arr": [1_143_800.0, 20_000.0],
            "previous_rank": [3.0, 40.0],
            "previous_probability": [0.81, 0.3],
            "churn_probability": [np.nan, 0.1],
            "why": ["churned", "recovered below the floor"],
        }
    )
    week = WeekData(
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
        previous_as_of="2025-05-26",
        dropped=dropped,
        settings={"tiers": [["high", 0.5], ["medium", 0.25], ["low", 0.0]]},
    )
    return _with(week, list_rule="Up to 10 customers per owner at 25% or more.")


def _with(week: WeekData, **extra) -> WeekData:
    """``week`` with fields that scoring may not declare yet (set as attributes until then)."""
    names = {f.name for f in dataclasses.fields(week)}
    week = dataclasses.replace(week, **{k: v for k, v in extra.items() if k in names})
    for key, value in extra.items():
        if key not in names:
            object.__setattr__(week, key, value)
    return week


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
    headers = driver.find_elements(By.CSS_SELECTOR, "#at-risk thead th")
    arr_header = next(h for h in headers if h.text == "ARR")
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


def _open(driver, tmp_path, width):
    driver.set_window_size(width, 1000)
    page = tmp_path / "report.html"
    page.write_bytes(build_week_files(_week())["report.html"])
    driver.get(page.as_uri())


@pytest.mark.parametrize("width", [1400, 400])
def test_page_does_not_scroll_sideways_and_shows_the_list_and_cards(driver, tmp_path, width):
    from selenium.webdriver.common.by import By

    _open(driver, tmp_path, width)
    inner, scroll = driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]"
    )
    assert inner == width
    assert scroll <= inner  # no horizontal scrolling
    assert len(driver.find_elements(By.CSS_SELECTOR, ".cards .card")) == 7
    rows = driver.find_elements(By.CSS_SELECTOR, "#at-risk tbody tr")
    assert len(rows) == N and all(r.is_displayed() for r in rows)
    # Every part of a customer is inside the viewport: nothing is cut off to the right.
    right = driver.execute_script(
        "return Math.max.apply(null, Array.from(document.querySelectorAll('#at-risk td'))"
        ".map(function (td) { return td.getBoundingClientRect().right; }))"
    )
    assert right <= inner
    display = driver.execute_script(
        "return getComputedStyle(document.querySelector('#at-risk tbody tr')).display"
    )
    header_shown = driver.find_element(By.CSS_SELECTOR, "#at-risk thead").is_displayed()
    if width == 400:
        assert display == "grid" and not header_shown  # stacked cards with their own labels
        label = driver.execute_script(
            "return getComputedStyle(document.querySelector('#at-risk td[data-label=ARR]'),"
            " '::before').content"
        )
        assert label == '"ARR"'
    else:
        assert display == "table-row" and header_shown
    driver.save_screenshot(str(tmp_path / f"report_{width}.png"))
    assert (tmp_path / f"report_{width}.png").stat().st_size > 10_000


def test_owner_filter_updates_headline_cards_rows_and_sections(driver, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _open(driver, tmp_path, 1400)
    week = _week()
    ann = week.at_risk[week.at_risk["account_owner"] == "Ann Lee"]

    def card(card_id):
        return driver.find_element(By.CSS_SELECTOR, f"#{card_id} .value").text

    assert card("h-listed") == str(N)
    Select(driver.find_element(By.ID, "owner")).select_by_visible_text("Ann Lee")
    assert card("h-listed") == str(len(ann))
    assert card("h-high") == str(int((ann["risk_tier"] == "high").sum()))
    assert card("h-arr") == f"{ann['arr'].sum():,.0f}"
    assert card("h-rar") == f"{ann['revenue_at_risk'].sum():,.0f}"
    assert card("h-dropped") == "1"  # Gone Away Ltd was Ann's
    visible = [
        r for r in driver.find_elements(By.CSS_SELECTOR, "#at-risk tbody tr") if r.is_displayed()
    ]
    assert len(visible) == len(ann)
    sections = [
        s for s in driver.find_elements(By.CSS_SELECTOR, "section.owner") if s.is_displayed()
    ]
    assert [s.find_element(By.TAG_NAME, "h3").text for s in sections] == ["Ann Lee"]
    Select(driver.find_element(By.ID, "owner")).select_by_visible_text("All owners")
    assert card("h-listed") == str(N) and card("h-dropped") == "2"


def test_voice_trend_and_dropped_off_are_on_the_page(driver, tmp_path):
    from selenium.webdriver.common.by import By

    _open(driver, tmp_path, 1400)
    first = driver.find_element(By.CSS_SELECTOR, "#at-risk tbody tr")
    spark = first.find_element(By.CSS_SELECTOR, "svg.spark")
    assert spark.size["width"] > 50  # an inline SVG sparkline, drawn without any library
    assert len(spark.find_elements(By.CSS_SELECTOR, "polyline")) == 1  # two missing weeks first
    second = driver.find_elements(By.CSS_SELECTOR, "#at-risk tbody tr")[1]
    voice = second.find_element(By.CSS_SELECTOR, "td.voice").text
    assert "NPS 3 on 2025-05-10" in voice and "Support takes days to answer" in voice
    assert "Complaint, open for 12 days" in voice
    assert "What changed: 3 new complaints" in first.text
    dropped = driver.find_element(By.ID, "dropped").text
    assert "Gone Away Ltd" in dropped and "churned" in dropped and "1,143,800" in dropped
    rule = driver.find_element(By.ID, "list-rule").text
    assert "Up to 10 customers per owner" in rule and "high: 50% and above" in rule


def test_page_prints_the_list_as_a_table_without_the_controls(driver, tmp_path):
    import base64
    import re

    from selenium.webdriver.common.by import By

    _open(driver, tmp_path, 400)  # printing from a phone still prints the table, not cards
    pdf = base64.b64decode(
        driver.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True})["data"]
    )
    pages = max(int(n) for n in re.findall(rb"/Count (\d+)", pdf))
    assert pages <= PRINTED_PAGES
    assert b"/MediaBox [0 0 841.9" in pdf  # A4 landscape (842 x 595 pt), from the print CSS
    driver.set_window_size(1032, 1000)  # A4 landscape less 12 mm margins, in CSS pixels
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not driver.find_element(By.ID, "search").is_displayed()
    assert not driver.find_element(By.ID, "owner").is_displayed()
    inner, scroll = driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]"
    )
    assert scroll <= inner  # the whole list fits the page's width
