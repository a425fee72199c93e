"""Errors the user can act on. The CLI prints their message (no traceback) and exits with 2."""

from __future__ import annotations


class ChurnError(Exception):
    """Base class for errors caused by input, configuration or state, not by a bug.

    The message must say what is wrong and how to fix it.
    """

    exit_code = 2
