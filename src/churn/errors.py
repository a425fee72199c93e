"""Errors the user can act on. The CLI prints their message (no traceback) and exits with the
error's ``exit_code``: 2 for input, configuration or state, 3 for a suspected leak."""

from __future__ import annotations


class ChurnError(Exception):
    """Base class for errors caused by input, configuration or state, not by a bug.

    The message must say what is wrong and how to fix it.
    """

    exit_code = 2


class LeakSuspected(ChurnError):
    """A training run looks too good to be true: a feature alone nearly predicts the label, or
    the model's ROC AUC is beyond what real churn data allows (or beats the simulator's truth).

    The run was logged to MLflow with the finding, but the model was neither registered nor
    promoted. The message names the columns and how to proceed. ``run_id`` is the logged run.
    """

    exit_code = 3

    def __init__(self, message: str, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id
