"""A four-treaty programme over 10M occurrences (target: at least 50M occurrences/s on 2 cores),
against a vectorised NumPy version of the same model in the same run. Run with ``make bench``."""

import numpy as np
import pytest

from benchmarks.baselines import numpy_programme
from techins.reinsurance.programme import (
    AggregateXL,
    OccurrenceTable,
    OccurrenceXL,
    PerRiskXL,
    Programme,
    QuotaShare,
    apply_to_table,
)

N_OCCURRENCES = 10_000_000
YEARS = 1_000_000
TERMS = dict(cession=0.25, risk_limit=4e6, risk_retention=1e6, occ_limit=5e6, occ_retention=1e6, rates=(1.0, 1.0),
             agg_limit=2e7, agg_attachment=1.5e7)


def occurrences():
    rng = np.random.default_rng(7)
    year = np.sort(rng.integers(0, YEARS, N_OCCURRENCES))
    return year, rng.lognormal(12.0, 2.0, N_OCCURRENCES)


def programme():
    t = TERMS
    return Programme((QuotaShare(t["cession"]), PerRiskXL(t["risk_limit"], t["risk_retention"]),
                      OccurrenceXL(t["occ_limit"], t["occ_retention"], t["rates"]),
                      AggregateXL(t["agg_limit"], t["agg_attachment"])))


@pytest.fixture(scope="module")
def data():
    year, loss = occurrences()
    table = OccurrenceTable.from_arrays(year, np.arange(year.size), np.zeros(year.size, dtype=np.int64), loss, YEARS)
    return year, loss, table


@pytest.mark.parametrize("variant", ["numpy", "techins_2threads"])
def test_four_treaty_programme(record, data, variant):
    year, loss, table = data
    scenario = "programme of 4 treaties, 10M occurrences"
    if variant == "numpy":
        test_four_treaty_programme.numpy = record(scenario, variant,
                                                  lambda: numpy_programme(year, loss, YEARS, **TERMS))
        return
    prog = programme()
    apply_to_table(OccurrenceTable.from_arrays([0], [0], [0], [1.0], 1), prog)  # compiled before timing
    result = record(scenario, variant, lambda: apply_to_table(table, prog))
    reference = getattr(test_four_treaty_programme, "numpy", None)
    if reference is not None:
        # the same model; NumPy's per-year sums come from one cumulative sum over 10M losses, whose
        # cancellation costs it about 1e-3 of a currency unit
        np.testing.assert_allclose(result.ceded, reference[0], rtol=1e-7, atol=1.0)
        np.testing.assert_allclose(result.reinstatement_factor[:, 2], reference[1], rtol=1e-7, atol=1e-6)
