"""The week's files: tables, owner workbooks, the page and the atomic week store."""

from __future__ import annotations

from churn.outputs.core import (
    WeekData,
    _fmt_pct,
    build_week_files,
    headline,
    neutralise_formula,
    owner_file_names,
    previous_week_folder,
    read_week,
    recover_week_folders,
    render_csv,
    slugify,
    week_folder,
    write_week_atomically,
)

__all__ = [
    "WeekData",
    "_fmt_pct",
    "build_week_files",
    "headline",
    "neutralise_formula",
    "owner_file_names",
    "previous_week_folder",
    "read_week",
    "recover_week_folders",
    "render_csv",
    "slugify",
    "week_folder",
    "write_week_atomically",
]
