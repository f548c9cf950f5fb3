"""Treaties and programmes applied to simulated occurrence losses.

A ``Programme`` is a sequence of treaties applied in inuring order, each to the net of the ones
before: ``QuotaShare``, ``Surplus``, ``PerRiskXL``, ``OccurrenceXL`` (with reinstatements, pro rata
as to amount) and ``AggregateXL`` (a stop loss; ``AggregateXL.on_premium`` states it as shares of the
subject premium). The Numba kernel (``techins.kernels.treaties``) runs over the occurrence loss table
of a simulated book; ``apply_programme`` streams a ``BookResult``'s occurrences chunk by chunk and
``apply_to_occurrences`` takes plain arrays. Formulas and a worked example: ``docs/treaties.md``.

Reinstatement premium (Sundt 1991, "On excess of loss reinsurance with reinstatements", *Bulletin
of the Swiss Association of Actuaries*): for a layer ``L xs R`` with ``K`` reinstatements at rates
``c_1..c_K`` and deposit premium ``P``, the year's layer loss ``S_L`` is ceded up to ``(K + 1) L`` and
the reinstatement premium is ``P / L * sum_k c_k min(max(S_L - (k - 1) L, 0), L)``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from techins import validate
from techins.display import Figure, figures_html, short_repr
from techins.errors import InputError, InputTypeError
from techins.io.toml import Where, array_of_tables, load_toml, only_keys, placed, spec_from_table, table
from techins.kernels import treaties as kernels
from techins.progress import announce
from techins.results import figures
from techins.simulation.executor import open_executor
from techins.simulation.executors.local import numba_threads
from techins.simulation.occurrences import add_by_group_and_year, chunk_occurrences, group_codes
from techins.simulation.plan import BookPlan

__all__ = ["QuotaShare", "Surplus", "PerRiskXL", "OccurrenceXL", "AggregateXL", "Programme", "ProgrammeResult",
           "OccurrenceTable", "TREATY_TYPES", "TreatyAccounts", "treaty_accounts", "read_programme", "programme_from_mapping", "apply_programme",
           "apply_to_table", "apply_to_occurrences", "sundt_premium", "exact_treaty", "burning_cost"]


# ---------------------------------------------------------------------------------------- treaties
@dataclass(frozen=True)
class QuotaShare:
    """Cedes ``cession`` of every loss; the reinsurer pays ``ceding_commission`` of the ceded premium."""

    cession: float
    ceding_commission: float = 0.0
    name: str = "quota share"

    def __post_init__(self):
        validate.set_real(self, self.name, "cession", low=0.0, high=1.0)
        validate.set_real(self, self.name, "ceding_commission", low=0.0, high=1.0)

    def kernel(self):
        return kernels.QUOTA_SHARE, (self.cession, 0.0, 0.0), ()


@dataclass(frozen=True)
class Surplus:
    """Cedes, of a policy with sum insured SI, the share ``min(lines R, max(SI - R, 0)) / SI`` of each
    loss (``R`` the retention line)."""

    retention: float
    lines: float
    name: str = "surplus"

    def __post_init__(self):
        validate.set_real(self, self.name, "retention", low=0.0, low_open=True)
        validate.set_real(self, self.name, "lines", low=0.0)

    def kernel(self):
        return kernels.SURPLUS, (self.retention, self.lines, 0.0), ()


@dataclass(frozen=True)
class PerRiskXL:
    """``limit xs retention`` on each policy's loss in each occurrence; ``premium`` (money, optional)
    is what the reinsurer charges a year."""

    limit: float
    retention: float
    premium: float | None = None
    name: str = "per-risk XL"

    def __post_init__(self):
        validate.set_real(self, self.name, "limit", low=0.0, low_open=True, allow_inf=True)
        validate.set_real(self, self.name, "retention", low=0.0)
        if self.premium is not None:
            validate.set_real(self, self.name, "premium", low=0.0)

    def kernel(self):
        return kernels.PER_RISK_XL, (self.limit, self.retention, 0.0), ()


@dataclass(frozen=True)
class OccurrenceXL:
    """``limit xs retention`` on each occurrence's total (a catastrophe / event XL).

    Parameters
    ----------
    limit, retention : float
    reinstatements : tuple of float
        One premium rate per reinstatement, e.g. ``(1.0, 1.0)``: two at 100%. The layer pays at most
        ``(1 + len(reinstatements)) * limit`` a year; ``()`` for none (one limit a year).
    premium : float, optional
        Deposit (upfront) premium, money.
    rate_on_line : float, optional
        Deposit premium as a share of the limit (give ``premium`` or this, not both).
    """

    limit: float
    retention: float
    reinstatements: tuple = ()
    premium: float | None = None
    rate_on_line: float | None = None
    name: str = "occurrence XL"

    def __post_init__(self):
        validate.set_real(self, self.name, "limit", low=0.0, low_open=True)  # reinstatements of an unlimited layer mean nothing
        validate.set_real(self, self.name, "retention", low=0.0)
        if isinstance(self.reinstatements, (str, bytes)) or not isinstance(self.reinstatements, (tuple, list)):
            raise InputTypeError(f"{self.name}: reinstatements must be a list of premium rates, e.g. [1.0, 1.0], "
                                 f"got {self.reinstatements!r}")
        rates = tuple(validate.real(self.name, f"reinstatements[{k}]", c, low=0.0)
                      for k, c in enumerate(self.reinstatements))
        object.__setattr__(self, "reinstatements", rates)
        if self.premium is not None and self.rate_on_line is not None:
            raise InputError(f"{self.name}: give premium or rate_on_line, not both")
        if self.premium is not None:
            validate.set_real(self, self.name, "premium", low=0.0)
        if self.rate_on_line is not None:
            validate.set_real(self, self.name, "rate_on_line", low=0.0, low_open=True, high=1.0)

    @property
    def deposit_premium(self) -> float | None:
        """The upfront premium in money (None when not given)."""
        if self.premium is not None:
            return self.premium
        return None if self.rate_on_line is None else self.rate_on_line * self.limit

    @property
    def annual_limit(self) -> float:
        """``(1 + reinstatements) * limit``: the most the layer pays in a year."""
        return (1 + len(self.reinstatements)) * self.limit

    def kernel(self):
        return kernels.OCCURRENCE_XL, (self.limit, self.retention, float(len(self.reinstatements))), self.reinstatements


@dataclass(frozen=True)
class AggregateXL:
    """``limit xs attachment`` on the year's total (an aggregate excess of loss / stop loss);
    ``premium`` (money, optional) is what the reinsurer charges a year."""

    limit: float
    attachment: float
    premium: float | None = None
    name: str = "aggregate XL"

    def __post_init__(self):
        validate.set_real(self, self.name, "limit", low=0.0, low_open=True, allow_inf=True)
        validate.set_real(self, self.name, "attachment", low=0.0)
        if self.premium is not None:
            validate.set_real(self, self.name, "premium", low=0.0)

    @classmethod
    def on_premium(cls, limit_share: float, attachment_share: float, subject_premium: float,
                   name: str = "stop loss", premium: float | None = None) -> "AggregateXL":
        """A stop loss written as loss ratios: ``limit_share`` xs ``attachment_share`` of the subject
        premium (e.g. 50% xs 110%)."""
        subject = validate.real(name, "subject_premium", subject_premium, low=0.0, low_open=True)
        return cls(limit=validate.real(name, "limit_share", limit_share, low=0.0, low_open=True, allow_inf=True) * subject,
                   attachment=validate.real(name, "attachment_share", attachment_share, low=0.0) * subject,
                   premium=premium, name=name)

    def kernel(self):
        return kernels.AGGREGATE_XL, (self.limit, self.attachment, 0.0), ()


TREATY_TYPES = {"quota_share": QuotaShare, "surplus": Surplus, "per_risk_xl": PerRiskXL,
                "occurrence_xl": OccurrenceXL, "aggregate_xl": AggregateXL}


@dataclass(frozen=True)
class Programme:
    """Treaties applied in order, each to the net of the ones before (inuring order)."""

    treaties: tuple
    name: str = "programme"

    def __post_init__(self):
        treaties = tuple(self.treaties)
        if not treaties:
            raise InputError(f"{self.name}: a programme needs at least one treaty")
        for t in treaties:
            if not isinstance(t, tuple(TREATY_TYPES.values())):
                raise InputTypeError(f"{self.name}: {t!r} is not a treaty ({', '.join(TREATY_TYPES)})")
        twice = validate.first_duplicate(t.name for t in treaties)
        if twice is not None:
            raise InputError(f"{self.name}: treaty name {twice!r} is used twice; name each treaty")
        object.__setattr__(self, "treaties", treaties)

    def kernel_arrays(self):
        """Codes, parameters and reinstatement rates of the treaties, for the kernel."""
        parts = [t.kernel() for t in self.treaties]
        codes = np.array([p[0] for p in parts], dtype=np.int64)
        params = np.array([p[1] for p in parts], dtype=np.float64).reshape(-1, kernels.N_PARAMS)
        width = max([len(p[2]) for p in parts] + [1])
        rates = np.zeros((len(parts), width))
        for t, p in enumerate(parts):
            rates[t, :len(p[2])] = p[2]
        return codes, params, rates


# ---------------------------------------------------------------------------------------- reading
def read_programme(path) -> Programme:
    """Read a programme TOML file: ``name`` and one ``[[treaty]]`` table per treaty with a ``type``
    (quota_share, surplus, per_risk_xl, occurrence_xl, aggregate_xl) and its fields; an aggregate XL
    may give ``limit_share``, ``attachment_share`` and ``subject_premium`` instead of money."""
    return programme_from_mapping(load_toml(path), str(path))


_PROGRAMME_KEYS = ("name", "treaty")
# an aggregate XL written as shares of the subject premium (AggregateXL.on_premium)
_STOP_LOSS_KEYS = ("limit_share", "attachment_share", "subject_premium", "name", "premium")


def programme_from_mapping(data: dict, source: str = "programme") -> Programme:
    """Build a ``Programme`` from a mapping shaped like the programme file; ``source`` names it in
    messages."""
    top = Where(source)
    data = table(data, top)
    only_keys(data, _PROGRAMME_KEYS, top)
    tables = array_of_tables(data, "treaty", top, required=True, hint="one per treaty, in inuring order")
    treaties = [_treaty(t, top.item("treaty", i)) for i, t in enumerate(tables)]
    with placed(top):
        return Programme(tuple(treaties), name=str(data.get("name", "programme")))


def _treaty(value: dict, where: Where):
    """One ``[[treaty]]`` table: its ``type`` picks the treaty class, the other keys are its fields."""
    spec = dict(value)
    kind = spec.pop("type", None)
    if not isinstance(kind, str) or kind not in TREATY_TYPES:
        raise InputError(where.message(f"type must be one of {', '.join(TREATY_TYPES)}, got {kind!r}"))
    where = Where(where.source, f"{where.table} ({kind})")
    cls = TREATY_TYPES[kind]
    if cls is AggregateXL and "subject_premium" in spec:
        only_keys(spec, _STOP_LOSS_KEYS, where)
        money = {k: spec[k] for k in ("name", "premium") if k in spec}
        with placed(where):
            return AggregateXL.on_premium(spec.get("limit_share", math.inf), spec.get("attachment_share", 0.0),
                                          spec["subject_premium"], **money)
    if isinstance(spec.get("reinstatements"), list):
        spec["reinstatements"] = tuple(spec["reinstatements"])
    return spec_from_table(cls, spec, where)


# ---------------------------------------------------------------------------------------- applying
@dataclass(frozen=True, eq=False)
class ProgrammeResult:
    """A programme over simulated years: per year (and per occurrence when kept) gross, ceded by
    treaty, net and reinstatement premium.

    Attributes
    ----------
    programme : Programme
    gross, net : numpy.ndarray
        Per year: the occurrences' total before and after every treaty.
    ceded : numpy.ndarray
        ``[years, treaties]``: what each treaty took in each year.
    reinstatement_factor : numpy.ndarray
        ``[years, treaties]``: each occurrence XL's reinstatement premium per unit of deposit premium
        (``sum_k c_k L_(k-1) / L``); 0 for other treaties.
    occurrences : pandas.DataFrame or None
        When kept: one row per occurrence, ``year, occurrence_id, gross, ceded_<t>...,
        reinstatement_<t>..., net``.
    group_gross, group_net : numpy.ndarray or None
        When groups of policies were given: ``[groups, years]``, each group's gross and net (what a
        treaty takes from an occurrence is shared back to its rows in proportion to their net, so a
        group's net is its rows' net after every treaty).
    """

    programme: Programme
    gross: np.ndarray
    net: np.ndarray
    ceded: np.ndarray
    reinstatement_factor: np.ndarray
    occurrences: pd.DataFrame | None = None
    group_gross: np.ndarray | None = None
    group_net: np.ndarray | None = None

    @property
    def years(self) -> int:
        return int(self.gross.size)

    def _figures(self) -> list:
        n = self.years
        se = (lambda x: float(np.std(x, ddof=1) / math.sqrt(n))) if n > 1 else (lambda x: None)
        return [Figure("programme", self.programme.name, kind="text"),
                Figure("treaties", len(self.programme.treaties), kind="count"), Figure("years", n, kind="count"),
                Figure("gross", float(self.gross.mean()), se(self.gross)),
                Figure("net", float(self.net.mean()), se(self.net))]

    def __repr__(self) -> str:
        return short_repr("ProgrammeResult", self._figures())

    def _repr_html_(self) -> str:
        return figures_html("ProgrammeResult: mean annual loss before and after the programme (± standard error)",
                            self._figures(), {"treaties": self.treaty_table()})

    def treaty_table(self, load: float = 0.0, level: float = 0.99) -> pd.DataFrame:
        """Per treaty: expected ceded loss with its standard error, standard deviation, VaR and TVaR
        at ``level`` of the annual ceded loss, probability of a loss, expected reinstatement premium,
        and the technical price: for an occurrence XL Sundt's premium with a load of ``load``
        standard deviations, ``(E[ceded] + load sd) / (1 + E[factor])``, and its rate on line."""
        level = figures.check_level("treaty_table", level, upper_open=True)
        load = validate.real("treaty_table", "load", load, low=0.0)
        rows = []
        n = self.years
        for t, treaty in enumerate(self.programme.treaties):
            x = self.ceded[:, t]
            ordered = np.sort(x)
            sd = float(np.std(x, ddof=1)) if n > 1 else 0.0
            factor = self.reinstatement_factor[:, t]
            row = {"treaty": treaty.name, "type": _type_name(treaty), "expected_ceded": float(x.mean()),
                   "expected_ceded_stderr": sd / math.sqrt(n), "std": sd,
                   "var": figures.quantile_equal(ordered, level), "tvar": figures.tvar_equal(ordered, level),
                   "prob_loss": float(np.mean(x > 0.0)), "expected_reinstatement_factor": float(factor.mean()),
                   "expected_reinstatement_premium": math.nan, "deposit_premium": math.nan,
                   "technical_premium": float(x.mean() + load * sd), "rate_on_line": math.nan}
            if isinstance(treaty, OccurrenceXL):
                price = (x.mean() + load * sd) / (1.0 + factor.mean())
                row["technical_premium"] = float(price)
                row["rate_on_line"] = float(price / treaty.limit)
                deposit = treaty.deposit_premium
                row["deposit_premium"] = math.nan if deposit is None else deposit
                row["expected_reinstatement_premium"] = float((deposit if deposit is not None else price) * factor.mean())
            rows.append(row)
        return pd.DataFrame(rows).assign(level=level)

    def ep_curve(self, treaty: str, return_periods=figures.DEFAULT_RETURN_PERIODS) -> pd.DataFrame:
        """Annual ceded loss of one treaty by return period (AEP) with its TVaR."""
        names = [t.name for t in self.programme.treaties]
        if treaty not in names:
            raise InputError(f"ep_curve: no treaty {treaty!r}; treaties are {names}")
        ordered = np.sort(self.ceded[:, names.index(treaty)])
        rows = [(float(t), 1.0 / t, figures.quantile_equal(ordered, 1.0 - 1.0 / t),
                 figures.tvar_equal(ordered, 1.0 - 1.0 / t)) for t in return_periods if t <= ordered.size]
        return pd.DataFrame(rows, columns=["return_period", "exceedance_prob", "ceded", "ceded_tvar"])

    def ep_table(self, return_periods=figures.DEFAULT_RETURN_PERIODS, level: float = 0.95) -> pd.DataFrame:
        """The annual gross and net losses by return period (AEP) with their order-statistic
        ``level`` intervals (``gross_low``, ``gross_high``, ``net_low``, ``net_high``), and each
        treaty's annual ceded loss (``ceded_<treaty>``); return periods longer than the years dropped."""
        level = validate.real("ep_table", "level", level, low=0.0, high=1.0, low_open=True, high_open=True)
        gross, net = np.sort(self.gross), np.sort(self.net)
        ceded = np.sort(self.ceded, axis=0)
        rows = []
        for t in (float(t) for t in return_periods if t <= self.years):
            p = 1.0 - 1.0 / t
            rows.append((t, 1.0 / t, figures.quantile_equal(gross, p), *figures.quantile_interval_equal(gross, p, level),
                         figures.quantile_equal(net, p), *figures.quantile_interval_equal(net, p, level),
                         *(figures.quantile_equal(ceded[:, k], p) for k in range(ceded.shape[1]))))
        names = [f"ceded_{t.name}" for t in self.programme.treaties]
        return pd.DataFrame(rows, columns=["return_period", "exceedance_prob", "gross", "gross_low", "gross_high",
                                           "net", "net_low", "net_high", *names])


