"""The week's files: tables, owner workbooks, the page and the atomic week store.

- ``tables``: the list's columns, CSV/Parquet bytes, formula neutralising, owner file names;
- ``excel``: one workbook per account owner;
- ``report``: the self-contained HTML page and its headline numbers;
- ``week``: :class:`WeekData` and :func:`build_week_files` (every file, manifest last);
- ``store``: week folders on disk (atomic write, recovery, previous week, read back).
"""

from __future__ import annotations

from churn.outputs.excel import render_workbook
from churn.outputs.report import _fmt_pct, headline, render_report
from churn.outputs.store import (
    past_week_scores,
    previous_week_folder,
    read_week,
    recover_week_folders,
    week_folder,
    write_week_atomically,
)
from churn.outputs.tables import (
    format_probability,
    list_columns,
    neutralise_formula,
    owner_file_names,
    render_csv,
    slugify,
)
from churn.outputs.week import WeekData, build_week_files, render_manifest

__all__ = [
    "WeekData",
    "_fmt_pct",
    "build_week_files",
    "format_probability",
    "headline",
    "list_columns",
    "neutralise_formula",
    "owner_file_names",
    "past_week_scores",
    "previous_week_folder",
    "read_week",
    "recover_week_folders",
    "render_csv",
    "render_manifest",
    "render_report",
    "render_workbook",
    "slugify",
    "week_folder",
    "write_week_atomically",
]
