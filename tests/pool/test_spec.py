"""Allocation of a pool's capital and diversification benefit among members: every method allocates
the whole, symmetric members get equal parts, a member bringing nothing gets nothing, the Euler part
is the derivative of the pool's TVaR, sampled Shapley agrees with exact within its error."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from techins.pricing.allocation import (
    allocation_table,
    coalition_capitals,
    euler_allocation,
    pool_capital,
    shapley_benefit,
    standalone_capitals,
)
from techins.results import figures


def members(seed, m=4, years=20_000):
    rng = np.random.default_rng(seed)
    common = rng.gamma(0.5, 2.0, years)  # a shared shock: members are dependent
    scale = rng.uniform(0.5, 3.0, m)[:, None]
    return scale * (rng.lognormal(0.0, 1.0, (m, years)) * (rng.uniform(size=(m, years)) < 0.3)
                    + rng.uniform(0.0, 1.0, (m, 1)) * common)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), m=st.integers(2, 6), level=st.sampled_from([0.9, 0.99, 0.995]))
def test_every_method_allocates_the_whole(seed, m, level):
    parts = members(seed, m, 4_000)
    table = allocation_table(parts, [f"m{i}" for i in range(m)], level, shares=np.full(m, 1.0 / m))
    pool = table.iloc[-1]
    total = pool_capital(parts, level)
    for column in ("proportional_to_standalone", "proportional_to_share", "euler_capital", "shapley_capital"):
        assert table[column].iloc[:-1].sum() == pytest.approx(total, rel=1e-9, abs=1e-9)
        assert pool[column] == pytest.approx(total, rel=1e-9, abs=1e-9)
    assert table["shapley_benefit"].iloc[:-1].sum() == pytest.approx(table.attrs["diversification_benefit"],
                                                                     rel=1e-9, abs=1e-9)
    assert table.attrs["diversification_benefit"] >= -1e-9 * total  # TVaR is subadditive


def test_coalition_capitals_match_a_sort():
    parts = members(3, 5, 3_001)
    capital = coalition_capitals(parts, 0.99)
    for mask in (1, 5, 6, 19, 31):
        chosen = [i for i in range(5) if (mask >> i) & 1]
        s = parts[chosen].sum(axis=0)
        assert capital[mask] == pytest.approx(figures.tvar_equal(np.sort(s), 0.99) - s.mean(), rel=1e-12)
    assert capital[0] == 0.0


def test_symmetric_members_equal_and_a_member_bringing_nothing_gets_nothing():
    parts = members(8, 3, 10_000)
    parts = np.vstack([parts, parts[0], np.zeros(parts.shape[1])])  # member 3 = member 0; member 4 empty
    phi, stderr, method = shapley_benefit(parts, 0.99)
    assert method == "exact" and (stderr == 0).all()
    assert phi[3] == pytest.approx(phi[0], rel=1e-12)
    assert phi[4] == pytest.approx(0.0, abs=1e-9 * abs(phi).max())
    euler = euler_allocation(parts, 0.99)
    assert euler[3] == pytest.approx(euler[0], rel=1e-12) and euler[4] == 0.0


def test_euler_part_is_the_derivative_of_the_pool_tvar():
    """d/dh TVaR(S + h X_i) at h = 0, by central differences on the same sample: the empirical TVaR is
    piecewise linear in h, so a small step (the tail years do not change) gives the Euler part."""
    parts = members(11, 4, 50_000)
    euler = euler_allocation(parts, 0.99) + parts.mean(axis=1)  # the co-TVaR contributions
    s = parts.sum(axis=0)
    h = 1e-6
    for i in range(4):
        up = figures.tvar_equal(np.sort(s + h * parts[i]), 0.99)
        down = figures.tvar_equal(np.sort(s - h * parts[i]), 0.99)
        assert (up - down) / (2 * h) == pytest.approx(euler[i], rel=1e-5)


def test_sampled_shapley_agrees_with_exact_within_its_error():
    parts = members(21, 6, 5_000)
    exact, _, _ = shapley_benefit(parts, 0.99)
    sampled, stderr, method = shapley_benefit(parts, 0.99, exact_up_to=3, orders=600, seed=4)
    assert method.startswith("sampled")
    assert (np.abs(sampled - exact) < 4 * stderr + 1e-12).all()
    assert sampled.sum() == pytest.approx(exact.sum(), rel=1e-9)  # every order allocates the whole benefit


def test_standalone_capitals_and_bad_input():
    parts = members(2, 2, 1_000)
    assert standalone_capitals(parts, 0.99) == pytest.approx(
        [figures.tvar_equal(np.sort(x), 0.99) - x.mean() for x in parts])
    with pytest.raises(ValueError, match=r"parts\[0, 3\] must be finite"):
        pool_capital(np.where(np.arange(1_000) == 3, math.nan, parts), 0.99)
    with pytest.raises(ValueError, match="2 names for 3 members"):
        allocation_table(members(2, 3, 100), ["a", "b"])


def test_tvar_shortcut_falls_back_when_the_subsample_misleads():
    """Every 24th year huge: the evenly spaced subsample then puts its bound above the VaR, too few
    years are gathered, and the kernel must select the whole sample."""
    from techins.kernels.allocation import tvar_of

    rng = np.random.default_rng(1)
    values = rng.uniform(0.0, 1.0, 100_000)
    values[::24] = 1e9 + rng.uniform(0.0, 1.0, values[::24].size)
    for p in (0.9, 0.99):
        k = math.ceil(values.size * p * (1.0 - 4.0 * np.finfo(float).eps)) - 1
        got = tvar_of(values, np.empty_like(values), k, p)
        assert got == pytest.approx(figures.tvar_equal(np.sort(values), p), rel=1e-12)


# ---------------------------------------------------------------------------------------- pool file
POOL = """\
name = "cyber pool"
lines = ["cyber", "first_of_kind"]
admin_expense = 0.02
unplaced = { first_of_kind = 0.1 }

