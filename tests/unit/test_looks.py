"""How the week reads: the page and the owner workbooks show the list rule, the tier bands, the
voice of the customer, what changed, the trend and who dropped off, with one formatter per value,
plain driver names, a page setup that prints one page wide, and never "-0 pts"."""

from __future__ import annotations

import dataclasses
import io
import math
import re

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from churn.outputs import WeekData, build_week_files
from churn.outputs.display import (
    fmt_pct,
    fmt_points,
    issue_voice,
    nps_voice,
    sparkline,
    tier_band_texts,
    trend_text,
    trend_values,
)
from churn.outputs.report import driver_label

AS_OF = pd.Timestamp("2025-06-02")
EVIL = '=HYPERLINK("http://evil.example","x")'
TIERS = (("high", 0.5), ("medium", 0.25), ("low", 0.0))
RULE = "Up to 10 customers per owner, at 25% or more; then the rest of the high tier."


def _at_risk(n: int = 4, owner: str = "Ann") -> pd.DataFrame:
    p = np.linspace(0.9, 0.3, n)
    arr = np.arange(1, n + 1) * 10_000.0
    frame = pd.DataFrame(
        {
            "rank": np.arange(1, n + 1),
            "customer_id": [f"C{i:03d}" for i in range(n)],
            "name": [f"Customer {i}" for i in range(n)],
            "account_owner": [owner] * n,
            "segment": ["SMB"] * n,
            "plan": ["Pro"] * n,
            "arr": arr,
            "churn_probability": p,
            "risk_tier": ["high" if x >= 0.5 else "medium" for x in p],
            "revenue_at_risk": p * arr,
            "days_to_renewal": [30.0] * n,
            # Sizes that round to 0 points either way, and one exactly at the rounding edge.
            "reason_1": ["Seat use fell to 4%"] * n,
            "reason_1_family": ["product adoption"] * n,
            "reason_1_effect": [0.12, 0.004, -0.004, -0.005][:n] + [0.1] * max(0, n - 4),
            "reason_2": [None] * n,
            "reason_2_family": [None] * n,
            "reason_2_effect": [np.nan] * n,
            "main_driver": ["product adoption"] * n,
            "recommended_play": ["Adoption workshop"] * (n - 1) + ["Renewal conversation"],
            "change": ["up"] + ["same"] * (n - 1),
            "probability_change": [-0.003] + [np.nan] * (n - 1),
            "last_nps_score": [2.0] + [np.nan] * (n - 1),
            "last_nps_at": [pd.Timestamp("2025-05-10")] + [pd.NaT] * (n - 1),
            "last_nps_comment": ["<script>alert(1)</script> " + EVIL] + [None] * (n - 1),
            "last_issue_category": ["complaint"] + [None] * (n - 1),
            "last_issue_at": [pd.Timestamp("2025-05-21")] + [pd.NaT] * (n - 1),
            "last_issue_status": ["open"] + [None] * (n - 1),
            "last_issue_age_days": [12.0] + [np.nan] * (n - 1),
            "what_changed": ["3 new complaints in the last 7 days"] + [""] * (n - 1),
            "probability_trend": ["- 0.400 0.500 - 0.700 0.800 0.850 0.900"] + [None] * (n - 1),
        }
    )
    return frame.astype({c: object for c in frame.columns if frame[c].dtype == "str"})


def _week(at_risk: pd.DataFrame | None = None, **extra) -> WeekData:
    at_risk = _at_risk() if at_risk is None else at_risk
    dropped = pd.DataFrame(
        {
            "customer_id": ["C900"],
            "name": ["Gone Away <b>Ltd</b>"],
            "account_owner": ["Ann"],
            "arr": [1_143_800.0],
            "previous_rank": [3.0],
            "previous_probability": [0.81],
            "churn_probability": [np.nan],
            "why": ["churned"],
        }
    )
    week = WeekData(
        as_of=AS_OF,
        horizon_days=90,
        at_risk=at_risk,
        scores=at_risk.drop(columns=["rank", "change"]),
        excluded=pd.DataFrame(columns=["customer_id", "name", "account_owner", "reason"]),
        active=len(at_risk),
        drivers=pd.Series({"acct_region": 0.4, "int_cat_complaint_30d": 0.2}),
        families={"acct_region": "commercial", "int_cat_complaint_30d": "service experience"},
        model={"name": "churn", "version": "3"},
        data_hash="d" * 64,
        reasons_per_customer=2,
        previous_as_of="2025-05-26",
        dropped=dropped,
        drivers_n=len(at_risk),
        settings={"tiers": [list(t) for t in TIERS]},
    )
    extra = {"list_rule": RULE, "tier_bands": TIERS, **extra}
    names = {f.name for f in dataclasses.fields(week)}
    week = dataclasses.replace(week, **{k: v for k, v in extra.items() if k in names})
    for key, value in extra.items():  # fields scoring may not declare yet
        if key not in names:
            object.__setattr__(week, key, value)
    return week