@dataclass(frozen=True, eq=False)
class OccurrenceTable:
    """An occurrence loss table grouped once for the treaty kernel (several programmes can then run
    over it): rows sorted by year, then occurrence, the rows of one occurrence together.

    Occurrences have no dates inside a year; they are taken in a fixed pseudo-random order (a hash of
    their id), which decides which occurrence a year's reinstatements and aggregate attachment fall on,
    never the year's totals.
    """

    years: int
    year_start: np.ndarray
    occ_start: np.ndarray
    occ_year: np.ndarray
    occurrence_id: np.ndarray
    policy: np.ndarray
    loss: np.ndarray

    @classmethod
    def from_arrays(cls, year, occurrence_id, policy, loss, years: int) -> "OccurrenceTable":
        """Group the rows (one per policy an occurrence touches; rows of one occurrence share
        ``occurrence_id`` and lie in one year)."""
        owner = "OccurrenceTable"
        years = validate.integer(owner, "years", years, low=1)
        year = np.asarray(year, dtype=np.int64)
        occurrence_id = np.asarray(occurrence_id, dtype=np.int64)
        policy = np.asarray(policy, dtype=np.int64)
        loss = validate.real_array(owner, "loss", loss, low=0.0, min_size=0)
        if not (year.shape == occurrence_id.shape == policy.shape == loss.shape):
            raise InputError(f"{owner}: year, occurrence_id, policy and loss must have the same length")
        if year.size and (year.min() < 0 or year.max() >= years):
            raise InputError(f"{owner}: year must be in [0, {years - 1}], got {int(year.min())}..{int(year.max())}")
        if policy.size and policy.min() < 0:
            raise InputError(f"{owner}: policy must be a row index >= 0, got {int(policy.min())}")
        order = np.lexsort((occurrence_id, _mix(occurrence_id), year))
        year, occurrence_id, policy, loss = year[order], occurrence_id[order], policy[order], loss[order]
        new_occ = np.ones(year.size, dtype=bool)
        new_occ[1:] = occurrence_id[1:] != occurrence_id[:-1]
        occ_start = np.append(np.flatnonzero(new_occ), year.size).astype(np.int64)
        occ_year = year[occ_start[:-1]]
        year_start = np.searchsorted(occ_year, np.arange(years + 1)).astype(np.int64)
        return cls(years=years, year_start=year_start, occ_start=occ_start, occ_year=occ_year,
                   occurrence_id=occurrence_id[occ_start[:-1]], policy=policy, loss=loss)

    @property
    def n_occurrences(self) -> int:
        return int(self.occ_year.size)

    @property
    def row_year(self) -> np.ndarray:
        """The year of each row."""
        return np.repeat(self.occ_year, np.diff(self.occ_start))


