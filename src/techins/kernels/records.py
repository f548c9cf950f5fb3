"""The records the kernels take: named tuples of arrays, built once by the plan
(``techins.simulation.plan``) and passed whole, so a kernel takes a handful of arguments.

Numba types a named tuple by its fields, compiles one specialisation per set of field types and
caches it like any argument. Each record's fields are documented once, here. A book's arrays are
read-only to the kernels; outputs and scratch are written.

Two limits of Numba's parallel loops shape the parallel kernels: a nested record (a record inside a
record) cannot cross into a ``prange`` loop, so they take the flat records and build the nested
``BookArrays`` inside the loop (no allocation: a record only holds references); and a write to a
record's array made in the loop's own body is lost (numba/numba#5872), so the loop body only calls a
function that does the writing.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["LawRows", "ClaimGroups", "PolicyTerms", "ShockArrays", "CopulaArrays", "BookArrays", "WaveOutputs", "TailBuffers",
           "ClaimScratch", "ChunkLosses", "OwnClaims", "EventExposure", "LineArrays", "LineOutputs"]


class LawRows(NamedTuple):
    """The kernel rows of a book's claim-size laws, one per distinct (law, threshold).

    Attributes
    ----------
    codes : numpy.ndarray
        int64 ``[rows]``: each row's law code (``techins.kernels.severity``).
    params : numpy.ndarray
        float64 ``[rows, severity.N_PARAMS]``: each row's parameter vector.
    offsets : numpy.ndarray
        int64 ``[rows + 1]``: row ``r``'s alias table is ``values[offsets[r]:offsets[r + 1]]`` (and the
        same slice of ``probs`` and ``aliases``).
    values, probs, aliases : numpy.ndarray
        float64, float64, intp: the empirical laws' alias tables, concatenated (one dummy entry
        for every other law).
    """

    codes: np.ndarray
    params: np.ndarray
    offsets: np.ndarray
    values: np.ndarray
    probs: np.ndarray
    aliases: np.ndarray


class ClaimGroups(NamedTuple):
    """How a book's independent claims are drawn and split: policies in groups of one kernel row and
    one line, each group's claims drawn at once and split over its policies by rate.

    Attributes
    ----------
    perm : numpy.ndarray
        int64 ``[policies]``: the policies in group order; group ``g`` is
        ``perm[group_start[g]:group_start[g + 1]]``.
    group_start : numpy.ndarray
        int64 ``[groups + 1]``.
    group_rate : numpy.ndarray
        float64 ``[groups]``: the group's total claim rate (after thinning).
    group_row, group_line : numpy.ndarray
        int64 ``[groups]``: the group's kernel row (``LawRows``) and line.
    line_cv : numpy.ndarray
        float64 ``[lines]``: each line's parameter-risk coefficient of variation (0: none).
    line_frailty : numpy.ndarray
        int64 ``[lines]``: the shared gamma frailty of each line (-1: none).
    frailty_cv : numpy.ndarray
        float64 ``[frailties]``: each frailty's coefficient of variation.
    cond_prob : numpy.ndarray
        float64 ``[policies]``, in ``perm`` order: ``P(claim of policy k | not of the policies before it
        in its group)``, the chain of conditional binomials of the split.
    """

    perm: np.ndarray
    group_start: np.ndarray
    group_rate: np.ndarray
    group_row: np.ndarray
    group_line: np.ndarray
    line_cv: np.ndarray
    line_frailty: np.ndarray
    frailty_cv: np.ndarray
    cond_prob: np.ndarray


class PolicyTerms(NamedTuple):
    """Each policy's claim scale and terms, and its contract's.

    Attributes
    ----------
    scale : numpy.ndarray
        float64 ``[policies]``: claim size = scale x a draw of the law.
    terms : numpy.ndarray
        float64 ``[policies, 5]``: (deductible, limit, share, agg_deductible, agg_limit).
    line : numpy.ndarray
        int64 ``[policies]``: the policy's line.
    sum_insured : numpy.ndarray
        float64 ``[policies]``: read by the shocks whose loss is a share of sum insured.
    contract : numpy.ndarray
        int64 ``[policies]``: the policy's contract.
    contract_terms : numpy.ndarray
        float64 ``[contracts, 2]``: (agg_deductible, agg_limit) of each contract over its policies'
        annual losses; no rows when the book has no contracts.
    """

    scale: np.ndarray
    terms: np.ndarray
    line: np.ndarray
    sum_insured: np.ndarray
    contract: np.ndarray
    contract_terms: np.ndarray


class ShockArrays(NamedTuple):
    """A book's common-shock scenarios.

    Attributes
    ----------
    rate : numpy.ndarray
        float64 ``[shocks]``: events a year.
    q : numpy.ndarray
        float64 ``[shocks]``: probability that an event hits each exposed policy.
    row : numpy.ndarray
        int64 ``[shocks]``: the kernel row (``LawRows``) of the loss per policy hit.
    on_si : numpy.ndarray
        bool ``[shocks]``: the loss is a share of the policy's sum insured.
    batch : numpy.ndarray
        bool ``[shocks]``: a batch clause (one occurrence through the event's terms, shared back pro
        rata), else each hit through the policy's own occurrence terms.
    terms : numpy.ndarray
        float64 ``[shocks, 2]``: (event deductible, event limit) of a batch clause.
    exposed : numpy.ndarray
        int64: the exposed policies of every shock, concatenated;
        shock ``s``'s are ``exposed[exposed_offsets[s]:exposed_offsets[s + 1]]``.
    exposed_offsets : numpy.ndarray
        int64 ``[shocks + 1]``.
    """

    rate: np.ndarray
    q: np.ndarray
    row: np.ndarray
    on_si: np.ndarray
    batch: np.ndarray
    terms: np.ndarray
    exposed: np.ndarray
    exposed_offsets: np.ndarray


class CopulaArrays(NamedTuple):
    """A book's copula on annual losses (``techins.kernels.copula``); ``n_margins = 0``: none.

    Attributes
    ----------
    family : int
        The copula's code (``techins.kernels.copula``).
    params : numpy.ndarray
        float64 ``[2]``: theta (Archimedean) or df (t) first.
    chol : numpy.ndarray
        float64 ``[margins, margins]``: the correlation's Cholesky factor (Gaussian, t).
    margin : numpy.ndarray
        int64 ``[policies]``: each policy's margin (-1: its years stay where drawn).
    n_margins : int
    """

    family: int
    params: np.ndarray
    chol: np.ndarray
    margin: np.ndarray
    n_margins: int


class BookArrays(NamedTuple):
    """A book as the kernels see it: its laws, claim groups, policies, shocks and copula (records above)."""

    laws: LawRows
    groups: ClaimGroups
    policies: PolicyTerms
    shocks: ShockArrays
    copula: CopulaArrays


class WaveOutputs(NamedTuple):
    """What a wave of a book's chunks writes; row ``w`` of the per-chunk arrays is the wave's chunk ``w``.

    Attributes
    ----------
    annual, max_occurrence : numpy.ndarray
        float64 ``[years]``: the book's loss and largest occurrence of each year of the arrays' span.
    line_annual : numpy.ndarray
        float64 ``[lines, years]``: each line's loss of each year.
    psum, psumsq, pcross : numpy.ndarray
        float64 ``[chunks, policies]``: each chunk's sums of the policies' annual losses, of their
        squares and of annual loss x book loss.
    csumsq : numpy.ndarray
        float64 ``[chunks, contracts]``: each chunk's sum of the squares of the contracts' annual losses.
    n_groups : numpy.ndarray
        int64 ``[chunks]``: the chunk's number of (policy, year) losses; -1 when the claim scratch was
        too small (nothing of the wave is then valid).
    n_kept : numpy.ndarray
        int64 ``[chunks]``: the chunk's number of tail losses kept (``TailBuffers``).
    """

    annual: np.ndarray
    max_occurrence: np.ndarray
    line_annual: np.ndarray
    psum: np.ndarray
    psumsq: np.ndarray
    pcross: np.ndarray
    csumsq: np.ndarray
    n_groups: np.ndarray
    n_kept: np.ndarray


class TailBuffers(NamedTuple):
    """Room for the policies' losses in the years whose book loss is at least ``keep_above``.

    Attributes
    ----------
    keep_above : float
        The book loss from which a year's policy losses are kept (``inf``: none).
    offsets : numpy.ndarray
        int64 ``[chunks + 1]``: chunk ``w`` of a wave keeps its losses in ``[offsets[w], offsets[w + 1])``
        of the arrays below, which must hold them.
    year, policy : numpy.ndarray
        int64: the year (of the arrays' span) and policy of each kept loss.
    loss : numpy.ndarray
        float64: the kept loss.
    """

    keep_above: float
    offsets: np.ndarray
    year: np.ndarray
    policy: np.ndarray
    loss: np.ndarray


class ClaimScratch(NamedTuple):
    """Scratch for a chunk's independent claims (2-d, one row per chunk of a wave, or one chunk's row).

    Attributes
    ----------
    first : numpy.ndarray
        int64 ``[policies + 1]``: policy ``perm[k]``'s claims are ``[first[k], first[k + 1])``.
    year : numpy.ndarray
        int64 ``[capacity]``: each claim's year.
    loss : numpy.ndarray
        float64 ``[capacity]``: each claim after the policy's occurrence terms; also the batch of
        sizes drawn for one group, so ``capacity`` bounds a chunk's claims.
    """

    first: np.ndarray
    year: np.ndarray
    loss: np.ndarray


class ChunkLosses(NamedTuple):
    """A chunk's claims, shock hits and (policy, year) losses after every term, as the book kernel
    groups them (``techins.kernels.book._chunk_losses``): written by the kernels, for the kernels.

    Items are the chunk's claims (``m < n_claims``, policy by policy in claim-group order) then its
    shock hits (``n_claims + j``).

    Attributes
    ----------
    n_claims : int
        The chunk's own claims; -1 when the claim scratch was too small (nothing else is then valid).
    c_year, c_loss : numpy.ndarray
        int64, float64: each claim's year as drawn and its loss after the occurrence terms (the claim
        scratch's arrays, valid up to ``n_claims``).
    h_pol, h_year, h_loss, h_event : numpy.ndarray
        int64, int64, float64, int64: each shock hit's policy, year as drawn, loss after the
        occurrence terms and event (its index in the chunk; an event's hits are contiguous).
    g_pol, g_year, g_loss : numpy.ndarray
        int64, int64, float64 ``[items]``, valid up to ``n_groups``: each (policy, year) loss's policy,
        year (after the copula's reorder when the book has one) and loss after the policy's annual
        terms and its contract's.
    n_groups : int
    item_group : numpy.ndarray
        int64 ``[items]``: the (policy, year) loss each item is part of.
    item_ratio : numpy.ndarray
        float64 ``[items]``: what the annual terms leave of the item, pro rata (``g_loss / ground-up
        total`` of its (policy, year)).
    margin_reorder : tuple
        The copula's reorder (no rows without a copula), each ``[margins, chunk years]``: the
        permutation (int64; margin ``m``'s chunk year ``y`` moved to ``[m, y]``), each margin's annual
        loss in the years drawn, and the copula sample its ranks followed.
    """

    n_claims: int
    c_year: np.ndarray
    c_loss: np.ndarray
    h_pol: np.ndarray
    h_year: np.ndarray
    h_loss: np.ndarray
    h_event: np.ndarray
    g_pol: np.ndarray
    g_year: np.ndarray
    g_loss: np.ndarray
    n_groups: int
    item_group: np.ndarray
    item_ratio: np.ndarray
    margin_reorder: tuple


class OwnClaims(NamedTuple):
    """One new policy's own claims on the quote path.

    Attributes
    ----------
    rate : float
        Claims a year (after thinning).
    theta : numpy.ndarray
        float64 ``[years]``: its line's parameter-risk factor of each year (ones without).
    row : int
        The kernel row (``LawRows``) of its claim sizes.
    scale : float
        Claim size = scale x a draw of the law.
    terms : numpy.ndarray
        float64 ``[5]``: (deductible, limit, share, agg_deductible, agg_limit).
    """

    rate: float
    theta: np.ndarray
    row: int
    scale: float
    terms: np.ndarray


class EventExposure(NamedTuple):
    """The book events a new policy is exposed to on the quote path, one entry per event.

    Attributes
    ----------
    year : numpy.ndarray
        int64: the event's year.
    row : numpy.ndarray
        int64: the kernel row (``LawRows``) of the loss if hit.
    q : numpy.ndarray
        float64: the probability of a hit.
    scale : numpy.ndarray
        float64: loss = scale x a draw of the law (the sum insured, or 1).
    """

    year: np.ndarray
    row: np.ndarray
    q: np.ndarray
    scale: np.ndarray


class LineArrays(NamedTuple):
    """One frequency-severity line as the line kernel sees it.

    Attributes
    ----------
    freq_code : int
        Frequency law code (``techins.kernels.compound``).
    fp : numpy.ndarray
        float64 ``[4]``: frequency parameters.
    sev_code : int
        Severity law code (``techins.kernels.severity``).
    sp : numpy.ndarray
        float64 ``[severity.N_PARAMS]``: severity parameters.
    values, probs, aliases : numpy.ndarray
        The empirical law's alias table (one dummy entry for every other law).
    occ, agg : numpy.ndarray
        float64 ``[3]``: (deductible, limit, share) of the occurrence and the aggregate terms.
    """

    freq_code: int
    fp: np.ndarray
    sev_code: int
    sp: np.ndarray
    values: np.ndarray
    probs: np.ndarray
    aliases: np.ndarray
    occ: np.ndarray
    agg: np.ndarray


class LineOutputs(NamedTuple):
    """What a line's run writes, one entry per year: ``annual`` and ``max_occurrence`` (float64) and
    ``counts`` (int32, the claims of the year)."""

    annual: np.ndarray
    max_occurrence: np.ndarray
    counts: np.ndarray