@pytest.fixture(scope="module")
def files():
    return build_week_files(_week())


# ------------------------------------------------------------------ formatting


@pytest.mark.parametrize("x", [0.004, -0.004, 0.005, -0.005, 0.0, -0.0, None, math.nan])
def test_a_size_that_rounds_to_zero_points_is_never_written(x):
    assert fmt_points(x) == ""


def test_points_are_signed_whole_points():
    assert fmt_points(0.12) == "+12 pts"
    assert fmt_points(-0.051) == "-5 pts"


def test_no_probability_reads_as_a_certainty():
    assert [fmt_pct(x) for x in (0.0, 0.0004, 0.37, 0.996, 1.0)] == [
        "<1%",
        "<1%",
        "37%",
        ">99%",
        ">99%",
    ]


def test_tier_bands_are_stated_in_words_with_the_same_formatter():
    assert tier_band_texts(TIERS) == [
        "high: 50% and above",
        "medium: 25% to under 50%",
        "low: under 25%",
    ]


def test_voice_states_score_date_comment_and_the_issue_status_and_age():
    row = _at_risk().iloc[0].to_dict()
    assert nps_voice(row).startswith("NPS 2 on 2025-05-10: \u201c<script>")
    assert issue_voice(row) == "Complaint, open for 12 days"
    assert issue_voice({**row, "last_issue_status": "resolved", "last_issue_age_days": 1}) == (
        "Complaint, resolved (raised 1 day ago)"
    )
    assert nps_voice({}) == "" and issue_voice({}) == ""


def test_trend_keeps_missing_weeks_and_the_sparkline_breaks_there():
    values = trend_values("- 0.400 0.500 - 0.700 0.800 0.850 0.900")
    assert values == [None, 0.4, 0.5, None, 0.7, 0.8, 0.85, 0.9]
    assert trend_text(values) == "\u2013 40% 50% \u2013 70% 80% 85% 90%"
    spark = sparkline(values)
    assert len(spark["lines"]) == 2  # [0.4, 0.5] and [0.7 .. 0.9]
    assert spark["end"][0] == pytest.approx(spark["width"] - 3)  # this week at the right edge
    assert sparkline(trend_values("- - -")) is None and trend_values(None) == []


def test_drivers_chart_uses_the_registry_plain_names():
    assert driver_label("acct_region") == ("Sales region", "context")
    label, kind = driver_label("int_cat_complaint_30d")
    assert "complaint" in label and "30 days" in label and "_" not in label
    assert kind == "behaviour"
    assert driver_label("not_a_feature") == ("not a feature", None)


# ------------------------------------------------------------------ page


def test_page_states_rule_bands_voice_trend_and_names_the_dropped(files):
    html = files["report.html"].decode()
    assert RULE in html and "high: 50% and above; medium: 25% to under 50%; low: under 25%" in html
    assert "NPS <strong>2</strong>" in html and "2025-05-10" in html
    assert "Complaint, open for 12 days" in html
    assert "What changed:</strong> 3 new complaints in the last 7 days" in html
    assert html.count('<svg class="spark"') == 1  # only the customer with a trend
    assert 'id="dropped"' in html and "1,143,800" in html and ">churned<" in html
    assert 'id="by-owner"' in html and "3 &times; Adoption workshop" in html