def apply_to_table(table: OccurrenceTable, programme: Programme, *, sum_insured=None, keep_occurrences: bool = False,
                   threads: int | None = None, groups=None) -> ProgrammeResult:
    """Apply ``programme`` to a grouped occurrence table (see ``OccurrenceTable``).

    ``groups``, optional, gives each policy (row index) a group code ``0..G-1`` (e.g. its line, or the
    member who brought it): the result then carries each group's gross and net per year.
    """
    if not isinstance(programme, Programme):
        raise InputTypeError(f"apply_to_table: programme must be a Programme, got {type(programme).__name__}")
    insured = _sum_insured(programme, table.policy, sum_insured)
    if groups is not None:
        covered = int(table.policy.max()) + 1 if table.policy.size else 0
        group_of = group_codes("apply_to_table", groups, max(np.size(groups), covered))
    result, row_net = _run_programme(table, programme, insured, keep_occurrences, threads)
    if groups is None:
        return result
    n_groups = int(group_of.max(initial=-1)) + 1
    group_gross, group_net = np.zeros((n_groups, table.years)), np.zeros((n_groups, table.years))
    add_by_group_and_year((group_gross, group_net), group_of[table.policy], table.row_year, (table.loss, row_net))
    return dataclasses.replace(result, group_gross=group_gross, group_net=group_net)


