"""Every public result and spec survives ``pickle`` (multiprocessing and Dask ship them so), and the
copy computes the same figures as the original."""

import pickle

import numpy as np
import pandas as pd
import pytest

import techins as ti
from techins.backtest.run import read_config, run_backtest
from techins.catalogue.quote import Quoter
from techins.frozen import FrozenMap
from techins.pricing.premium import PricingBasis

BASIS = PricingBasis(risk_measure="coc_tvar", load=0.10, level=0.99, fixed_expense=100.0, variable_expense=0.2,
                     profit=0.05)


def round_trip(obj):
    return pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def assert_same_tables(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], pd.DataFrame):
            pd.testing.assert_frame_equal(a[key], b[key])
        else:
            assert a[key] == b[key] or (a[key] != a[key] and b[key] != b[key]), key  # NaN equals NaN here


@pytest.fixture(scope="module")
def book():
    table = pd.DataFrame({"policy_id": ["a", "b", "c"], "line": ["cyber", "cyber", "drone"],
                          "claim_rate": [0.3, 0.2, 0.5], "severity": ["breach", "breach", "hull"],
                          "limit": [1e6, 2e6, 5e5], "sum_insured": [3e6, 4e6, 1e6], "cloud": ["aws", "x", "aws"]})
    shock = ti.CommonShock("outage", 0.4, "cloud", ("aws",), 0.5, ti.Gamma(2.0, 0.02))
    return ti.Portfolio(table, {"breach": ti.LogNormal(10.0, 1.5), "hull": ti.Gamma(2.0, 5e4)}, shocks=(shock,),
                        parameter_risk={"cyber": 0.2})


@pytest.fixture(scope="module")
def catalogue():
    return ti.read_catalogue("products")


@pytest.mark.parametrize("spec", [
    ti.Poisson(2.0), ti.NegativeBinomial(2.0, 5.0), ti.Binomial(10, 0.2), ti.LogNormal(9.0, 1.2), ti.Gamma(2.0, 1e4),
    ti.Pareto(2.5, 1e5), ti.Weibull(0.8, 1e4), ti.Exponential(1e4), ti.Empirical([1.0, 2.0, 5.0]),
    ti.Layer(limit=1e6, deductible=1e4),
    ti.Line(ti.Poisson(2.0), ti.LogNormal(9.0, 1.2), occurrence=ti.Layer(limit=1e6), aggregate=ti.Layer(limit=3e6)),
    ti.CommonShock("outage", 0.4, "cloud", ("aws",), 0.5, ti.Gamma(2.0, 0.02)),
    ti.QuotaShare(0.3), BASIS, FrozenMap({"a": 1.0}),
], ids=lambda s: type(s).__name__)
def test_plain_specs_round_trip_equal(spec):
    assert round_trip(spec) == spec


def test_portfolio_round_trip_simulates_the_same(book):
    again = round_trip(book)
    assert isinstance(again.arrays, FrozenMap) and dict(again.parameter_risk) == {"cyber": 0.2}
    pd.testing.assert_frame_equal(again.policies, book.policies)
    assert np.array_equal(ti.simulate(again, years=500, seed=3).annual, ti.simulate(book, years=500, seed=3).annual)


def test_results_round_trip_keep_their_figures(book):
    line = ti.Line(ti.Poisson(2.0), ti.LogNormal(9.0, 1.2), occurrence=ti.Layer(limit=1e6))
    for result in (ti.simulate(book, years=500, seed=3), ti.simulate(line, years=500, seed=3), ti.exact(line)):
        again = round_trip(result)
        assert type(again) is type(result)
        for figure in ("mean", "std"):
            assert getattr(again, figure)() == getattr(result, figure)()
        assert again.quantile(0.99) == result.quantile(0.99) and again.tvar(0.99) == result.tvar(0.99)


def test_quoter_round_trip_quotes_the_same(book):
    quoter = Quoter(ti.simulate(book, years=500, seed=3), BASIS)
    policy = {"policy_id": "n", "line": "cyber", "claim_rate": 0.4, "severity": "breach", "sum_insured": 2e6,
              "cloud": "aws"}
    assert round_trip(quoter).quote(policy) == quoter.quote(policy)


def test_catalogue_product_book_and_priced_portfolio_round_trip(catalogue):
    again = round_trip(catalogue)
    assert again.products.keys() == catalogue.products.keys() and again.scenarios.keys() == catalogue.scenarios.keys()
    assert all(again.products[k] == catalogue.products[k] for k in catalogue.products)
    policies = ti.read_policies("examples/portfolio.csv").head(40)
    product_book = round_trip(catalogue.book(policies))
    priced = ti.price_catalogue(again, product_book, years=400, seed=2)
    reference = ti.price_catalogue(catalogue, catalogue.book(policies), years=400, seed=2)
    pd.testing.assert_frame_equal(priced.policies, reference.policies)
    copy = round_trip(priced)
    pd.testing.assert_frame_equal(copy.policies, priced.policies)
    assert copy.book == priced.book
    quoter = ti.CatalogueQuoter(catalogue, priced)
    snapshot = round_trip(quoter.snapshot)
    pd.testing.assert_frame_equal(snapshot.policies, quoter.snapshot.policies)
    candidates = policies.head(8).assign(policy_id=lambda t: "N" + t["policy_id"])
    pd.testing.assert_frame_equal(round_trip(quoter).quote_many(candidates), quoter.quote_many(candidates))
    pd.testing.assert_frame_equal(ti.CatalogueQuoter(catalogue, snapshot).quote_many(candidates),
                                  quoter.quote_many(candidates))


def test_programme_and_pool_specs_and_run_round_trip():
    programme = ti.read_programme("examples/pools/cyber_programme.toml")
    assert round_trip(programme) == programme
    spec = ti.read_pool("examples/pools/cyber_pool.toml")
    again = round_trip(spec)
    assert again.members == spec.members and dict(again.unplaced) == dict(spec.unplaced)
    run = ti.run_pool(again, years=300, seed=4)
    reference = ti.run_pool(spec, years=300, seed=4)
    pd.testing.assert_frame_equal(run.members, reference.members)
    copy = round_trip(run)
    pd.testing.assert_frame_equal(copy.members, run.members)
    assert copy.pool == run.pool


def test_backtest_config_and_run_round_trip(tmp_path):
    config = read_config("examples/backtest/tech_lines_backtest.toml")
    assert round_trip(config) == config
    run = run_backtest(config, store=tmp_path / "runs.sqlite", out=tmp_path / "report")
    copy = round_trip(run)
    assert copy.run_id == run.run_id and copy.inputs_hash == run.inputs_hash
    assert_same_tables(copy.tables(), run.tables())
