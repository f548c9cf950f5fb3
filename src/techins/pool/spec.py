"""A co-insurance pool (共保体): its file (``read_pool`` -> ``PoolSpec`` with its ``PoolMember``s and
``PoolBook``) and the money through it (``member_flows``: each member's premium, fees, loss and result
per year).

How the pool's capital and diversification benefit are shared among the members (standalone,
proportional, Euler / co-TVaR, Shapley) is ``techins.pricing.allocation``, the rules pricing uses for
policies; ``techins.pool.run.run_pool`` runs a pool end to end. See ``docs/pool.md``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from techins import validate
from techins.errors import InputError, InputTypeError
from techins.frozen import FrozenMap
from techins.io.toml import (
    Where,
    array_of_tables,
    load_toml,
    only_keys,
    placed,
    require_keys,
    spec_from_table,
    sub_table,
    table,
)
from techins.model.dependence import Dependence, GammaFrailty, dependence_from_mapping, read_dependence
from techins.reinsurance.compensation import RiskCompensation, read_compensation, scheme_from_table

__all__ = ["PoolMember", "PoolBook", "PoolSpec", "PoolFlows", "read_pool", "pool_from_mapping", "member_flows", "ROLES"]

ROLES = ("member", "lead", "fronting")
_SHARE_TOLERANCE = 1e-9


# ---------------------------------------------------------------------------------------- the pool
@dataclass(frozen=True)
class PoolMember:
    """A member of the pool: its signed share of each line it writes, its role and its fee.

    Parameters
    ----------
    name : str
    shares : mapping of str to float
        Signed line (share of the pool's business) by line, each in [0, 1].
    role : {"member", "lead", "fronting"}
        The lead sets terms and handles claims; the fronting insurer issues the policies.
    fee : float
        Lead or fronting fee, a share of the gross premium in [0, 1); 0 for a plain member.
    book : str, optional
        The policies (CSV or Parquet) the member brings to the pool, when members contribute books.
    """

    name: str
    shares: dict
    role: str = "member"
    fee: float = 0.0
    book: str | None = None

    def __post_init__(self):
        owner = f"member {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise InputTypeError(f"member name must be a non-empty text, got {self.name!r}")
        if self.role not in ROLES:
            raise InputError(f"{owner}: role must be one of {ROLES}, got {self.role!r}")
        object.__setattr__(self, "fee", validate.real(owner, "fee", self.fee, low=0.0, high=1.0, high_open=True))
        if self.fee > 0.0 and self.role == "member":
            raise InputError(f"{owner}: a fee of {self.fee!r} is for the lead or the fronting insurer; give the role")
        shares = {str(line): validate.real(owner, f"share[{line!r}]", v, low=0.0, high=1.0)
                  for line, v in dict(self.shares).items()}
        object.__setattr__(self, "shares", FrozenMap(shares))
        if self.book is not None and (not isinstance(self.book, str) or not self.book.strip()):
            raise InputTypeError(f"{owner}: book must be the path of a policies file, got {self.book!r}")


@dataclass(frozen=True)
class PoolBook:
    """What the pool writes and how it is run: the ``[book]`` table of the pool file.

    Parameters
    ----------
    products : str
        The product catalogue (a folder of product files, or one file).
    portfolio : str, optional
        The policies the pool writes as one portfolio; members may bring books instead or as well
        (``PoolMember.book``).
    programme : str, optional
        The reinsurance programme (TOML) the pool buys on its gross.
    premium_column : str, optional
        A column of the policies holding each policy's written premium; without it the premium is
        the catalogue's charged premium (``techins price``).
    reinsurance_load : float
        For a treaty without a premium: its technical price ``E[ceded] + load sd``.
    years, seed : int
        The simulation.
    level : float
        The TVaR level of capital.
    cost_of_capital : float
        The hurdle a member's return on allocated capital is compared with.
    """

    products: str
    portfolio: str | None = None
    programme: str | None = None
    premium_column: str | None = None
    reinsurance_load: float = 0.0
    years: int = 100_000
    seed: int = 1
    level: float = 0.99
    cost_of_capital: float = 0.10

    def __post_init__(self):
        owner = "[book]"
        for key in ("products", "portfolio", "programme", "premium_column"):
            value = getattr(self, key)
            if (value is not None or key == "products") and (not isinstance(value, str) or not value.strip()):
                raise InputTypeError(f"{owner}: {key} must be a text (a path or a column name), got {value!r}")
        validate.set_real(self, owner, "reinsurance_load", low=0.0)
        object.__setattr__(self, "years", validate.integer(owner, "years", self.years, low=2))
        object.__setattr__(self, "seed", validate.integer(owner, "seed", self.seed, low=0))
        validate.set_real(self, owner, "level", low=0.0, low_open=True, high=1.0, high_open=True)
        validate.set_real(self, owner, "cost_of_capital", low=0.0, high=1.0)


@dataclass(frozen=True)
class PoolSpec:
    """A co-insurance pool: the lines it writes, its members and their shares (several, not joint,
    liability: each member answers for its share only), fees and expenses.

    Each line's signed shares must add up to 1, or to ``1 - unplaced[line]`` when part of the line is
    declared unplaced (kept by no member). See ``docs/pool.md``.
    """

    name: str
    lines: tuple
    members: tuple
    admin_expense: float = 0.0
    unplaced: dict = None
    book: PoolBook | None = None
    compensation: RiskCompensation | None = None
    dependence: tuple = ()

    def __post_init__(self):
        owner = f"pool {self.name!r}"
        dependence = (self.dependence,) if isinstance(self.dependence, (Dependence, GammaFrailty)) else self.dependence
        if not isinstance(dependence, (tuple, list)) or not all(isinstance(d, (Dependence, GammaFrailty))
                                                                for d in dependence):
            raise InputTypeError(f"{owner}: dependence must be a Dependence, a GammaFrailty or a list of them, got "
                                 f"{self.dependence!r}")
        object.__setattr__(self, "dependence", tuple(dependence))
        if self.compensation is not None and not isinstance(self.compensation, RiskCompensation):
            raise InputTypeError(f"{owner}: compensation must be a RiskCompensation, got "
                                 f"{type(self.compensation).__name__}")
        if self.book is not None and not isinstance(self.book, PoolBook):
            raise InputTypeError(f"{owner}: book must be a PoolBook, got {type(self.book).__name__}")
        lines = tuple(str(line) for line in self.lines)
        if not lines or len(set(lines)) != len(lines):
            raise InputError(f"{owner}: lines must be a non-empty list of distinct line names, got {list(self.lines)}")
        object.__setattr__(self, "lines", lines)
        members = tuple(self.members)
        if not members:
            raise InputError(f"{owner}: a pool needs members")
        twice = validate.first_duplicate(m.name for m in members)
        if twice is not None:
            raise InputError(f"{owner}: member {twice!r} appears twice")
        for role in ("lead", "fronting"):
            holders = [m.name for m in members if m.role == role]
            if len(holders) > 1:
                raise InputError(f"{owner}: one {role} at most, got {holders}")
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "admin_expense", validate.real(owner, "admin_expense", self.admin_expense, low=0.0,
                                                                 high=1.0, high_open=True))
        unplaced = {} if self.unplaced is None else dict(self.unplaced)
        for line, value in unplaced.items():
            if line not in lines:
                raise InputError(f"{owner}: unplaced names line {line!r}, which the pool does not write; lines are "
                                 f"{list(lines)}")
            unplaced[line] = validate.real(owner, f"unplaced[{line!r}]", value, low=0.0, high=1.0, high_open=True)
        object.__setattr__(self, "unplaced", FrozenMap(unplaced))
        for m in members:
            for line in m.shares:
                if line not in lines:
                    raise InputError(f"{owner}: member {m.name!r} has a share of line {line!r}, which the pool does "
                                     f"not write; lines are {list(lines)}")
        if self.compensation is not None:
            outside = [line for line in self.compensation.lines if line not in lines]
            if outside:
                raise InputError(f"{owner}: the compensation scheme covers line {outside[0]!r}, which the pool does "
                                 f"not write; lines are {list(lines)}")
        fees = sum(m.fee for m in members) + self.admin_expense
        if fees >= 1.0:
            raise InputError(f"{owner}: fees and admin expenses take {fees!r} of the premium; they must be below 1")
        for line in lines:
            total = sum(m.shares.get(line, 0.0) for m in members)
            placed = 1.0 - unplaced.get(line, 0.0)
            if abs(total - placed) > _SHARE_TOLERANCE:
                hint = "" if line in unplaced else " (declare the rest under unplaced if it is left open)"
                raise InputError(f"{owner}: the shares of line {line!r} add up to {total!r}, not {placed!r}{hint}")

    @property
    def contributors(self) -> tuple:
        """The members who bring a book, in member order."""
        return tuple(m.name for m in self.members if m.book is not None)

    def share_matrix(self) -> np.ndarray:
        """``[members, lines]``: each member's signed share of each line."""
        return np.array([[m.shares.get(line, 0.0) for line in self.lines] for m in self.members])


@dataclass(frozen=True, eq=False)
class PoolFlows:
    """Money through the pool, per member and simulated year (``member_flows``).

    Attributes
    ----------
    members : tuple of str
        The members, then ``"unplaced"`` (the part of the lines no member holds).
    premium : numpy.ndarray
        ``[members + 1, years]``: each member's premium after fees, expenses and the year's
        reinsurance premium (reinstatement premiums make it vary by year).
    fee_income : numpy.ndarray
        ``[members + 1]``: lead and fronting fees received.
    loss : numpy.ndarray
        ``[members + 1, years]``: each member's share of the pool's net loss.
    result : numpy.ndarray
        ``premium + fee_income - loss``.
    fees, admin_expense : float
        Fees paid and administration expenses (money a year).
    reinsurance_premium : numpy.ndarray
        Per year, net of ceding commission.
    compensation : numpy.ndarray or None
        ``[members + 1, years]``: what a public risk-compensation fund pays each member (already taken
        off ``loss``); None without a scheme.
    """

    members: tuple
    premium: np.ndarray
    fee_income: np.ndarray
    loss: np.ndarray
    result: np.ndarray
    fees: float
    admin_expense: float
    reinsurance_premium: np.ndarray
    compensation: np.ndarray | None = None

    def compensated(self, fund: np.ndarray) -> "PoolFlows":
        """These flows with ``fund`` (``[members + 1, years]``) paid to the members: their losses less it."""
        return dataclasses.replace(self, loss=self.loss - fund, result=self.result + fund, compensation=fund)


def member_flows(spec: PoolSpec, premium_by_line, gross_by_line, ceded=None, reinsurance_premium=None) -> PoolFlows:
    """Split a pool's premium and losses among its members, year by year.

    Parameters
    ----------
    spec : PoolSpec
    premium_by_line : array_like
        Gross premium of each line of ``spec.lines`` (money a year).
    gross_by_line : array_like
        ``[lines, years]``: the pool's gross loss of each line in each year.
    ceded : array_like, optional
        What the pool's reinsurance programme recovers (0 without one): ``[lines, years]`` by line,
        or per year only, then shared back to the lines in proportion to their gross loss that year.
    reinsurance_premium : array_like, optional
        The reinsurance premium net of ceding commission (deposit plus reinstatement premiums):
        ``[lines, years]`` by line, or per year only, then shared over the lines by their premium.

    Notes
    -----
    Per line ``l``: the premium left to share is ``P_l (1 - sum of fees - admin) - R_l,y`` and the
    net loss ``G_l,y - C_l,y``, each year; member i receives ``share_il`` of both (several
    liability), the unplaced part the rest. Money reconciles each year: ``P = sum_i premium_i + fees
    + admin + R_y`` and ``G_y = sum_i loss_i + C_y``.
    """
    owner = "member_flows"
    prem = validate.real_array(owner, "premium_by_line", premium_by_line, low=0.0)
    gross = np.asarray(gross_by_line, dtype=np.float64)
    n_lines = len(spec.lines)
    if prem.size != n_lines or gross.ndim != 2 or gross.shape[0] != n_lines:
        raise InputError(f"{owner}: give one premium and one row of annual losses per line {list(spec.lines)}")
    if not np.isfinite(gross).all() or (gross < 0).any():
        raise InputError(f"{owner}: gross_by_line must be finite and >= 0")
    years = gross.shape[1]
    total_gross = gross.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        loss_share = np.where(total_gross > 0, gross / total_gross, 0.0)
    total_premium = float(prem.sum())
    premium_weight = prem / total_premium if total_premium > 0 else np.zeros(n_lines)
    ceded = _by_line(owner, "ceded", ceded, n_lines, years, loss_share, low=0.0)
    rp = _by_line(owner, "reinsurance_premium", reinsurance_premium, n_lines, years, premium_weight[:, None])
    if (ceded > gross * (1 + 1e-12) + 1e-9).any():
        raise InputError(f"{owner}: the reinsurance recovers more than the gross loss of a line in some year")
    fee_rate = sum(m.fee for m in spec.members)
    net_loss = gross - ceded
    net_premium = (prem * (1.0 - fee_rate - spec.admin_expense))[:, None] - rp
    shares = spec.share_matrix()
    unplaced = 1.0 - shares.sum(axis=0)
    shares = np.vstack([shares, unplaced])
    fee_income = np.array([m.fee * total_premium for m in spec.members] + [0.0])
    premium = shares @ net_premium
    loss = shares @ net_loss
    return PoolFlows(members=tuple(m.name for m in spec.members) + ("unplaced",), premium=premium,
                     fee_income=fee_income, loss=loss, result=premium + fee_income[:, None] - loss,
                     fees=fee_rate * total_premium, admin_expense=spec.admin_expense * total_premium,
                     reinsurance_premium=rp.sum(axis=0))


def _by_line(owner: str, name: str, values, n_lines: int, years: int, weight, low: float = -math.inf) -> np.ndarray:
    """``[lines, years]`` from a per-line table, or from one value per year shared by ``weight``."""
    if values is None:
        return np.zeros((n_lines, years))
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 2:
        if arr.shape != (n_lines, years):
            raise InputError(f"{owner}: {name} by line must have shape {(n_lines, years)}, got {arr.shape}")
        if not np.isfinite(arr).all() or (arr < low).any():
            raise InputError(f"{owner}: {name} must be finite" + (f" and >= {low}" if low > -math.inf else ""))
        return arr
    per_year = validate.real_array(owner, name, arr, low=low)
    if per_year.size != years:
        raise InputError(f"{owner}: {name} needs one value per year ({years})")
    return weight * per_year[None, :]


def read_pool(path) -> PoolSpec:
    """Read a pool TOML file (``docs/pool.md``); errors name the file, the member and the field.
    Paths inside the file (products, portfolio, programme, members' books) are relative to it."""
    return pool_from_mapping(load_toml(path), str(path), base=Path(path).parent)


_POOL_KEYS = ("name", "description", "lines", "admin_expense", "unplaced", "book", "member", "compensation",
              "dependence")
_MEMBER_KEYS = ("name", "share", "role", "fee", "book")
_BOOK_PATHS = ("products", "portfolio", "programme")


def pool_from_mapping(data: dict, source: str = "pool", base=None) -> PoolSpec:
    """Build a ``PoolSpec`` from a mapping shaped like the pool file: ``name``, ``lines``,
    ``admin_expense``, ``unplaced``, an optional ``[book]`` table (``PoolBook``'s fields) and
    ``[[member]]`` tables (``name``, ``share`` (a number for every line, or a table by line), ``role``,
    ``fee``, ``book``). Relative paths are taken from ``base`` when given."""

    def resolve(value):
        return str(Path(base) / value) if base is not None and isinstance(value, str) else value

    top = Where(source)
    data = table(data, top)
    only_keys(data, _POOL_KEYS, top)
    require_keys(data, ("lines",), top, hint="the lines the pool writes")
    lines = data["lines"]
    if not isinstance(lines, list):
        raise InputTypeError(top.message(f"lines must be a list of line names, got {lines!r}"))
    members = [_member(t, top.item("member", i, t.get("name")), lines, resolve)
               for i, t in enumerate(array_of_tables(data, "member", top, required=True, hint="one per member"))]
    book = None
    if "book" in data:
        where = top.sub("book")
        book_table = sub_table(data, "book", top)
        require_keys(book_table, ("products",), where, hint="the product catalogue folder")
        book = spec_from_table(PoolBook, {k: resolve(v) if k in _BOOK_PATHS else v for k, v in book_table.items()},
                               where)
        if book.portfolio is None and not any(m.book for m in members):
            raise InputError(top.message("[book] has no portfolio and no member brings a book; give book.portfolio "
                                         "or a book for the members who bring policies"))
    compensation = _compensation(data.get("compensation"), top, resolve)
    dependence = _dependence(data.get("dependence"), top, resolve)
    with placed(top):
        return PoolSpec(name=str(data.get("name", "pool")), lines=tuple(lines), members=tuple(members),
                        admin_expense=data.get("admin_expense", 0.0), unplaced=data.get("unplaced"), book=book,
                        compensation=compensation, dependence=dependence)


def _dependence(value, top: Where, resolve) -> tuple:
    """The dependence between the pool's lines: a ``[dependence]`` table holding ``[dependence.copula]``
    and ``[[dependence.frailty]]``, or the path of a dependence file (``dependence = "lines.toml"``,
    relative to the pool file; ``techins.model.dependence.read_dependence``)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return read_dependence(resolve(value))
    return dependence_from_mapping(table(value, top.sub("dependence")), top.source, within="dependence")


def _compensation(value, top: Where, resolve) -> RiskCompensation | None:
    """The pool's public risk-compensation scheme: a ``[compensation]`` table, or the path of a scheme
    file (``compensation = "fund.toml"``, relative to the pool file)."""
    if value is None:
        return None
    if isinstance(value, str):
        return read_compensation(resolve(value))
    return scheme_from_table(value, top.sub("compensation"))


def _member(value: dict, where: Where, lines: list, resolve) -> PoolMember:
    """One ``[[member]]`` table; a number for ``share`` is the member's share of every line."""
    spec = dict(value)
    only_keys(spec, _MEMBER_KEYS, where)
    require_keys(spec, ("name", "share"), where)
    share = spec.pop("share")
    shares = dict(share) if isinstance(share, dict) else {line: share for line in lines}
    if "book" in spec:
        spec["book"] = resolve(spec["book"])
    return spec_from_table(PoolMember, spec, where, shares=shares)