def _run_programme(table: OccurrenceTable, programme: Programme, insured: np.ndarray, keep_occurrences: bool,
                   threads) -> tuple[ProgrammeResult, np.ndarray]:
    """The kernel over ``table``: the programme's result and each row's net."""
    codes, params, rates = programme.kernel_arrays()
    n_occ, n_t, years = table.n_occurrences, codes.size, table.years
    kept = n_occ if keep_occurrences else 0
    occ_ceded, occ_reinst, occ_net = np.zeros((kept, n_t)), np.zeros((kept, n_t)), np.zeros(kept)
    gross, net = np.empty(years), np.empty(years)
    ceded, factor = np.empty((years, n_t)), np.empty((years, n_t))
    row_net = np.empty_like(table.loss)
    with numba_threads(threads):
        kernels.apply_programme(table.year_start, table.occ_start, table.policy, table.loss, insured, codes, params,
                                rates, gross, net, ceded, factor, occ_ceded, occ_reinst, occ_net, row_net)
    occurrences = None
    if keep_occurrences:
        occ_gross = np.add.reduceat(table.loss, table.occ_start[:-1]) if n_occ else np.zeros(0)
        occurrences = pd.DataFrame({"year": table.occ_year, "occurrence_id": table.occurrence_id, "gross": occ_gross})
        for t, treaty in enumerate(programme.treaties):
            occurrences[f"ceded_{treaty.name}"] = occ_ceded[:, t]
            occurrences[f"reinstatement_{treaty.name}"] = occ_reinst[:, t]
        occurrences["net"] = occ_net
    result = ProgrammeResult(programme=programme, gross=gross, net=net, ceded=ceded, reinstatement_factor=factor,
                             occurrences=occurrences)
    return result, row_net


