"""A saved book: what quoting needs of a simulated, priced book, kept on disk so that an underwriting
process starts quoting without simulating again.

A snapshot holds

* the run: seed, years, whether claims were thinned, the code version and the catalogue's digest;
* the book's state a new policy is simulated against: its annual losses ``S_y``, each line's
  parameter-risk factor ``theta_y``, the years of every common-shock event (by scenario label) and,
  when the book has a copula, each margin's reorder of the years (a new policy of a margin moves with
  it);
* the book's own policies as priced (``techins price``'s policies table) and the coverage rows the
  simulator saw, so a policy already in the book is quoted at exactly its portfolio price.

On disk it is a folder: ``manifest.json`` (format, versions, digests, the run, the files with their
SHA-256), ``state.npz`` (the arrays) and ``policies.parquet`` / ``coverages.parquet`` (the tables).
``load_snapshot`` refuses a folder made by another code version, for another catalogue, or whose files
do not match the manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from techins.catalogue.products import Catalogue
from techins.catalogue.rating import PricedPortfolio
from techins.display import Figure, short_repr
from techins.errors import InputError, InputTypeError
from techins.frozen import FrozenMap
from techins.io.outputs import output_folder
from techins.io.schema import SNAPSHOT_COVERAGE_COLUMNS
from techins.kernels import book as book_kernels
from techins.results.simulation import BookResult
from techins.simulation.occurrences import copula_reorder
from techins.simulation.plan import BookPlan, chunk_states
from techins.version import VERSION

__all__ = ["BookEvents", "BookSnapshot", "book_events", "save_snapshot", "write_snapshot", "load_snapshot",
           "SNAPSHOT_FORMAT"]

SNAPSHOT_FORMAT = 1
MANIFEST = "manifest.json"
_FILES = ("state.npz", "policies.parquet", "coverages.parquet")


@dataclass(frozen=True, eq=False)
class BookEvents:
    """The book's random state a new policy shares: what makes a quote a marginal price.

    Attributes
    ----------
    seed, years : int
    thin : bool
        Whether the book drew only the claims above each policy's deductible.
    annual : numpy.ndarray
        The book's annual losses (read-only).
    line_names : tuple of str
    theta : numpy.ndarray
        ``[lines, years]``: each line's parameter-risk factor (ones for a line without).
    shock_years : mapping of str to numpy.ndarray
        For each common-shock label of the book, the year of each of its events (int64, read-only).
    margin_by : str or None
        With a copula: what makes a policy's margin, ``"line"`` or the policies column the copula joins
        by; None without one.
    margins : tuple of str
        The copula's margins (lines, or the column's values), in order.
    chunk_years : int
        The years of a chunk, within which the copula reorders (0 without a copula).
    margin_years, margin_values, margin_scores : numpy.ndarray
        ``[margins, years]`` (read-only), the copula's reorder
        (``techins.simulation.occurrences.copula_reorder``): the year each margin's year ``y`` moved
        to, each margin's annual loss in the years drawn, the copula sample its ranks followed.
    """

    seed: int
    years: int
    thin: bool
    annual: np.ndarray
    line_names: tuple
    theta: np.ndarray
    shock_years: FrozenMap
    margin_by: str | None = None
    margins: tuple = ()
    chunk_years: int = 0
    margin_years: np.ndarray | None = None
    margin_values: np.ndarray | None = None
    margin_scores: np.ndarray | None = None

    def line_theta(self, line: str) -> np.ndarray | None:
        """The factors of ``line``, or None when the book has no policy of it."""
        return self.theta[self.line_names.index(line)] if line in self.line_names else None

    def margin_of(self, portfolio, r: int) -> int:
        """The copula margin of row ``r`` of ``portfolio`` (a new policy's rows, validated as a book):
        by its line, or by its value of the column the copula joins by; -1 when it joins none (or the
        book has no copula)."""
        if self.margin_by is None:
            return -1
        if self.margin_by == "line":
            key = str(portfolio.arrays["line_names"][portfolio.arrays["line"][r]])
        elif self.margin_by in portfolio.policies.columns:
            key = str(portfolio.policies[self.margin_by].iloc[r])
        else:
            raise InputError(f"quote: the book's copula joins its policies by column {self.margin_by!r}; give the "
                             f"policy's {self.margin_by}")
        return self.margins.index(key) if key in self.margins else -1

    def with_policy(self, x: np.ndarray, margin: int) -> tuple[np.ndarray, np.ndarray]:
        """The book and a new policy of annual losses ``x`` (in the years drawn) as the simulation would
        have placed them with the policy in copula margin ``margin``: ``(book, policy)``, each over
        the book's years. The margin's annual losses with the policy's added are ranked again against
        the same copula sample in every chunk (``iman_conover``'s rule: the r-th smallest total takes
        the year of the r-th smallest score, ties in year order); the margin's losses move to their new
        years in the book (the other margins, drawn and ranked on their own, stay) and the policy
        moves with them. Without a copula, or for margin -1, ``(annual, x)``: the book as it is. A
        policy that does not change the margin's ranks leaves the book's losses bit for bit."""
        if margin < 0:
            return self.annual, x
        values, old_to = self.margin_values[margin], self.margin_years[margin]
        new_to = _ranked_years(values + x, self._score_years[margin], self.chunk_years)
        at_new, at_old = np.empty_like(values), np.empty_like(values)
        at_new[new_to] = values
        at_old[old_to] = values
        moved = np.empty_like(x)
        moved[new_to] = x
        return self.annual + (at_new - at_old), moved

    @cached_property
    def _score_years(self) -> np.ndarray:
        """Per margin, ``[chunks, chunk_years]``: each chunk's years in the order of their copula scores
        (the same for every quote, so sorted once)."""
        return np.stack([_chunk_order(scores, self.chunk_years) for scores in self.margin_scores])


def _chunk_order(values: np.ndarray, chunk_years: int) -> np.ndarray:
    """``[chunks, chunk_years]``: each chunk's years (from 0 in the chunk) by value, a stable sort (ties in
    year order), the last chunk padded with years whose values sort after every real one."""
    n_chunks = -(-values.size // chunk_years)
    padded = np.concatenate([values, np.full(n_chunks * chunk_years - values.size, np.inf)])
    return np.argsort(padded.reshape(n_chunks, chunk_years), axis=1, kind="stable")


def _ranked_years(values: np.ndarray, score_years: np.ndarray, chunk_years: int) -> np.ndarray:
    """Within each chunk of ``chunk_years`` years, the year each year's value goes to so that the values'
    ranks follow the scores' (``score_years``: ``_chunk_order`` of the scores; stable sorts of both, as
    ``techins.kernels.copula.iman_conover``), vectorised over the chunks."""
    n_chunks = score_years.shape[0]
    to = np.empty((n_chunks, chunk_years), dtype=np.int64)
    np.put_along_axis(to, _chunk_order(values, chunk_years), score_years, axis=1)
    to += np.arange(n_chunks, dtype=np.int64)[:, None] * chunk_years
    return to.reshape(-1)[:values.size]


def book_events(result: BookResult) -> BookEvents:
    """Replay the first draws of every chunk of ``result`` (its scenarios' events and its lines'
    factors) without simulating the book again."""
    if not isinstance(result, BookResult):
        raise InputTypeError(f"book_events: result must be a BookResult (simulate a Portfolio), got {result!r}")
    plan = BookPlan(result.portfolio, result.years, result.seed, result.thin)
    states = chunk_states(result.seed, result.years, chunk_years=result.chunk_years)
    theta, event_shock, event_year = book_kernels.book_events(states, result.chunk_years, result.years,
                                                              plan.book.groups, plan.book.shocks)
    shock_years = {shock.name: _read_only(event_year[event_shock == s].astype(np.int64))
                   for s, shock in enumerate(result.portfolio.shocks)}
    copula = result.portfolio.copula
    margins = {}
    if copula is not None and not copula.copula.is_independent:
        moved_to, values, scores = copula_reorder(result)
        margins = {"margin_by": "line" if copula.lines is not None else copula.column,
                   "margins": tuple(result.portfolio.copula_margins[1]), "chunk_years": int(result.chunk_years),
                   "margin_years": _read_only(moved_to), "margin_values": _read_only(values),
                   "margin_scores": _read_only(scores)}
    return BookEvents(seed=int(result.seed), years=int(result.years), thin=bool(result.thin),
                      annual=_read_only(np.array(result.annual, dtype=np.float64)),
                      line_names=tuple(result.portfolio.line_names), theta=_read_only(np.array(theta)),
                      shock_years=FrozenMap(shock_years), **margins)


@dataclass(frozen=True, eq=False)
class BookSnapshot:
    """A simulated and priced catalogue book, as quoting needs it (module notes).

    Attributes
    ----------
    events : BookEvents
    policies : pandas.DataFrame
        ``PricedPortfolio.policies``: every policy of the book as ``techins price`` priced it.
    coverages : pandas.DataFrame
        The book's coverage rows as the simulator saw them (``SNAPSHOT_COVERAGE_COLUMNS`` columns and one
        ``scenario:<id>`` column per scenario), with ``policy`` the row's index in ``policies``.
    catalogue_digest : str
        ``Catalogue.digest`` of the catalogue the book was priced with.
    code_version : str
        The techins version that simulated it.

    Examples
    --------
    >>> snapshot = BookSnapshot.from_priced(catalogue, priced)    # doctest: +SKIP
    >>> save_snapshot(snapshot, "out/book")                        # doctest: +SKIP
    >>> snapshot = load_snapshot("out/book", catalogue)            # doctest: +SKIP
    """

    events: BookEvents
    policies: pd.DataFrame
    coverages: pd.DataFrame
    catalogue_digest: str
    code_version: str = VERSION

    @classmethod
    def from_priced(cls, catalogue: Catalogue, priced: PricedPortfolio) -> BookSnapshot:
        """The snapshot of ``priced`` (``price_catalogue(catalogue, ...)``)."""
        if not isinstance(catalogue, Catalogue):
            raise InputTypeError(f"BookSnapshot: catalogue must be a Catalogue, got {type(catalogue).__name__}")
        if not isinstance(priced, PricedPortfolio):
            raise InputTypeError(f"BookSnapshot: priced must be a PricedPortfolio (price_catalogue), "
                                 f"got {type(priced).__name__}")
        book = priced.product_book
        if book.catalogue_digest and book.catalogue_digest != catalogue.digest:
            raise InputError("BookSnapshot: the book was priced with another catalogue (its digest differs); "
                             "give the catalogue it was priced with, or price the book again")
        missing = sorted(set(book.policies["product"].astype(str)) - set(catalogue.products))
        if missing:
            raise InputError(f"BookSnapshot: the book was priced with products {missing} that the catalogue "
                             f"does not have; give the catalogue it was priced with")
        coverages = coverage_rows(book.portfolio.policies)
        coverages.insert(0, "policy", book.row_policy)
        return cls(events=book_events(priced.result), policies=priced.policies.copy(), coverages=coverages,
                   catalogue_digest=catalogue.digest)

    @property
    def years(self) -> int:
        return self.events.years

    def __repr__(self) -> str:
        return short_repr("BookSnapshot", [
            Figure("policies", len(self.policies), kind="count"), Figure("years", self.years, kind="count"),
            Figure("seed", self.seed, kind="text"), Figure("catalogue", self.catalogue_digest[:12], kind="text"),
            Figure("techins", self.code_version, kind="text")])

    @property
    def seed(self) -> int:
        return self.events.seed

    def manifest(self) -> dict:
        """What ``manifest.json`` says of the snapshot (without the file digests)."""
        return {"format": SNAPSHOT_FORMAT, "code_version": self.code_version,
                "catalogue_digest": self.catalogue_digest, "seed": self.seed, "years": self.years,
                "thin": self.events.thin, "policies": int(len(self.policies)),
                "coverage_rows": int(len(self.coverages)), "lines": list(self.events.line_names),
                "scenarios": list(self.events.shock_years)} | (
            {} if self.events.margin_by is None
            else {"copula": {"margin_by": self.events.margin_by, "margins": list(self.events.margins),
                             "chunk_years": self.events.chunk_years}})


def coverage_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of a book's coverage table that decide its simulation (``SNAPSHOT_COVERAGE_COLUMNS`` and the
    scenario exposures), as plain columns (text as object)."""
    out = {}
    for column in SNAPSHOT_COVERAGE_COLUMNS:
        values = frame[column].to_numpy()
        out[column] = values.astype(object) if column in ("policy_id", "line", "severity", "contract_id") \
            else values.astype(np.float64)
    for column in frame.columns:
        if str(column).startswith("scenario:"):
            out[column] = frame[column].astype(str).to_numpy(dtype=object)
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------------------- disk
def save_snapshot(snapshot: BookSnapshot, out) -> Path:
    """Write ``snapshot`` to the folder ``out`` (made anew: written to a temporary folder, then
    renamed; a previous techins output there is replaced). Returns the folder."""
    if not isinstance(snapshot, BookSnapshot):
        raise InputTypeError(f"save_snapshot: give a BookSnapshot, got {type(snapshot).__name__}")
    out = Path(out)
    with output_folder(out) as tmp:
        write_snapshot(snapshot, tmp)
    return out


