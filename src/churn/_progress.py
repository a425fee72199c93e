"""Progress on long work: the one progress bar of the package, and timed steps in the log.

Long work (the rolling backtest, tuning trials, cross-validation folds, notebooks, the steps of
weekly scoring) shows a bar only when the caller asks for one; the CLI asks on a terminal. A
disabled bar imports nothing and draws nothing, so tests and pipes see no escape codes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)


class Bar:
    """What :func:`progress_bar` yields: ``advance()`` after an item, ``step(name)`` before one.

    Parameters
    ----------
    description
        Shown left of the bar (and in debug log lines of the steps).
    progress, task
        The rich ``Progress`` and its task; ``None`` when the bar is disabled.
    """

    def __init__(self, description: str, progress: Any = None, task: Any = None) -> None:
        self.description = description
        self._progress = progress
        self._task = task
        self._steps = 0

    def advance(self, *_: object) -> None:
        """One item done. Accepts and ignores arguments, so it can be any callback."""
        if self._progress is not None:
            self._progress.advance(self._task)

    def step(self, name: str) -> None:
        """Start the named step: the steps started before it count as done."""
        log.debug("%s step: %s", self.description, name)
        if self._progress is not None:
            self._progress.update(
                self._task, description=f"{self.description}: {name}", completed=self._steps
            )
        self._steps += 1


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True) -> Iterator[Bar]:
    """A transient rich progress bar over ``total`` items; a no-op :class:`Bar` when disabled.

    Parameters
    ----------
    description
        What is counted ("backtest windows", "notebooks").
    total
        Number of items (or steps).
    enabled
        Draw the bar; ``False`` draws nothing and does not import rich.
    """
    if not enabled:
        yield Bar(description)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as progress:
        yield Bar(description, progress, progress.add_task(description, total=total))


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Log the start and duration of step ``name``; store its seconds in ``timings[name]``."""
    log.info("%s ...", name)
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 2)
    log.info("%s: %.1f s", name, timings[name])
