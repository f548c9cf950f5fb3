"""One back-testing run: its configuration (TOML), the analysis, the comparison with the previous run
of the same scope, the run kept in the store (when one is given), and the report.

A run is all or nothing: the configuration and every input are checked before anything is written;
the report is written into a temporary folder while the run's transaction in the store is open,
and the transaction commits only once the report is complete, just before the folder is renamed
into place. A failure anywhere leaves the store and the report folder as they were.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from techins.backtest.experience import BacktestParameters, Experience, analyse
from techins.backtest.history import history_from_frames, read_history, read_table
from techins.backtest.store import RunStore, StoredRun
from techins.display import Figure, figures_html, short_repr
from techins.errors import InputError, InputTypeError
from techins.io.schema import BACKTEST_INPUTS as INPUTS, JSON_COLUMNS
from techins.io.toml import Where, load_toml, only_keys, require_keys, spec_from_table, sub_table
from techins.progress import announce, report
from techins.version import VERSION

__all__ = ["BacktestConfig", "BacktestRun", "read_config", "run_backtest", "compare_runs", "table_records",
           "runs_of_scope"]

_CONFIG_KEYS = ("scope", "description", "store", "report", "currency", "inputs", "parameters", "severity",
                "resimulate")
_RESIMULATE_KEYS = ("products", "years")
# the source named for triangles given to run_backtest rather than read from a file
_GIVEN = "triangles given to run_backtest"


@dataclass(frozen=True)
class BacktestConfig:
    """A back-test's configuration (``docs/backtest.md``).

    Parameters
    ----------
    scope : str
        What the run covers; runs of one scope are compared with each other.
    inputs : dict
        Paths of ``policies`` and ``claims`` (required), ``expenses``, ``triangles``, ``forecasts``.
    parameters : BacktestParameters
    store : str
        The SQLite run store (created when absent) that ``techins backtest`` keeps the run in;
        :func:`run_backtest` uses it only when passed it.
    report : str
        The folder the report is written to.
    source : str
        The configuration file.
    currency : str, optional
        The ISO 4217 code of the history's money (``CNY``), shown on the report's money columns and
        axes; "" (the default): amounts shown without one.
    resimulate : dict, optional
        ``products`` (the catalogue the policies were priced with) and ``years``: the priced
        predictive distributions re-simulated from each policy's product, version and seed
        (``techins.backtest.resimulate``) instead of a forecasts file.
    """

    scope: str
    inputs: dict
    parameters: BacktestParameters
    store: str
    report: str
    source: str = "backtest"
    resimulate: dict | None = None
    currency: str = ""


@dataclass(frozen=True, eq=False)
class BacktestRun:
    """A finished run: its id in the store, its tables and the comparison with the previous run.

    ``run_id``, ``previous_run_id`` and ``store`` are None for a run kept in no store.
    """

    run_id: int | None
    scope: str
    experience: Experience
    comparison: pd.DataFrame
    previous_run_id: int | None
    inputs_hash: str
    code_version: str
    started: datetime
    files: dict
    store: str | None = None

    def tables(self) -> dict:
        return {**self.experience.tables(), "comparison": self.comparison}

    def _figures(self) -> list:
        lines = self.experience.lines
        return [Figure("run_id", "-" if self.run_id is None else self.run_id, kind="text"),
                Figure("scope", self.scope, kind="text"), Figure("lines", len(lines), kind="count"),
                Figure("loss-making", int(lines["loss_making"].sum()), kind="count"),
                Figure("periods", len(self.experience.periods), kind="count")]

    def __repr__(self) -> str:
        return short_repr("BacktestRun", self._figures())

    def _repr_html_(self) -> str:
        return figures_html("BacktestRun: experience against the priced lines", self._figures(),
                            {"lines": self.experience.lines, "comparison": self.comparison})


def read_config(path) -> BacktestConfig:
    """Read a back-test configuration; paths in it are relative to the file. Errors name the file, the
    table and the key."""
    from techins.model.linefile import SEVERITY_LAWS, law_from_table

    path = Path(path)
    data = load_toml(path)
    top = Where(str(path))
    only_keys(data, _CONFIG_KEYS, top)
    scope = data.get("scope")
    if not isinstance(scope, str) or not scope.strip():
        raise InputError(top.message(f"scope must be a non-empty text naming what the run covers, got {scope!r}"))
    inputs = _inputs(sub_table(data, "inputs", top, required=True, hint="the policies and claims files"),
                     top.sub("inputs"), path.parent)
    where = top.sub("severity")
    severity = {str(line): law_from_table(law, SEVERITY_LAWS, where.sub(str(line)))
                for line, law in sub_table(data, "severity", top).items()}
    parameters = spec_from_table(BacktestParameters, sub_table(data, "parameters", top), top.sub("parameters"),
                                 severity=severity)
    store = data.get("store", "backtest_runs.sqlite")
    report = data.get("report", "backtest_report")
    for key, value in (("store", store), ("report", report)):
        if not isinstance(value, str) or not value.strip():
            raise InputTypeError(top.message(f"{key} must be a path, got {value!r}"))
    currency = data.get("currency", "")
    if not isinstance(currency, str) or not re.fullmatch(r"([A-Z]{3})?", currency):
        raise InputError(top.message(f"currency must be an ISO 4217 code such as 'CNY', got {currency!r}"))
    resimulate = None
    if "resimulate" in data:
        if "forecasts" in inputs:
            raise InputError(top.message("give [inputs] forecasts or [resimulate], not both"))
        resimulate = _resimulate(sub_table(data, "resimulate", top), top.sub("resimulate"), path.parent)
    return BacktestConfig(scope=scope.strip(), inputs=inputs, parameters=parameters,
                          store=os.path.normpath(path.parent / store), report=os.path.normpath(path.parent / report),
                          source=str(path), resimulate=resimulate, currency=currency)


def _inputs(table: dict, where: Where, folder: Path) -> dict:
    """The ``[inputs]`` table: each input's path, relative to the configuration's folder."""
    only_keys(table, INPUTS, where)
    require_keys(table, ("policies", "claims"), where)
    resolved = {}
    for key, value in table.items():
        if not isinstance(value, str) or not value.strip():
            raise InputTypeError(where.message(f"{key} must be a path, got {value!r}"))
        resolved[key] = os.path.normpath(folder / value)
    return resolved


def _resimulate(table: dict, where: Where, folder: Path) -> dict:
    """The ``[resimulate]`` table: the catalogue the policies were priced with and the years."""
    only_keys(table, _RESIMULATE_KEYS, where)
    require_keys(table, ("products",), where, hint="the catalogue the policies were priced with")
    years = table.get("years", 20_000)
    if isinstance(years, bool) or not isinstance(years, int) or years < 100:
        raise InputError(where.message(f"years must be a whole number of at least 100, got {years!r}"))
    return {"products": os.path.normpath(folder / str(table["products"])), "years": years}


def run_backtest(config: BacktestConfig, *, store=None, out=None, triangles=None, progress=None) -> BacktestRun:
    """Run a back-test: read and check the inputs, analyse, compare with the previous run of the
    scope, write the report and, when given a store, keep the run in it (see the module's docstring).

    Parameters
    ----------
    config : BacktestConfig
        From :func:`read_config`.
    store : str or os.PathLike, optional
        The SQLite run store to read the scope's previous run from and keep this run in (created
        when absent). None, the default: no store at all — nothing is read from or written to any
        database, the run has no id and is compared with no previous run. The configuration's
        store is used only when passed, ``store=config.store`` (as ``techins backtest`` does).
    out : str or os.PathLike, optional
        The report folder; None: the configuration's ``report``.
    triangles : chainladder.Triangle, Mapping or pandas.DataFrame, optional
        The lines' development triangles, instead of the configuration's ``triangles`` file: a
        ``chainladder.Triangle`` whose index rows are the lines, a mapping from line to a chainladder
        or techins Triangle (:func:`techins.backtest.chainladder_interop.triangle_table`), or the
        triangles table itself. They enter the inputs' hash; the report names them as given.
    progress : callable, optional
        ``progress(done, total)`` over each phase: ``"re-simulation"`` (per period, with
        ``[resimulate]`` only), ``"analysis"`` (its four steps), ``"report"`` (the plots, then the
        tables and page); each announced first as ``progress.phase(name)`` when it has that method
        (``techins.progress``). It never changes the run.

    Returns
    -------
    BacktestRun
    """
    from techins.backtest.report import write_plots, write_report
    from techins.io.outputs import output_folder

    if not isinstance(config, BacktestConfig):
        raise InputTypeError(f"run_backtest: expected a BacktestConfig (read_config), got {type(config).__name__}")
    if store is not None and not isinstance(store, (str, os.PathLike)):
        raise InputTypeError(f"run_backtest: store must be a path or None (no store), got {type(store).__name__}")
    started = datetime.now(timezone.utc)
    table = None
    if triangles is not None:
        from techins.backtest.chainladder_interop import triangle_table

        table = triangles if isinstance(triangles, pd.DataFrame) else triangle_table(triangles, source=_GIVEN)
    history = _history(config, table, progress)
    announce(progress, "analysis")
    experience = analyse(history, config.parameters, progress=progress)
    inputs_hash = _inputs_hash(config, history.triangles if table is not None else None)
    if table is not None:
        config = dataclasses.replace(config, inputs={**config.inputs, "triangles": _GIVEN})
    code_version = f"techins {VERSION}"
    out = Path(out if out is not None else config.report)
    run = BacktestRun(run_id=None, scope=config.scope, experience=experience,
                      comparison=compare_runs(experience.lines, None), previous_run_id=None, inputs_hash=inputs_hash,
                      code_version=code_version, started=started, files={},
                      store=None if store is None else str(store))
    with output_folder(out) as folder:
        announce(progress, "report")
        if store is None:
            figures = write_plots(experience, folder, config.currency)
            report(progress, 1, 2)
            run = dataclasses.replace(run, files=write_report(run, folder, history, config, figures))
            report(progress, 2, 2)
            return run
        with RunStore(Path(store)) as runs:
            previous = runs.previous(config.scope)
            previous_id = None if previous is None else previous.run_id
            run = dataclasses.replace(run, comparison=compare_runs(experience.lines, previous),
                                      previous_run_id=previous_id)
            figures = write_plots(experience, folder, config.currency)
            report(progress, 1, 2)
            parameters = {**config.parameters.record(), "inputs": {k: v for k, v in sorted(config.inputs.items())},
                          "resimulate": config.resimulate, "previous_run_id": previous_id}
            earlier = runs.runs(config.scope)
            tables = {**experience.tables(), "comparison": run.comparison}
            # the run is committed only once its report is written: a failure leaves both as they were
            with runs.saving(config.scope, tables, parameters=parameters, inputs_hash=inputs_hash,
                             code_version=code_version, started=started) as run_id:
                run = dataclasses.replace(run, run_id=run_id)
                scope_runs = runs_of_scope(earlier, {"run_id": run_id, "started": started, "code_version": code_version,
                                                     "inputs_hash": inputs_hash, "parameters": parameters})
                run = dataclasses.replace(run, files=write_report(run, folder, history, config, figures,
                                                                  scope_runs=scope_runs))
                report(progress, 2, 2)
                return run


def table_records(table: pd.DataFrame) -> list:
    """A result table as JSON-ready records: plain Python numbers, text and booleans; NaN and
    infinities as None; the columns holding JSON text (a severity fit's parameters) as the objects
    they hold, so that no value is a string of JSON."""
    records = []
    for row in table.to_dict(orient="records"):
        record = {}
        for key, value in row.items():
            if key in JSON_COLUMNS and isinstance(value, str):
                value = json.loads(value) if value else {}
            record[str(key)] = _plain(value)
        records.append(record)
    return records


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def compare_runs(lines: pd.DataFrame, previous: StoredRun | None) -> pd.DataFrame:
    """Per line, this run's key figures next to the previous run's of the same scope: loss and
    combined ratios, the credibility loss ratio, the indicated rate change and the loss-making flag
    (1 or 0), and their changes; NaN where there is no previous run or it did not have the line."""
    keys = ["loss_ratio", "combined_ratio", "credibility_loss_ratio", "indicated_rate_change", "loss_making"]
    now = lines[["line", *keys]].copy()
    now["loss_making"] = now["loss_making"].astype(float)
    before = previous.tables.get("lines") if previous is not None else None
    for key in keys:
        if before is not None and key in before.columns:
            old = now["line"].map(before.set_index("line")[key].astype(float))
        else:
            old = pd.Series(np.nan, index=now.index)
        now[f"previous_{key}"] = old.astype(float)
        now[f"change_{key}"] = now[key] - now[f"previous_{key}"]
    now["previous_run_id"] = -1 if previous is None else previous.run_id
    return now


# what a run's parameters record about its place among the runs, not about what it computed
_NOT_IDENTITY = ("previous_run_id",)


def runs_of_scope(earlier: pd.DataFrame, current: dict | None = None) -> pd.DataFrame:
    """The runs of a scope with identical runs (the same inputs hash, code version and parameters)
    collapsed into one row with their count and ids: a back-test re-run on unchanged data is one
    entry ("3 identical runs, ids 1, 4, 7"), not three.

    Parameters
    ----------
    earlier : pandas.DataFrame
        ``RunStore.runs(scope)``: ``run_id``, ``started``, ``code_version``, ``inputs_hash`` and
        ``parameters`` (JSON text).
    current : dict, optional
        This run, with the same keys (``parameters`` as a dict), when it is not in ``earlier`` yet.

    Returns
    -------
    pandas.DataFrame
        One row per distinct run, in the order of their first run: ``run_ids`` ("1, 4, 7"),
        ``n_runs``, ``first_run_id``, ``last_run_id``, ``started`` (the first's and the last's UTC
        time), ``code_version``, ``inputs_hash`` and ``identical_to_this_run`` (the group holding
        ``current``; all False without one).
    """
    rows = [(int(r.run_id), pd.Timestamp(r.started), r.code_version, r.inputs_hash, json.loads(r.parameters))
            for r in earlier.itertuples()]
    if current is not None:
        rows.append((int(current["run_id"]), pd.Timestamp(current["started"]), current["code_version"],
                     current["inputs_hash"], current["parameters"]))
    groups: dict = {}
    for run_id, started, code, inputs, parameters in sorted(rows, key=lambda row: row[0]):
        identity = {k: v for k, v in parameters.items() if k not in _NOT_IDENTITY}
        key = (code, inputs, json.dumps(identity, sort_keys=True))
        groups.setdefault(key, []).append((run_id, started))
    this = None if current is None else int(current["run_id"])
    out = []
    for (code, inputs, _), members in groups.items():
        ids = [run_id for run_id, _ in members]
        first, last = members[0][1], members[-1][1]
        when = f"{first:%Y-%m-%d %H:%M}" + (f" to {last:%Y-%m-%d %H:%M}" if len(members) > 1 else "")
        out.append({"run_ids": ", ".join(str(i) for i in ids), "n_runs": len(ids), "first_run_id": ids[0],
                    "last_run_id": ids[-1], "started": when, "code_version": code, "inputs_hash": inputs[:12],
                    "identical_to_this_run": this in ids})
    columns = ["run_ids", "n_runs", "first_run_id", "last_run_id", "started", "code_version", "inputs_hash",
               "identical_to_this_run"]
    return pd.DataFrame(out, columns=columns)


def _history(config: BacktestConfig, triangles: pd.DataFrame | None = None, progress=None):
    """The checked inputs; with ``[resimulate]``, the forecasts re-simulated from the catalogue; with
    ``triangles``, those instead of the configuration's triangles file."""
    if config.resimulate is None and triangles is None:
        return read_history(**{k: config.inputs.get(k) for k in INPUTS})
    given = {"triangles": triangles} if triangles is not None else {}
    frames = {k: given[k] if k in given else None if k not in config.inputs else read_table(config.inputs[k], k)
              for k in INPUTS}
    sources = {**config.inputs, **dict.fromkeys(given, _GIVEN)}
    if config.resimulate is not None:
        from techins.backtest.resimulate import resimulated_forecasts
        from techins.catalogue.products import read_catalogue

        catalogue = read_catalogue(config.resimulate["products"])
        frames["forecasts"] = resimulated_forecasts(frames["policies"], catalogue, config.resimulate["years"],
                                                    source=config.inputs["policies"], progress=progress)
        sources["forecasts"] = f"forecasts re-simulated from {config.resimulate['products']}"
    return history_from_frames(**frames, sources=sources)


def _inputs_hash(config: BacktestConfig, triangles: pd.DataFrame | None = None) -> str:
    """SHA-256 over each input's name and bytes in a fixed order (and, when the forecasts are
    re-simulated, the catalogue's files and the years; triangles given to the run: their checked
    table as CSV, in place of the file): the same inputs, the same hash."""
    digest = hashlib.sha256()
    for name in INPUTS:
        if name == "triangles" and triangles is not None:
            digest.update(name.encode())
            digest.update(triangles.to_csv(index=False, float_format="%.17g").encode())
        elif name in config.inputs:
            digest.update(name.encode())
            digest.update(Path(config.inputs[name]).read_bytes())
    if config.resimulate is not None:
        products = Path(config.resimulate["products"])
        for file in sorted(products.glob("*.toml")) if products.is_dir() else [products]:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
        digest.update(str(config.resimulate["years"]).encode())
    return digest.hexdigest()