def write_snapshot(snapshot: BookSnapshot, folder: Path) -> dict:
    """Write the snapshot's files into ``folder`` (a fresh one, e.g. from ``output_folder``); return the
    manifest written."""
    folder = Path(folder)
    events = snapshot.events
    labels = list(events.shock_years)
    counts = np.array([events.shock_years[k].size for k in labels], dtype=np.int64)
    shock_year = np.concatenate([events.shock_years[k] for k in labels]) if labels else np.zeros(0, np.int64)
    with open(folder / "state.npz", "wb") as f:
        copula = {} if events.margin_by is None else {"margin_years": events.margin_years,
                                                      "margin_values": events.margin_values,
                                                      "margin_scores": events.margin_scores}
        np.savez(f, annual=events.annual, theta=events.theta, shock_year=shock_year, shock_count=counts, **copula)
    snapshot.policies.to_parquet(folder / "policies.parquet", index=False)
    snapshot.coverages.to_parquet(folder / "coverages.parquet", index=False)
    manifest = {**snapshot.manifest(), "files": {name: _sha256(folder / name) for name in _FILES}}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def load_snapshot(path, catalogue: Catalogue) -> BookSnapshot:
    """Read a snapshot written by ``save_snapshot`` for quoting against ``catalogue``.

    Raises
    ------
    techins.errors.InputError
        The folder is not a snapshot, a file is missing or altered, or it was made by another techins
        version or for another catalogue (the message says which and how to make a new one).
    """
    if not isinstance(catalogue, Catalogue):
        raise InputTypeError(f"load_snapshot: catalogue must be a Catalogue, got {type(catalogue).__name__}")
    folder = Path(path)
    manifest = _manifest(folder)
    remake = f"make a new one with `techins book save` (this is techins {VERSION})"
    if manifest.get("format") != SNAPSHOT_FORMAT:
        raise InputError(f"{folder / MANIFEST}: snapshot format {manifest.get('format')!r}, this techins reads "
                         f"format {SNAPSHOT_FORMAT}; {remake}")
    if manifest.get("code_version") != VERSION:
        raise InputError(f"{folder}: the book was saved by techins {manifest.get('code_version')!r}; its quote "
                         f"streams may differ from this version's: {remake}")
    if manifest.get("catalogue_digest") != catalogue.digest:
        raise InputError(f"{folder}: the book was priced with another catalogue (digest "
                         f"{str(manifest.get('catalogue_digest'))[:12]}, the catalogue given is "
                         f"{catalogue.digest[:12]}); quote with the product files it was priced with, or "
                         f"{remake}")
    for name in _FILES:
        file = folder / name
        if not file.is_file():
            raise InputError(f"{file}: missing; the snapshot is incomplete, {remake}")
        if _sha256(file) != manifest.get("files", {}).get(name):
            raise InputError(f"{file}: does not match the manifest's SHA-256 (altered or truncated); {remake}")
    copula = manifest.get("copula")
    with np.load(folder / "state.npz") as state:
        annual, theta = state["annual"], state["theta"]
        shock_year, counts = state["shock_year"], state["shock_count"]
        reorder = [state[k] if copula is not None and k in state.files else None
                   for k in ("margin_years", "margin_values", "margin_scores")]
    years = int(manifest["years"])
    labels = list(manifest["scenarios"])
    if annual.shape != (years,) or theta.shape != (len(manifest["lines"]), years) or counts.size != len(labels) \
            or (copula is not None and any(a is None or a.shape != (len(copula["margins"]), years) for a in reorder)):
        raise InputError(f"{folder / 'state.npz'}: its arrays do not have the manifest's shapes; {remake}")
    margins = {} if copula is None else {"margin_by": str(copula["margin_by"]),
                                         "margins": tuple(str(m) for m in copula["margins"]),
                                         "chunk_years": int(copula["chunk_years"]),
                                         "margin_years": _read_only(reorder[0].astype(np.int64)),
                                         "margin_values": _read_only(reorder[1].astype(np.float64)),
                                         "margin_scores": _read_only(reorder[2].astype(np.float64))}
    bounds = np.concatenate([[0], np.cumsum(counts)])
    shock_years = {k: _read_only(shock_year[bounds[i]:bounds[i + 1]].astype(np.int64)) for i, k in enumerate(labels)}
    events = BookEvents(seed=int(manifest["seed"]), years=years, thin=bool(manifest["thin"]),
                        annual=_read_only(annual.astype(np.float64)), line_names=tuple(manifest["lines"]),
                        theta=_read_only(theta.astype(np.float64)), shock_years=FrozenMap(shock_years), **margins)
    policies = pd.read_parquet(folder / "policies.parquet")
    coverages = pd.read_parquet(folder / "coverages.parquet")
    for column in ("policy_id", "product", "line", "currency"):
        policies[column] = policies[column].astype(object)
    for column in coverages.columns:
        if coverages[column].dtype != np.float64 and column != "policy":
            coverages[column] = coverages[column].astype(object)
    return BookSnapshot(events=events, policies=policies, coverages=coverages,
                        catalogue_digest=manifest["catalogue_digest"], code_version=manifest["code_version"])


def _manifest(folder: Path) -> dict:
    file = folder / MANIFEST
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder; save a book with `techins book save`")
    if not file.is_file():
        raise InputError(f"{folder}: not a saved book (no {MANIFEST}); save one with `techins book save`")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{file}: not a readable manifest ({exc}); save the book again") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{file}: not a snapshot manifest; save the book again")
    for key in ("format", "code_version", "catalogue_digest", "seed", "years", "thin", "lines", "scenarios", "files"):
        if key not in manifest:
            raise InputError(f"{file}: no {key!r}; not a techins snapshot manifest, save the book again")
    return manifest


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