def test_page_escapes_data_text_and_has_no_zero_point_sizes(files):
    html = files["report.html"].decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "Gone Away &lt;b&gt;Ltd&lt;/b&gt;" in html
    assert not re.search(r"[+-]0 pts", html)
    assert "+12 pts" in html


def test_page_footnote_says_how_the_points_are_computed(files):
    html = files["report.html"].decode()
    note = html[html.index('id="points"') :]
    for words in ("TreeSHAP", "log-odds", "base rate", "other factors", "add up exactly"):
        assert words in note


# ------------------------------------------------------------------ workbook


def _book(files, name="owners/ann.xlsx"):
    return load_workbook(io.BytesIO(files[name]))


def test_workbook_opens_on_a_summary_of_the_owner_with_rule_and_bands(files):
    wb = _book(files)
    assert wb.sheetnames[0] == "Summary" and wb.active.title == "Summary"
    cells = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r[0]}
    assert cells["Customers on the list"] == 4
    assert cells["ARR of these customers"] == 100_000
    assert cells["In the top risk tier (high)"] == 2
    assert cells["Plays"] == "Adoption workshop: 3"
    assert cells["Who is on the list"] == RULE
    assert cells["Risk tiers (by probability)"] == "high: 50% and above"
    assert "Customer voice" in cells and "Why at risk" in cells


def test_workbook_prints_landscape_one_page_wide_with_the_header_repeated(files):
    ws = _book(files)["At risk"]
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert int(ws.page_setup.fitToWidth) == 1 and int(ws.page_setup.fitToHeight) == 0
    assert ws.print_title_rows == "$1:$1"
    assert ws.freeze_panes == "D2"  # the name column (C) stays in view


def test_a_ten_row_workbook_fits_one_a4_landscape_page():
    ws = _book(build_week_files(_week(_at_risk(10))))["At risk"]
    # Excel's width unit is about 7 px (5.25 pt) per character plus 5 px of padding.
    width_pt = sum((ws.column_dimensions[c].width * 7 + 5) * 0.75 for c in _letters(ws))
    m = ws.page_margins
    printable_w, printable_h = (11.69 - m.left - m.right) * 72, (8.27 - m.top - m.bottom) * 72
    scale = min(1.0, printable_w / width_pt)
    height_pt = sum(ws.row_dimensions[r].height or 15 for r in range(1, ws.max_row + 1))
    assert ws.max_row == 11
    assert height_pt * scale <= printable_h  # one page tall too, at the fit-to-width scale
    assert scale >= 0.5  # still readable


def _letters(ws):
    """The printed columns: the print area's when set (the fill-in columns are not printed)."""
    from openpyxl.utils import column_index_from_string, get_column_letter

    last = ws.max_column
    if ws.print_area:
        last = column_index_from_string(
            ws.print_area.split(":")[-1].lstrip("$").rstrip("0123456789$")
        )
    return [get_column_letter(j) for j in range(1, last + 1)]


def test_workbook_shows_voice_what_changed_and_trend_values_beside_the_reasons(files):
    ws = _book(files)["At risk"]
    header = [c.value for c in ws[1]]

    def cell(row, starts):
        return ws.cell(row, next(i for i, h in enumerate(header, 1) if h.startswith(starts))).value

    reasons_at = header.index("Why at risk")
    assert header[reasons_at + 1].startswith("Customer voice")
    voice = cell(2, "Customer voice")
    assert voice.startswith("NPS 2 on 2025-05-10: \u201c<script>") and EVIL in voice
    assert voice.endswith("Complaint, open for 12 days")
    assert cell(2, "What changed") == "3 new complaints in the last 7 days"
    assert cell(2, "Probability, last 8 weeks") == "\u2013 40% 50% \u2013 70% 80% 85% 90%"
    assert cell(3, "Customer voice") is None


def test_workbook_has_no_zero_point_sizes():
    files = build_week_files(_week())
    ws = _book(files)["At risk"]
    texts = [str(c.value) for row in ws.iter_rows(min_row=2) for c in row if c.value is not None]
    assert not any(re.search(r"[+-]0 pts", t) for t in texts)
    header = [c.value for c in ws[1]]
    change = ws.cell(2, header.index("Probability change (points)") + 1).value
    assert change == 0  # -0.3 points is written as 0, which the format shows as "0 pts"