def apply_to_occurrences(year, occurrence_id, policy, loss, years: int, programme: Programme, *, sum_insured=None,
                         keep_occurrences: bool = False, threads: int | None = None) -> ProgrammeResult:
    """Apply ``programme`` to an occurrence loss table given as arrays (one row per policy an
    occurrence touches; rows of one occurrence share ``occurrence_id``): ``OccurrenceTable.from_arrays``
    then ``apply_to_table``."""
    table = OccurrenceTable.from_arrays(year, occurrence_id, policy, loss, years)
    return apply_to_table(table, programme, sum_insured=sum_insured, keep_occurrences=keep_occurrences,
                          threads=threads)


def apply_programme(result, programme: Programme, *, keep_occurrences: bool = False,
                    threads: int | None = None, groups=None, backend: str = "local", client=None,
                    executor=None, progress=None) -> ProgrammeResult:
    """Apply ``programme`` to every occurrence of a simulated book (``techins.simulate(portfolio)``),
    streaming the occurrence table one chunk of years at a time (each chunk is drawn again from its
    own seed stream: the same occurrences as the run).

    The occurrences are the policies' losses after their occurrence terms and after their annual
    aggregate terms (and their contracts'), cut pro rata within the policy's year as the simulation
    cuts them (``techins.simulation.occurrences.cut_by_annual_terms``): the programme's gross in a year
    is the book's annual loss. With a copula between lines the occurrences are where its reorder put
    them (``techins.simulation.occurrences.occurrence_arrays``): annual treaties see its dependence
    exactly, and the occurrence XL sees each margin's part of a common-shock event as one occurrence.
    The surplus treaty reads each policy's ``sum_insured``. ``groups`` (one
    integer code per policy of the book) adds each group's gross and net per year
    (``ProgrammeResult.group_net``). ``backend``, ``client``, ``threads`` or ``executor``: where the
    chunks run (as ``techins.simulate``); the same numbers on every executor. ``progress``:
    ``progress(chunks_done, chunks_total)`` after ``progress.phase("treaties")`` when it has that
    method (``techins.progress``).
    """
    from techins.results.simulation import BookResult

    if not isinstance(result, BookResult):
        raise InputTypeError(f"apply_programme: expected the BookResult of a simulated book, got {type(result).__name__}")
    if not isinstance(programme, Programme):
        raise InputTypeError(f"apply_programme: programme must be a Programme, got {type(programme).__name__}")
    years, n_t = result.years, len(programme.treaties)
    codes = None if groups is None else group_codes("apply_programme", groups, result.portfolio.n_policies)
    n_groups = 0 if codes is None else int(codes.max(initial=-1)) + 1
    gross, net = np.zeros(years), np.zeros(years)
    ceded, factor = np.zeros((years, n_t)), np.zeros((years, n_t))
    group_gross, group_net = np.zeros((n_groups, years)), np.zeros((n_groups, years))
    tables = []
    plan = BookPlan(result.portfolio, years, result.seed, result.thin)
    job = ProgrammeJob(plan, programme, result.portfolio.arrays["sum_insured"], codes, n_groups, keep_occurrences)
    with open_executor("apply_programme", backend, client, threads, executor=executor) as run:
        announce(progress, "treaties")
        for parts in run.map(job, np.arange(plan.n_chunks, dtype=np.int64), progress):
            for part in parts:
                lo, hi = part.first, part.first + part.gross.size
                # each chunk's years are its own: added into zeros, as every year is written once
                gross[lo:hi] += part.gross
                net[lo:hi] += part.net
                ceded[lo:hi] += part.ceded
                factor[lo:hi] += part.reinstatement_factor
                if codes is not None:
                    group_gross[:, lo:hi] += part.group_gross
                    group_net[:, lo:hi] += part.group_net
                if keep_occurrences:
                    tables.append(part.occurrences)
    return ProgrammeResult(programme=programme, gross=gross, net=net, ceded=ceded, reinstatement_factor=factor,
                           occurrences=pd.concat(tables, ignore_index=True) if keep_occurrences else None,
                           group_gross=group_gross if codes is not None else None,
                           group_net=group_net if codes is not None else None)


