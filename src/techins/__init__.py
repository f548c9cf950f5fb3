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

from techins.catalogue.products import Catalogue, Product, read_catalogue, read_policies
from techins.catalogue.quote import CatalogueQuoter
from techins.catalogue.rating import PricedPortfolio, price_catalogue
from techins.catalogue.snapshot import BookSnapshot, load_snapshot, save_snapshot
from techins.errors import AccuracyWarning, InputError, InputTypeError, TechinsError
from techins.exact.aggregate import ExactResult, exact
from techins.model.dependence import (
    ClaytonCopula,
    Dependence,
    FrankCopula,
    GammaFrailty,
    GaussianCopula,
    GumbelCopula,
    StudentTCopula,
    read_dependence,
)
from techins.model.distributions import (
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
from techins.model.line import Layer, Line
from techins.model.linefile import read_line
from techins.model.portfolio import CommonShock, Portfolio
from techins.pool.run import PoolRun, run_pool
from techins.pool.spec import PoolSpec, read_pool
from techins.reinsurance.compensation import (
    CompensationResult,
    RiskCompensation,
    apply_compensation,
    read_compensation,
)
from techins.reinsurance.programme import (
    AggregateXL,
    OccurrenceXL,
    PerRiskXL,
    Programme,
    QuotaShare,
    Surplus,
    apply_programme,
    read_programme,
)
from techins.results.simulation import BookResult, SimulationResult
from techins.simulation.api import simulate
from techins.simulation.dependence import sample_copula
from techins.version import VERSION

__version__ = VERSION

__all__ = [
    "AccuracyWarning",
    "AggregateXL",
    "Binomial",
    "BookResult",
    "BookSnapshot",
    "Catalogue",
    "CatalogueQuoter",
    "ClaytonCopula",
    "CommonShock",
    "Dependence",
    "FrankCopula",
    "GammaFrailty",
    "GaussianCopula",
    "GumbelCopula",
    "StudentTCopula",
    "CompensationResult",
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
    "RiskCompensation",
    "SeverityLaw",
    "SimulationResult",
    "Spliced",
    "Surplus",
    "TechinsError",
    "Weibull",
    "apply_compensation",
    "apply_programme",
    "exact",
    "load_snapshot",
    "price_catalogue",
    "read_catalogue",
    "read_compensation",
    "read_dependence",
    "read_line",
    "read_policies",
    "read_pool",
    "read_programme",
    "run_pool",
    "sample_copula",
    "save_snapshot",
    "simulate",
    "__version__",
]
