"""Back-testing of priced lines against their experience (``techins backtest``, ``docs/backtest.md``).

One module per concept: ``history`` (the inputs, checked), ``triangles`` (chain-ladder development
to ultimate, Mack standard errors), ``chainladder_interop`` (to and from chainladder-python's
``Triangle``, the optional ``techins[chainladder]``), ``stats`` (actual vs expected with exact
intervals, PIT, Kupiec, CRPS), ``credibility`` (Bühlmann–Straub), ``indications`` (rate indications
and maximum-likelihood recalibration), ``experience`` (the per-period and per-line tables), ``store``
(the SQLite run store), ``report`` (HTML and plots), ``run`` (one run: configuration, comparison,
store, report), ``synthetic`` (a history drawn from a known truth).
"""

from techins.backtest.experience import BacktestParameters, Experience, analyse
from techins.backtest.history import History, read_history
from techins.backtest.run import BacktestConfig, BacktestRun, read_config, run_backtest
from techins.backtest.store import RunStore, StoredRun

__all__ = ["BacktestConfig", "BacktestParameters", "BacktestRun", "Experience", "History", "RunStore", "StoredRun",
           "analyse", "read_config", "read_history", "run_backtest"]