def test_workbook_neutralises_formulas_in_the_summary_too():
    week = _week(_at_risk(owner=EVIL))
    files = build_week_files(week)
    (name,) = [p for p in files if p.startswith("owners/")]
    cells = {r[0]: r[1] for r in _book(files, name)["Summary"].iter_rows(values_only=True)}
    assert cells["Owner"] == "'" + EVIL


# ------------------------------------------------------------------ closing the loop (issue 14)


def _alerts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C000", "C777"],
            "name": ["Customer 0", "Bob's <i>Big</i> Co"],
            "account_owner": ["Ann", "Bob"],
            "kind": ["detractor", "open_ticket"],
            "detail": ['Answered 2/10 to the NPS survey on 2025-05-30: "slow"', "Complaint open"],
            "event_date": [pd.Timestamp("2025-05-30"), pd.Timestamp("2025-05-20")],
            "due_date": [AS_OF + pd.Timedelta(days=7)] * 2,
        }
    )


def _loop_week() -> WeekData:
    at_risk = _at_risk().assign(
        play_status=["in progress", None, None, None],
        play_started_at=[pd.Timestamp("2025-05-12"), pd.NaT, pd.NaT, pd.NaT],
    )
    at_risk.loc[0, "change"] = "in play"
    control = pd.DataFrame({"customer_id": ["C500"], "rank": [3], "stratum": ["high / Ann"]})
    return _week(at_risk, alerts=_alerts(), control=control, control_share=0.1)


def test_page_lists_the_alerts_first_and_says_how_many_were_held_out():
    html = build_week_files(_loop_week())["report.html"].decode()
    assert html.index('id="alerts"') < html.index("<h2>The list</h2>")
    assert "detractor" in html and "open ticket" in html and "2025-06-09" in html
    assert "Bob&#39;s &lt;i&gt;Big&lt;/i&gt; Co" in html  # escaped like every name
    assert "1 of the 5 listed customers (10% drawn at random" in html
    assert "play in progress since 2025-05-12" in html and "change-in-play" in html


def test_page_without_a_control_draw_has_no_control_sentence(files):
    assert "Control group:" not in files["report.html"].decode()
    html = build_week_files(_week(control_share=0.0))["report.html"].decode()
    assert "No control group this week" in html


def test_workbook_has_the_owners_alerts_after_the_summary():
    wb = _book(build_week_files(_loop_week()))
    assert wb.sheetnames == ["Summary", "Alerts", "At risk"]
    rows = [r for r in wb["Alerts"].iter_rows(min_row=4, values_only=True)]
    assert [r[1] for r in rows] == ["C000"]  # Bob's alert is not in Ann's workbook
    assert rows[0][0] == "detractor" and rows[0][3].startswith("Answered 2/10")
    assert rows[0][5].date() == pd.Timestamp("2025-06-09").date()


def test_workbook_has_status_and_outcome_dropdowns_and_marks_open_plays():
    from churn.actions import ACTION_OUTCOMES
    from churn.contract import ACTION_STATUSES

    ws = _book(build_week_files(_loop_week()))["At risk"]
    header = [c.value for c in ws[1]]
    assert header[-5:] == ["Status", "Outcome", "Started", "Closed", "Note"]
    lists = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    status = ws.cell(1, header.index("Status") + 1).column_letter
    outcome = ws.cell(1, header.index("Outcome") + 1).column_letter
    assert lists[f"{status}2:{status}5"].formula1 == '"' + ",".join(ACTION_STATUSES) + '"'
    assert lists[f"{status}2:{status}5"].showErrorMessage  # an unknown status is refused
    assert lists[f"{outcome}2:{outcome}5"].formula1 == '"' + ",".join(ACTION_OUTCOMES) + '"'
    assert not lists[f"{outcome}2:{outcome}5"].showErrorMessage  # free text allowed
    marker = header.index("Play in progress") + 1
    assert ws.cell(2, marker).value == "in progress since 2025-05-12"
    assert ws.cell(2, header.index("Started") + 1).value.date().isoformat() == "2025-05-12"
    assert (
        ws.cell(3, marker).value is None and ws.cell(3, header.index("Started") + 1).value is None
    )