@dataclass(frozen=True, eq=False)
class ProgrammeChunk:
    """One chunk of ``apply_programme``: its years' results from year ``first`` on."""

    first: int
    gross: np.ndarray
    net: np.ndarray
    ceded: np.ndarray
    reinstatement_factor: np.ndarray
    group_gross: np.ndarray | None
    group_net: np.ndarray | None
    occurrences: pd.DataFrame | None


class ProgrammeJob:
    """A chunk job (``techins.simulation.jobs``): the programme over chunks of a book's occurrences,
    drawn again from their own streams."""

    wave = 1

    def __init__(self, plan, programme: Programme, sum_insured: np.ndarray, codes, n_groups: int,
                 keep_occurrences: bool):
        self.plan, self.programme, self.sum_insured = plan, programme, sum_insured
        self.codes, self.n_groups, self.keep_occurrences = codes, n_groups, keep_occurrences

    def __call__(self, ids) -> list:
        return [self._chunk(int(chunk)) for chunk in ids]

    def _chunk(self, chunk: int) -> ProgrammeChunk:
        plan = self.plan
        first, stop = plan.chunk_bounds(chunk)
        span = stop - first
        year, occurrence_id, policy, loss = chunk_occurrences(plan, chunk, after_aggregates=True)
        # the chunk's own years, from 0: every treaty works year by year
        table = OccurrenceTable.from_arrays(year - first, occurrence_id, policy, loss, span)
        part, row_net = _run_programme(table, self.programme, _sum_insured(self.programme, table.policy,
                                                                           self.sum_insured),
                                       self.keep_occurrences, None)
        group_gross = group_net = None
        if self.codes is not None:
            group_gross, group_net = np.zeros((self.n_groups, span)), np.zeros((self.n_groups, span))
            add_by_group_and_year((group_gross, group_net), self.codes[table.policy], table.row_year,
                                  (table.loss, row_net))
        occurrences = part.occurrences
        if occurrences is not None:
            occurrences["year"] += first
        return ProgrammeChunk(first, part.gross, part.net, part.ceded, part.reinstatement_factor, group_gross,
                              group_net, occurrences)

    def fresh(self) -> "ProgrammeJob":
        return ProgrammeJob(self.plan.fresh(), self.programme, self.sum_insured, self.codes, self.n_groups,
                            self.keep_occurrences)


@dataclass(frozen=True, eq=False)
class TreatyAccounts:
    """Money between the cedent and each treaty, per simulated year (``treaty_accounts``).

    Attributes
    ----------
    treaties : tuple of str
    basis : tuple of str
        How each treaty's premium was set: ``"ceded share"`` (a proportional treaty's share of the
        premium), ``"given"`` (the treaty's ``premium``), ``"rate on line"`` or ``"technical"`` (no
        premium given: the simulated technical price, Sundt's for an occurrence XL).
    premium, commission : numpy.ndarray
        ``[treaties]``: the fixed premium a year (ceded premium, deposit) and the ceding commission
        the reinsurer pays back.
    reinstatement_premium, ceded : numpy.ndarray
        ``[years, treaties]``.
    group_weight : numpy.ndarray or None
        ``[groups, treaties]``: each group's part of each treaty's premium (by the premium it cedes).
    """

    treaties: tuple
    basis: tuple
    premium: np.ndarray
    commission: np.ndarray
    reinstatement_premium: np.ndarray
    ceded: np.ndarray
    group_weight: np.ndarray | None = None

    @property
    def paid(self) -> np.ndarray:
        """``[years, treaties]``: premium less commission plus the year's reinstatement premium."""
        return (self.premium - self.commission)[None, :] + self.reinstatement_premium

    @property
    def reinsurer_result(self) -> np.ndarray:
        """``[years, treaties]``: what each treaty's reinsurers keep: paid less ceded."""
        return self.paid - self.ceded

    def paid_by_group(self) -> np.ndarray:
        """``[groups, years]``: the reinsurance premium each group pays each year."""
        if self.group_weight is None:
            raise InputError("paid_by_group: the accounts were made without groups")
        return self.group_weight @ self.paid.T

    def table(self) -> pd.DataFrame:
        """Per treaty: premium, commission, expected reinstatement premium, expected ceded loss and the
        reinsurers' expected result, each expectation with its standard error."""
        n = self.ceded.shape[0]
        result = self.reinsurer_result
        rows = []
        for t, name in enumerate(self.treaties):
            rows.append({"treaty": name, "premium_basis": self.basis[t], "premium": float(self.premium[t]),
                         "commission": float(self.commission[t]),
                         "expected_reinstatement_premium": float(self.reinstatement_premium[:, t].mean()),
                         "expected_ceded": float(self.ceded[:, t].mean()),
                         "expected_ceded_stderr": _stderr(self.ceded[:, t]),
                         "expected_reinsurer_result": float(result[:, t].mean()),
                         "expected_reinsurer_result_stderr": _stderr(result[:, t]),
                         "prob_reinsurer_loss": float(np.mean(result[:, t] < 0.0)) if n else math.nan})
        return pd.DataFrame(rows)


