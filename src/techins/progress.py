"""Progress bars for long runs: a ``progress(done, total)`` callable, as ``techins.simulate``,
``price_catalogue`` and ``run_pool`` take, drawn by tqdm (``tqdm.auto``: a widget in a notebook, a text
bar on a terminal, nothing when the output is neither).

Examples
--------
>>> import techins as ti
>>> from techins.progress import ProgressBar
>>> with ProgressBar("simulating", disable=True) as bar:
...     sim = ti.simulate(ti.Line(ti.Poisson(1.0), ti.Exponential(1.0)), years=1_000, seed=1, progress=bar)
"""

from __future__ import annotations

from tqdm.auto import tqdm

__all__ = ["ProgressBar"]


class ProgressBar:
    """A tqdm bar fed by ``progress(done, total)`` calls (chunks of simulated years).

    Parameters
    ----------
    label : str
        What is running, shown before the bar.
    disable : bool or None
        True: no bar; None (default): a bar only when the output is a terminal or a notebook.
    file : file-like, optional
        Where a text bar goes (default stderr).

    Attributes
    ----------
    done, total : int
        The chunks done and in all, as last reported.
    """

    def __init__(self, label: str, disable: bool | None = None, file=None):
        self._bar = tqdm(desc=label, unit="chunk", disable=disable, leave=False, dynamic_ncols=True, file=file)
        self.done, self.total = 0, 0

    def __call__(self, done: int, total: int) -> None:
        if total != self.total:
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
