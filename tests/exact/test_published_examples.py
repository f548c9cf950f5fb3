"""Worked examples from published texts, reproduced by techins' exact path and checked by simulation.

Each test states a published problem, cites where it and its answer are printed, and checks three
things against the published figures, to the published rounding:

* the answer recomputed here by hand, in a few lines of plain Python (direct recursion, enumeration or
  a quadrature), so that a disagreement between techins and the book is caught either way;
* ``techins.exact.aggregate`` by FFT and by Panjer's recursion, on a lattice of step ``bucket=1.0`` where the
  example's amounts are integers (every atom then sits on a lattice point and the lattice law is the
  exact law, up to the probability beyond the grid top, which is negligible for the ``n_buckets``
  chosen);
* a seeded Monte Carlo run of ``techins.simulate``, within 4 standard errors.

Sources
-------
[LDA]  E. W. Frees (ed.), *Loss Data Analytics*, open text, Version 1.1 (August 2020), Chapter 5
       "Aggregate Loss Models" (principal authors Peng Shi and Lisa Gao),
       https://openacttexts.github.io/Loss-Data-Analytics/ChapAggLossModels.html
       (source: github.com/OpenActTexts/Loss-Data-Analytics, docs/ChapAggLossModels.html).
[STAM] Society of Actuaries, *Exam STAM Short-Term Actuarial Mathematics: Exam STAM Sample
       Questions* (study note STAM-09-18, 2018; questions 1-307 taken from the earlier Exam C sample
       questions), and the SOA's solution to the same question (reproduced with the SOA's permission
       at https://stochiki.com/wiki/exercise:E787326725).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

import techins as ti

METHODS = ("fft", "panjer")
YEARS = 200_000


def _within(value: float, published: float, last_digit: float) -> bool:
    """``value`` rounds to ``published`` at the published precision (half a unit of its last digit)."""
    return abs(value - published) <= 0.5 * last_digit * (1.0 + 1e-9)


# ------------------------------------------------------------------------ Panjer recursion

def test_lda_example_5_4_1_panjer_recursion_geometric_uniform():
    """[LDA] Section 5.4.1 "Recursive Method", Example 5.4.1 (an actuarial exam question; the same
    problem is Example 5.3.3, solved there by convolution).

    Problem: the number of claims N is geometric with mean 4; each claim X has Pr(X = x) = 0.25 for
    x = 1, 2, 3, 4. Calculate F_S(3).

    Published solution (Panjer recursion, a = 4/5, b = 0, p_0 = 1/5):
    f_S(0) = 1/5, f_S(1) = 1/25, f_S(2) = 6/125, f_S(3) = 0.0576, F_S(3) = 0.3456.
    """
    published_f = [1 / 5, 1 / 25, 6 / 125, 0.0576]
    published_cdf3 = 0.3456

    # --- by hand: the recursion f_S(s) = a sum_{y=1}^{min(s,4)} f_X(y) f_S(s-y), in exact fractions
    beta = Fraction(4)
    a, p0 = beta / (1 + beta), 1 / (1 + beta)
    fx = {1: Fraction(1, 4), 2: Fraction(1, 4), 3: Fraction(1, 4), 4: Fraction(1, 4)}
    fs = [p0]
    for s in range(1, 4):
        fs.append(a * sum(fx[y] * fs[s - y] for y in range(1, min(s, 4) + 1)))
    assert fs == [Fraction(1, 5), Fraction(1, 25), Fraction(6, 125), Fraction(36, 625)]
    assert sum(fs) == Fraction(216, 625)                     # = 0.3456 exactly
    # ... and by convolution (Example 5.3.3): F_S(3) = sum_n p_n Pr(X_1 + ... + X_n <= 3)
    conv = sum(p0 * a ** n * sum(math.prod(fx[x] for x in xs)
                                 for xs in itertools.product(fx, repeat=n) if sum(xs) <= 3)
               for n in range(0, 4))
    assert conv == sum(fs)
    for mine, book in zip(fs, published_f):
        assert _within(float(mine), book, 1e-4)
    assert _within(float(sum(fs)), published_cdf3, 1e-4)

    # --- techins: geometric(beta = 4) is the negative binomial with mean 4 and variance 4 * 5 = 20
    freq = ti.NegativeBinomial(mean=4.0, variance=20.0)
    assert freq.pmf([0, 1, 2, 3]) == pytest.approx([0.2, 0.16, 0.128, 0.1024], rel=1e-12)
    assert freq.panjer_ab() == pytest.approx((0.8, 0.0), abs=1e-15)
    line = ti.Line(freq, ti.Empirical([1.0, 2.0, 3.0, 4.0]))
    for method in METHODS:
        ex = ti.exact(line, method=method, bucket=1.0, n_buckets=512)
        assert ex.values[:4].tolist() == [0.0, 1.0, 2.0, 3.0]
        assert ex.probs[:4] == pytest.approx([float(f) for f in fs], rel=1e-9, abs=1e-14)
        for mine, book in zip(ex.probs[:4], published_f):
            assert _within(mine, book, 1e-4), method
        assert _within(ex.cdf(3.0), published_cdf3, 1e-4), method
        assert ex.cdf(3.0) == pytest.approx(216 / 625, rel=1e-9)
        assert ex.mean() == pytest.approx(line.expected_loss(), rel=1e-9)    # 4 * 2.5 = 10
        assert ex.var() == pytest.approx(line.variance(), rel=1e-9)          # 4*1.25 + 20*6.25 = 130

    sim = ti.simulate(line, years=YEARS, seed=20_541)
    p_above = 1.0 - published_cdf3
    assert abs(sim.prob_exceed(3.0) - p_above) < 4.0 * sim.stderr("prob_exceed", 3.0)
    assert abs(sim.mean() - 10.0) < 4.0 * sim.stderr("mean")


# ------------------------------------------------------------------------ stop-loss premium

def test_stam_sample_question_165_aggregate_deductible_poisson():
    """[STAM] Exam STAM Sample Questions, Question 165 (answer key: A).

    Problem: for a collective risk model the number of losses is Poisson with lambda = 2 and the
    individual losses are 1 with probability 0.6 and 2 with probability 0.4. An insurance covers
    aggregate losses subject to a deductible of 3. Calculate the expected aggregate payments.
    Choices: (A) 0.74 (B) 0.79 (C) 0.84 (D) 0.89 (E) 0.94.

    Published solution: E[S] = 2.8, f_S(0) = e^-2, f_S(1) = 1.2 e^-2, f_S(2) = 1.52 e^-2,
    E[(S - 3)+] = E[S] - 3 + 3 f_S(0) + 2 f_S(1) + f_S(2) = -0.2 + 6.92 e^-2 = 0.7365.
    """
    published = 0.7365
    choices = {"A": 0.74, "B": 0.79, "C": 0.84, "D": 0.89, "E": 0.94}
    published_f = [1.0, 1.2, 1.52]              # f_S(s) / e^-2, s = 0, 1, 2

    # --- by hand: f_S(s) = sum_n Pr(N = n) Pr(X_1 + ... + X_n = s), enumerating the claims
    lam, fx = 2.0, {1: 0.6, 2: 0.4}
    fs = [sum(math.exp(-lam) * lam ** n / math.factorial(n)
              * sum(math.prod(fx[x] for x in xs) for xs in itertools.product(fx, repeat=n) if sum(xs) == s)
              for n in range(0, s + 1))
          for s in range(3)]
    assert [f / math.exp(-2.0) for f in fs] == pytest.approx(published_f, rel=1e-12)
    mean_s = lam * sum(x * p for x, p in fx.items())
    assert mean_s == pytest.approx(2.8, rel=1e-15)
    by_hand = mean_s - 3.0 + sum((3 - s) * fs[s] for s in range(3))
    assert by_hand == pytest.approx(-0.2 + 6.92 * math.exp(-2.0), rel=1e-12)
    assert _within(by_hand, published, 1e-4)

    # --- techins: the stop-loss premium is the mean after an aggregate deductible layer
    severity = ti.Empirical([1.0, 2.0], [0.6, 0.4])
    ground_up = ti.Line(ti.Poisson(2.0), severity)
    line = ti.Line(ti.Poisson(2.0), severity, aggregate=ti.Layer(deductible=3.0))
    assert ground_up.expected_loss() == pytest.approx(2.8, rel=1e-12)
    for method in METHODS:
        ex0 = ti.exact(ground_up, method=method, bucket=1.0, n_buckets=64)
        assert ex0.values[:3].tolist() == [0.0, 1.0, 2.0]
        assert ex0.probs[:3] / math.exp(-2.0) == pytest.approx(published_f, rel=1e-9)
        ex = ti.exact(line, method=method, bucket=1.0, n_buckets=64)
        assert ex.values[0] == 0.0
        assert ex.probs[0] == pytest.approx(sum(fs) + ex0.probs[3], rel=1e-9)   # P(S <= 3)
        assert ex.mean() == pytest.approx(by_hand, rel=1e-9)
        assert _within(ex.mean(), published, 1e-4), method
        assert min(choices, key=lambda k: abs(choices[k] - ex.mean())) == "A"
        # the automatic grid divides the atoms' common step (1), so the atoms sit on its lattice and
        # the stop-loss premium is exact there too
        auto = ti.exact(line, method=method)
        assert (1.0 / auto.bucket) == pytest.approx(round(1.0 / auto.bucket), abs=1e-9)
        assert auto.mean() == pytest.approx(by_hand, rel=1e-9)

    sim = ti.simulate(line, years=YEARS, seed=165)
    assert abs(sim.mean() - published) < 4.0 * sim.stderr("mean")


# ------------------------------------------------- per-claim deductible and compound moments

def test_lda_examples_5_5_5_and_5_5_6_negative_binomial_per_claim_deductible():
    """[LDA] Section 5.5.3 "Impact of Policy Modifications on Aggregate Claims", Example 5.5.5 (an
    actuarial exam question) and its follow-up Example 5.5.6.

    Problem: a group dental policy has a negative binomial claim count with mean 300 and variance
    800; ground-up severity is 40, 80, 120, 200 with probability 0.25 each. Severity increases by 50%
    with no change in frequency, and a per-claim deductible of 100 is imposed. Calculate the
    expected total claim payment (5.5.5) and its variance (5.5.6).

    Published solution: the payment per loss (1.5 X - 100)+ is 0, 20, 80, 200, so E[X^L] = 75,
    E[(X^L)^2] = 11,700, Var[X^L] = 6,075; E[S] = 300 * 75 = 22,500 and
    Var[S] = 300 * 6,075 + 75^2 * 800 = 6,322,500. Per payment: Pr(1.5 X >= 100) = 3/4,
    E[N^P] = 225, E[X^P] = 100.
    """
    published_mean, published_var = 22_500.0, 6_322_500.0

    # --- by hand
    ground = [40, 80, 120, 200]
    per_loss = [max(Fraction(3, 2) * x - 100, 0) for x in ground]
    assert per_loss == [0, 20, 80, 200]
    e1 = sum(per_loss) / Fraction(4)
    e2 = sum(y * y for y in per_loss) / Fraction(4)
    assert (e1, e2, e2 - e1 ** 2) == (75, 11_700, 6_075)
    en, vn = 300, 800
    assert en * e1 == published_mean
    assert en * (e2 - e1 ** 2) + e1 ** 2 * vn == published_var
    p_pay = Fraction(sum(1 for y in per_loss if y > 0), 4)
    assert (en * p_pay, e1 / p_pay) == (225, 100)

    # --- techins: the 50% increase is applied to the severity, the deductible is the occurrence layer
    freq = ti.NegativeBinomial(mean=300.0, variance=800.0)
    line = ti.Line(freq, ti.Empirical([1.5 * x for x in ground]), occurrence=ti.Layer(deductible=100.0))
    ey, ey2 = line.layered_severity_moments()
    assert (ey, ey2) == (pytest.approx(75.0, rel=1e-12), pytest.approx(11_700.0, rel=1e-12))
    assert _within(line.expected_loss(), published_mean, 1.0)
    assert _within(line.variance(), published_var, 1.0)
    assert freq.thinned(0.75).mean() == pytest.approx(225.0, rel=1e-12)
    for method in METHODS:
        # grid top 131,071: about 43 standard deviations above the mean
        ex = ti.exact(line, method=method, bucket=1.0, n_buckets=1 << 17)
        assert _within(ex.mean(), published_mean, 1.0), method
        assert _within(ex.var(), published_var, 1.0), method
        assert ex.cdf(0.0) == pytest.approx(float(freq.pgf(0.25)), rel=1e-9)   # no payment at all

    sim = ti.simulate(line, years=YEARS, seed=555)
    assert abs(sim.mean() - published_mean) < 4.0 * sim.stderr("mean")
    assert abs(sim.std() - math.sqrt(published_var)) < 4.0 * sim.stderr("std")


def test_lda_example_5_5_7_poisson_exponential_per_loss_deductible():
    """[LDA] Section 5.5.3, Example 5.5.7 (an actuarial exam question).

    Problem: aggregate losses are compound Poisson with 20 expected losses and exponential loss
    amounts with mean theta = 200. A vehicle type is excluded, reducing loss frequency by 20%, and a
    deductible of 100 per loss is imposed. Calculate the expected aggregate amount paid.

    Published solution: E[X^L] = E[X] - E[X ^ 100] = 200 - 200 (1 - e^-0.5) = 121.31;
    E[N^L] = 0.8 * 20 = 16; E[S] = 121.31 * 16 = 1,941. Per payment: E[X^P] = 200 (memoryless),
    E[N^P] = 16 e^-0.5 = 9.7.
    """
    published_per_loss, published_total = 121.31, 1_941.0
    published_payments, published_per_payment = 9.7, 200.0

    # --- by hand: E[(X - 100)+] = int_100^inf S(x) dx by composite Simpson, independent of the lev
    theta, d, n_cells = 200.0, 100.0, 20_000
    top = d + 60.0 * theta                                   # S(top) = e^-60.5: the rest is negligible
    step = (top - d) / n_cells
    simpson = sum((1 if k in (0, n_cells) else 4 if k % 2 else 2) * math.exp(-(d + k * step) / theta)
                  for k in range(n_cells + 1)) * step / 3.0
    assert simpson == pytest.approx(theta * math.exp(-d / theta), rel=1e-12)
    assert _within(simpson, published_per_loss, 0.01)
    assert _within(16.0 * simpson, published_total, 1.0)
    assert _within(16.0 * math.exp(-0.5), published_payments, 0.1)

    # --- techins
    severity = ti.Exponential(mean=200.0)
    assert _within(severity.mean() - severity.lev(100.0), published_per_loss, 0.01)
    assert severity.lev(100.0) == pytest.approx(200.0 * (1.0 - math.exp(-0.5)), rel=1e-12)
    freq = ti.Poisson(0.8 * 20.0)
    line = ti.Line(freq, severity, occurrence=ti.Layer(deductible=100.0))
    assert _within(line.expected_loss(), published_total, 1.0)
    payments = freq.thinned(float(severity.sf(100.0))).mean()
    assert _within(payments, published_payments, 0.1)
    assert line.expected_loss() / payments == pytest.approx(published_per_payment, rel=1e-12)
    for method in METHODS:
        # a continuous severity: the automatic grid, and the integer lattice (grid top 16,383, about
        # 16 standard deviations above the mean); the discretisation preserves the mean
        for grid in ({}, {"bucket": 1.0, "n_buckets": 1 << 14}):
            ex = ti.exact(line, method=method, **grid)
            assert _within(ex.mean(), published_total, 1.0), (method, grid)
            assert ex.mean() == pytest.approx(16.0 * simpson, rel=1e-6)

    sim = ti.simulate(line, years=YEARS, seed=557)
    assert abs(sim.mean() - 16.0 * simpson) < 4.0 * sim.stderr("mean")
