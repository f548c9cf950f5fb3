"""Progress of long runs: a ``progress(done, total)`` callable, told which phase runs when it can hear it.

The protocol
------------
Every long library call (``techins.simulate``, ``book_tail_losses``, ``price_catalogue``,
``apply_programme``, ``run_pool``, ``run_backtest``, ``write_ord_files``, ``CatalogueQuoter.quote_many``,
...) takes ``progress=``:

* any callable ``progress(done, total)``: called as the work of each phase advances, ``done``
  rising from its first report to ``done == total`` at the phase's end (chunks of simulated years,
  tail chunks, coalition blocks, lines, tables, ...). A plain two-argument function is all it needs;
* before each phase the call announces it as ``progress.phase(name)`` **when the object has a
  ``phase`` method** (a function without one simply receives the counts, ``done`` then starting again
  from the new phase's first report). The names are those of ``PHASES``.

A call reports its own phases and passes ``progress`` on to the calls it makes, so a pool run reports
``"simulation"``, ``"tail re-run"``, ``"allocation"``, ``"treaties"``, ``"allocation"`` in turn. Progress
is reported per chunk, per group of tasks, per line or per block of work, never per event or per
year, and it never changes a number. With the Dask backend the counts follow the tasks as they
complete on the cluster, in whatever order, while the results are still added up in chunk order.

``ProgressBar`` draws it with tqdm (``tqdm.auto``: a widget in a notebook, a text bar on a terminal,
nothing when the output is neither); its ``phase`` relabels the bar and starts it again.

Examples
--------
>>> import techins as ti
>>> from techins.progress import ProgressBar
>>> with ProgressBar("simulation", disable=True) as bar:
...     sim = ti.simulate(ti.Line(ti.Poisson(1.0), ti.Exponential(1.0)), years=1_000, seed=1, progress=bar)
>>> seen = []
>>> sim = ti.simulate(ti.Line(ti.Poisson(1.0), ti.Exponential(1.0)), years=1_000, seed=1,
...                   progress=lambda done, total: seen.append((done, total)))
>>> seen[-1][0] == seen[-1][1]
True
"""

from __future__ import annotations

from tqdm.auto import tqdm

__all__ = ["ProgressBar", "PHASES", "announce", "report"]

#: The phases the library announces, in about the order a run meets them.
PHASES = ("simulation", "tail re-run", "allocation", "treaties", "re-simulation", "analysis", "report",
          "ORD tables", "quotes", "occurrences", "compiling")


def announce(progress, name: str) -> None:
    """Tell ``progress`` that phase ``name`` begins, when it has a ``phase`` method (else nothing).

    Parameters
    ----------
    progress : callable or None
        A ``progress(done, total)`` callable, perhaps with a ``phase(name)`` method.
    name : str
        One of ``PHASES``.
    """
    if progress is None:
        return
    phase = getattr(progress, "phase", None)
    if callable(phase):
        phase(name)


def report(progress, done: int, total: int) -> None:
    """``progress(done, total)`` when ``progress`` is given."""
    if progress is not None:
        progress(int(done), int(total))


class ProgressBar:
    """A tqdm bar fed by ``progress(done, total)`` calls, relabelled at each ``phase(name)``.

    Parameters
    ----------
    label : str
        What is running, shown before the bar until a phase is announced.
    disable : bool or None
        True: no bar; None (default): a bar only when the output is a terminal or a notebook.
    file : file-like, optional
        Where a text bar goes (default stderr).

    Attributes
    ----------
    label : str
        The phase shown.
    done, total : int
        The steps done and in all of the phase, as last reported.
    """

    def __init__(self, label: str, disable: bool | None = None, file=None):
        self._bar = tqdm(desc=label, unit="step", disable=disable, leave=False, dynamic_ncols=True, file=file)
        self.label = label
        self.done, self.total = 0, 0

    def phase(self, name: str) -> None:
        """A new phase: the bar takes its name and starts from nothing."""
        self.label = name
        self._bar.set_description(name, refresh=False)
        self._bar.reset(total=None)  # the phase's first report sets its total
        self.done, self.total = 0, 0

    def __call__(self, done: int, total: int) -> None:
        if total != self.total or done < self.done:
            # a new count (a caller without phases, or a new phase's first report): start again
            self._bar.reset(total=total)
            self._bar.update(done)
        else:
            self._bar.update(done - self.done)
        self.done, self.total = done, total

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