def treaty_accounts(result: ProgrammeResult, subject_premium, *, sum_insured=None, load: float = 0.0,
                    groups=None) -> TreatyAccounts:
    """The premium each treaty of a programme costs the cedent, year by year.

    Parameters
    ----------
    result : ProgrammeResult
        The programme over simulated years (its ceded losses and reinstatement factors).
    subject_premium : array_like
        The cedent's gross premium of each policy (row) of the book.
    sum_insured : array_like, optional
        Each policy's sum insured (needed by a surplus treaty).
    load : float
        For a treaty without a premium: the technical price ``E[ceded] + load * sd`` (Sundt's
        ``(E[ceded] + load sd) / (1 + E[reinstatement factor])`` for an occurrence XL).
    groups : array_like of int, optional
        A group code per policy (e.g. its line): each group's part of each premium is returned.

    Notes
    -----
    Proportional treaties in inuring order cede their share of the premium still held (a quota
    share ``q`` of it, a surplus each policy's ceded fraction ``min(n R, (SI - R)^+) / SI``) and get
    back their ceding commission; an occurrence XL costs its deposit premium plus, each year,
    deposit x reinstatement factor; other non-proportional treaties their premium. A
    non-proportional premium is shared among groups by the premium they still hold.
    """

    owner = "treaty_accounts"
    if not isinstance(result, ProgrammeResult):
        raise InputTypeError(f"{owner}: expected a ProgrammeResult, got {type(result).__name__}")
    held = validate.real_array(owner, "subject_premium", subject_premium, low=0.0).copy()
    load = validate.real(owner, "load", load, low=0.0)
    group_of = None if groups is None else group_codes(owner, groups, held.size)
    n_groups = 0 if group_of is None else int(group_of.max(initial=-1)) + 1
    treaties = result.programme.treaties
    n_t, years = len(treaties), result.years
    premium, commission = np.zeros(n_t), np.zeros(n_t)
    reinstatement = np.zeros((years, n_t))
    weight = np.zeros((n_groups, n_t))
    basis = []
    for t, treaty in enumerate(treaties):
        x = result.ceded[:, t]
        sd = float(np.std(x, ddof=1)) if years > 1 else 0.0
        if isinstance(treaty, (QuotaShare, Surplus)):
            if isinstance(treaty, QuotaShare):
                fraction = np.full(held.size, treaty.cession)
            else:
                insured = _sum_insured(result.programme, np.arange(held.size), sum_insured)
                fraction = np.empty(held.size)
                kernels.surplus_shares(np.ascontiguousarray(insured, dtype=np.float64), float(treaty.retention),
                                       float(treaty.lines), fraction)
            ceded_premium = fraction * held
            held = held - ceded_premium
            premium[t] = ceded_premium.sum()
            commission[t] = getattr(treaty, "ceding_commission", 0.0) * premium[t]
            basis.append("ceded share")
            by_group = ceded_premium
        else:
            if isinstance(treaty, OccurrenceXL):
                factor = result.reinstatement_factor[:, t]
                deposit = treaty.deposit_premium
                basis.append("given" if treaty.premium is not None else
                             "rate on line" if treaty.rate_on_line is not None else "technical")
                if deposit is None:
                    deposit = (x.mean() + load * sd) / (1.0 + factor.mean())
                premium[t] = deposit
                reinstatement[:, t] = deposit * factor
            else:
                basis.append("given" if treaty.premium is not None else "technical")
                premium[t] = treaty.premium if treaty.premium is not None else x.mean() + load * sd
            by_group = held
        if group_of is not None:
            total = by_group.sum()
            weight[:, t] = np.bincount(group_of, weights=by_group, minlength=n_groups) / total if total > 0 else 0.0
    return TreatyAccounts(treaties=tuple(t.name for t in treaties), basis=tuple(basis), premium=premium,
                          commission=commission, reinstatement_premium=reinstatement, ceded=result.ceded.copy(),
                          group_weight=weight if group_of is not None else None)


