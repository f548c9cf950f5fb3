"""Hypothesis strategies shared by the property tests."""

import math

from hypothesis import strategies as st

import techins as ti

money = st.floats(min_value=0.0, max_value=1e9, allow_nan=False, allow_infinity=False)
positive_money = st.floats(min_value=1e-3, max_value=1e9, allow_nan=False, allow_infinity=False)
shares = st.floats(min_value=1e-3, max_value=1.0, allow_nan=False)


@st.composite
def layers(draw):
    """Random layers, a third of them unlimited."""
    limit = draw(st.one_of(st.just(math.inf), positive_money))
    return ti.Layer(limit=limit, deductible=draw(money), share=draw(shares))


frequencies = st.one_of(
    st.floats(0.0, 20.0).map(ti.Poisson),
    st.tuples(st.floats(0.1, 10.0), st.floats(1.05, 4.0)).map(lambda t: ti.NegativeBinomial(t[0], t[0] * t[1])),
    st.tuples(st.integers(0, 30), st.floats(0.0, 1.0)).map(lambda t: ti.Binomial(t[0], t[1])),
)
severities = st.one_of(
    st.tuples(st.floats(0.0, 12.0), st.floats(0.1, 2.5)).map(lambda t: ti.LogNormal(*t)),
    st.tuples(st.floats(0.2, 10.0), st.floats(1.0, 1e5)).map(lambda t: ti.Gamma(*t)),
    st.tuples(st.floats(0.3, 3.0), st.floats(1.0, 1e5)).map(lambda t: ti.Weibull(*t)),
    st.tuples(st.floats(1.1, 6.0), st.floats(1.0, 1e5)).map(lambda t: ti.Pareto(*t)),
    st.floats(1.0, 1e5).map(ti.Exponential),
    st.lists(st.floats(0.0, 1e6), min_size=1, max_size=8).map(ti.Empirical),
)