[[member]]
name = "Lead Re"
role = "lead"
fee = 0.03
share = { cyber = 0.4, first_of_kind = 0.5 }

[[member]]
name = "Front Co"
role = "fronting"
fee = 0.01
share = { cyber = 0.2 }

[[member]]
name = "Mutual"
share = { cyber = 0.4, first_of_kind = 0.4 }
"""

BAD_POOLS = {
    "shares": (POOL.replace("cyber = 0.2", "cyber = 0.25"), "shares of line 'cyber' add up to 1.05, not 1.0"),
    "unplaced_missing": (POOL.replace("unplaced = { first_of_kind = 0.1 }\n", ""),
                         "add up to 0.9, not 1.0 \\(declare the rest under unplaced"),
    "negative_fee": (POOL.replace("fee = 0.03", "fee = -0.03"), r"\[\[member\]\] 'Lead Re': member 'Lead Re': fee must be in \[0, 1\), got -0.03"),
    "unknown_line": (POOL.replace("share = { cyber = 0.2 }", "share = { cyber = 0.2, drones = 0.1 }"),
                     "member 'Front Co' has a share of line 'drones', which the pool does not write"),
    "unknown_key": (POOL.replace('role = "fronting"', 'role = "fronting"\ncommission = 0.1'), "unknown key 'commission'"),
    "two_leads": (POOL.replace('role = "fronting"', 'role = "lead"'), "one lead at most"),
    "fee_without_role": (POOL.replace('role = "fronting"\n', ''), "is for the lead or the fronting insurer"),
}


def test_pool_file_reads_into_shares(tmp_path):
    from techins.pool.spec import read_pool

    path = tmp_path / "pool.toml"
    path.write_text(POOL)
    pool = read_pool(path)
    np.testing.assert_allclose(pool.share_matrix(), [[0.4, 0.5], [0.2, 0.0], [0.4, 0.4]])
    assert pool.unplaced["first_of_kind"] == 0.1 and pool.members[0].role == "lead"


@pytest.mark.parametrize("case", sorted(BAD_POOLS))
def test_bad_pool_file_names_file_member_field_and_value(tmp_path, case):
    from techins.pool.spec import read_pool

    text, message = BAD_POOLS[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        read_pool(path)
    assert str(info.value).startswith(str(path))


def test_money_reconciles_and_losses_add_up(tmp_path):
    """Premium in = member premiums + fees + admin + reinsurance premium; each year's gross = the
    members' and unplaced losses + what the reinsurance recovers."""
    from techins.pool.spec import member_flows, read_pool

    path = tmp_path / "pool.toml"
    path.write_text(POOL)
    pool = read_pool(path)
    rng = np.random.default_rng(0)
    gross = rng.lognormal(13.0, 1.0, (2, 1_000))
    ceded = 0.3 * gross.sum(axis=0)
    rp = 2.0e5 * (1.0 + (rng.uniform(size=1_000) < 0.1))  # reinstatement premium in a tenth of the years
    flows = member_flows(pool, [1.5e6, 2.5e6], gross, ceded, rp)
    np.testing.assert_allclose(flows.premium.sum(axis=0) + flows.fees + flows.admin_expense + rp, 4.0e6, rtol=1e-12)
    np.testing.assert_allclose(flows.loss.sum(axis=0) + ceded, gross.sum(axis=0), rtol=1e-12)
    # the lead holds 40% of cyber and 50% of first-of-kind; fees 3% + 1%, admin 2%
    lead_premium = 0.4 * (1.5e6 * 0.94 - rp * 1.5 / 4) + 0.5 * (2.5e6 * 0.94 - rp * 2.5 / 4)
    np.testing.assert_allclose(flows.premium[0], lead_premium, rtol=1e-12)
    assert flows.fee_income[0] == pytest.approx(0.03 * 4.0e6) and flows.fee_income[2] == 0.0
    # the unplaced 10% of first-of-kind is nobody's: it shows as its own row
    assert flows.members[-1] == "unplaced"
    np.testing.assert_allclose(flows.premium[-1], 0.1 * (2.5e6 * 0.94 - rp * 2.5 / 4), rtol=1e-12)
    np.testing.assert_allclose(flows.result, flows.premium + flows.fee_income[:, None] - flows.loss)