def _stderr(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan


def sundt_premium(expected_layer_bands, limit: float, reinstatements) -> float:
    """Sundt's pure premium of a layer with reinstatements: ``E[min(S_L, (K + 1) L)] / (1 + sum_k c_k
    E[L_(k-1)] / L)`` from ``expected_layer_bands[k] = E[min(max(S_L - k L, 0), L)]``, k = 0..K (for a
    single line these come from ``techins.exact.aggregate`` with aggregate layers; see docs/treaties.md)."""
    bands = validate.real_array("sundt_premium", "expected_layer_bands", expected_layer_bands, low=0.0)
    rates = [validate.real("sundt_premium", f"reinstatements[{k}]", c, low=0.0) for k, c in enumerate(reinstatements)]
    if bands.size != len(rates) + 1:
        raise InputError(f"sundt_premium: give K + 1 = {len(rates) + 1} bands for {len(rates)} reinstatements, "
                         f"got {bands.size}")
    limit = validate.real("sundt_premium", "limit", limit, low=0.0, low_open=True)
    return float(bands.sum() / (1.0 + sum(c * b for c, b in zip(rates, bands[:-1])) / limit))


def exact_treaty(line, treaty) -> dict:
    """A treaty on a single line without sampling error: an occurrence XL's expected ceded loss and
    Sundt premium from the bands ``E[min(max(S_L - kL, 0), L)]`` of the exact (FFT) aggregate law of
    the layered line; an aggregate XL's expected ceded loss from the exact law of the line's total.

    Parameters
    ----------
    line : techins.Line
        Without occurrence or aggregate terms of its own (the treaty brings them).
    treaty : OccurrenceXL or AggregateXL
    """
    from techins.exact.aggregate import exact
    from techins.model.line import Layer, Line

    if not isinstance(line, Line):
        raise InputTypeError(f"exact_treaty: line must be a techins.Line, got {type(line).__name__}")
    if not (line.occurrence_layer.is_ground_up and line.aggregate_layer.is_ground_up):
        raise InputError("exact_treaty: give the line ground up; the treaty brings the layer")
    if isinstance(treaty, OccurrenceXL):
        layer = Layer(limit=treaty.limit, deductible=treaty.retention)
        bands = [exact(Line(line.frequency, line.severity, occurrence=layer,
                            aggregate=Layer(limit=treaty.limit, deductible=k * treaty.limit))).mean()
                 for k in range(len(treaty.reinstatements) + 1)]
        premium = sundt_premium(bands, treaty.limit, treaty.reinstatements)
        return {"treaty": treaty.name, "expected_ceded": float(sum(bands)), "bands": [float(b) for b in bands],
                "sundt_premium": premium, "rate_on_line": premium / treaty.limit}
    if isinstance(treaty, AggregateXL):
        ceded = exact(Line(line.frequency, line.severity,
                           aggregate=Layer(limit=treaty.limit, deductible=treaty.attachment))).mean()
        return {"treaty": treaty.name, "expected_ceded": float(ceded)}
    raise InputTypeError(f"exact_treaty: the exact path prices an OccurrenceXL or an AggregateXL, got "
                         f"{type(treaty).__name__}")


def burning_cost(year, occurrence_id, loss, programme: Programme, *, policy=None, sum_insured=None,
                 trend: float = 0.0, to_year: int | None = None) -> pd.DataFrame:
    """Burning cost of each treaty over a history of losses (as-if: the programme applied to every
    past year): the mean ceded loss a year, its standard error, and as a rate of the treaty's limit.

    Parameters
    ----------
    year : array_like of int
        The calendar (or period) year of each loss.
    occurrence_id, loss : array_like
        The loss history, one row per policy and occurrence.
    programme : Programme
    policy, sum_insured : array_like, optional
        Needed by a surplus treaty.
    trend : float
        Annual claims inflation: each loss is brought to ``to_year`` with ``(1 + trend) ** (to_year -
        year)`` before the programme applies.
    to_year : int, optional
        Default the last year of the history.
    """
    year = np.asarray(year, dtype=np.int64)
    if year.size == 0:
        raise InputError("burning_cost: the history has no losses")
    first, last = int(year.min()), int(year.max())
    to_year = last if to_year is None else validate.integer("burning_cost", "to_year", to_year)
    trend = validate.real("burning_cost", "trend", trend, low=-1.0, low_open=True)
    loss = validate.real_array("burning_cost", "loss", loss, low=0.0) * (1.0 + trend) ** (to_year - year)
    policy = np.zeros(year.size, dtype=np.int64) if policy is None else policy
    applied = apply_to_occurrences(year - first, occurrence_id, policy, loss, last - first + 1, programme,
                                   sum_insured=sum_insured)
    n = applied.years
    rows = []
    for t, treaty in enumerate(programme.treaties):
        x = applied.ceded[:, t]
        limit = getattr(treaty, "limit", math.nan)
        rows.append({"treaty": treaty.name, "years": n, "burning_cost": float(x.mean()),
                     "stderr": float(np.std(x, ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
                     "burning_cost_rate_on_line": float(x.mean() / limit) if math.isfinite(limit) else math.nan})
    return pd.DataFrame(rows)


def _sum_insured(programme: Programme, policy: np.ndarray, sum_insured) -> np.ndarray:
    needs = any(isinstance(t, Surplus) for t in programme.treaties)
    if sum_insured is None:
        if needs:
            raise InputError("apply_to_occurrences: a surplus treaty needs sum_insured, one per policy")
        return np.zeros(1)  # read by the surplus treaty only
    size = int(policy.max()) + 1 if policy.size else 0
    insured = np.asarray(sum_insured, dtype=np.float64)
    if insured.ndim != 1 or insured.size < size:
        raise InputError(f"apply_to_occurrences: sum_insured must hold one value per policy (at least {size})")
    if needs:
        bad = ~(np.isfinite(insured[policy]) & (insured[policy] > 0.0))
        if bad.any():
            p = int(policy[np.argmax(bad)])
            raise InputError(f"a surplus treaty needs a sum insured > 0 on every policy with a loss; policy row {p + 1} "
                             f"has {float(insured[p])!r}")
    return np.nan_to_num(insured, nan=0.0)


def _mix(ids: np.ndarray) -> np.ndarray:
    """SplitMix64 of the ids: a fixed pseudo-random order of a year's occurrences."""
    with np.errstate(over="ignore"):
        z = ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _type_name(treaty) -> str:
    return next(name for name, cls in TREATY_TYPES.items() if isinstance(treaty, cls))
