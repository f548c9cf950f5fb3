"""techins: tech-insurance pricing and co-insurance engine.

Monte Carlo frequency-severity simulation in Numba kernels, with an exact FFT / Panjer path as its
independent check.

Examples
--------
>>> import techins as ti
>>> line = ti.Line(frequency=ti.Poisson(5.0), severity=ti.LogNormal(mu=10.0, sigma=2.0),
...                occurrence=ti.Layer(limit=5e6, deductible=1e6))
>>> sim = ti.simulate(line, years=100_000, seed=1)
>>> ex = ti.exact(line)
>>> abs(sim.mean() - ex.mean()) < 4 * sim.stderr("mean")
True
"""

from techins.distributions import (
    Binomial,
    Empirical,
    Exponential,
    FrequencyLaw,
    Gamma,
    LogNormal,
    NegativeBinomial,
    Pareto,
    Poisson,
    SeverityLaw,
    Spliced,
    Weibull,
)
from techins.errors import AccuracyWarning, InputError, InputTypeError, TechinsError
from techins.exact import ExactResult, exact
from techins.line import Layer, Line
from techins.linefile import read_line
from techins.pool import PoolSpec, read_pool
from techins.pool_run import PoolRun, run_pool
from techins.portfolio import CommonShock, Portfolio
from techins.products import Catalogue, Product, read_catalogue, read_policies
from techins.rating import PricedPortfolio, price_catalogue
from techins.reinsurance import (AggregateXL, OccurrenceXL, PerRiskXL, Programme, QuotaShare, Surplus, apply_programme,
                                 read_programme)
from techins.results import BookResult, SimulationResult
from techins.simulation.api import simulate

__version__ = "0.1.0"

__all__ = [
    "AccuracyWarning",
    "AggregateXL",
    "Binomial",
    "BookResult",
    "Catalogue",
    "CommonShock",
    "Empirical",
    "ExactResult",
    "Exponential",
    "FrequencyLaw",
    "Gamma",
    "InputError",
    "InputTypeError",
    "Layer",
    "Line",
    "LogNormal",
    "NegativeBinomial",
    "OccurrenceXL",
    "Pareto",
    "PerRiskXL",
    "Poisson",
    "PoolRun",
    "PoolSpec",
    "Portfolio",
    "PricedPortfolio",
    "Product",
    "Programme",
    "QuotaShare",
    "SeverityLaw",
    "SimulationResult",
    "Spliced",
    "Surplus",
    "TechinsError",
    "Weibull",
    "apply_programme",
    "exact",
    "price_catalogue",
    "read_catalogue",
    "read_line",
    "read_policies",
    "read_pool",
    "read_programme",
    "run_pool",
    "simulate",
    "__version__",
]
