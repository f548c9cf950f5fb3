"""The public names other programs rely on (the names the README and docs promise), and the runnable docstring examples."""

import doctest
import importlib

import pytest

import techins as ti

CONTRACT = {
    "Line", "Layer", "Poisson", "NegativeBinomial", "Binomial", "LogNormal", "Gamma", "Pareto", "Weibull",
    "Exponential", "Empirical", "simulate", "exact",
}


def test_contract_names_are_public():
    assert CONTRACT <= set(ti.__all__)
    for name in ti.__all__:
        assert hasattr(ti, name), name


def test_all_is_exactly_this_list():
    assert sorted(ti.__all__) == sorted([
        "AccuracyWarning", "AggregateXL", "Binomial", "BookResult", "BookSnapshot", "Catalogue", "CatalogueQuoter",
        "CommonShock", "Empirical",
        "ExactResult", "Exponential", "FrequencyLaw", "Gamma", "InputError", "InputTypeError", "Layer", "Line",
        "LogNormal", "NegativeBinomial", "OccurrenceXL", "Pareto", "PerRiskXL", "Poisson", "PoolRun", "PoolSpec", "Portfolio",
        "PricedPortfolio", "Product", "Programme", "QuotaShare", "SeverityLaw", "SimulationResult", "Spliced",
        "Surplus", "TechinsError", "Weibull", "apply_programme", "exact", "price_catalogue", "read_catalogue",
        "read_line", "read_policies", "read_pool", "read_programme", "run_pool", "simulate", "__version__",
        "load_snapshot", "save_snapshot",
        "ClaytonCopula", "Dependence", "FrankCopula", "GammaFrailty", "GaussianCopula", "GumbelCopula",
        "StudentTCopula", "sample_copula",
        "CompensationResult", "RiskCompensation", "apply_compensation", "read_compensation", "read_dependence",
    ])


def test_contract_figures_on_both_paths():
    line = ti.Line(frequency=ti.Poisson(5.0), severity=ti.LogNormal(mu=10.0, sigma=2.0),
                   occurrence=ti.Layer(limit=5e6, deductible=1e6), aggregate=ti.Layer(limit=2e7, deductible=0.0))
    sim = ti.simulate(line, years=20_000, seed=1)
    ex = ti.exact(line)
    for d in (sim, ex):
        for value in (d.mean(), d.std(), d.quantile(0.995), d.tvar(0.99), d.prob_exceed(1e7)):
            assert isinstance(value, float)
        assert list(d.ep_curve().columns[:6]) == ["return_period", "exceedance_prob", "aep", "aep_tvar",
                                                   "oep", "oep_tvar"]
    assert sim.annual.shape == (20_000,)
    assert sim.stderr("mean") > 0 and ex.stderr("mean") == 0.0


@pytest.mark.parametrize("module", ["techins", "techins.model.line", "techins.simulation.api", "techins.exact.aggregate",
                                    "techins.model.distributions", "techins.model.portfolio",
                                    "techins.catalogue.products"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_import_techins_is_cheap():
    """``import techins`` loads no SciPy submodule, plotting or Dask: scripts and underwriting systems
    pay for those only on the paths that use them (techins.lazy)."""
    import subprocess
    import sys

    code = ("import sys, techins; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('matplotlib', 'dask', 'distributed') or m.startswith(('scipy.stats', 'scipy.special', 'scipy.fft', "
            "'scipy.optimize'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
