"""Dependence read from TOML (``techins.read_dependence``; the pool file's ``[dependence]``): each
family by Kendall's tau or by its parameter gives the spec built in Python, and every mistake is one
error naming the file, the table and the fix."""

import pytest

import techins as ti
from techins.model.dependence import dependence_from_mapping
from techins.pool.spec import pool_from_mapping

EXAMPLE = "examples/dependence/tech_lines.toml"


def test_the_shipped_example_reads_as_its_comments_say():
    copula, frailty = ti.read_dependence(EXAMPLE)
    assert copula == ti.Dependence(ti.GumbelCopula.from_tau(0.3), lines=("cyber", "ip"))
    assert copula.copula.kendall_tau == pytest.approx(0.3, abs=1e-15)
    assert frailty == ti.GammaFrailty(0.25, lines=("low_altitude",))


@pytest.mark.parametrize("family, table, expected", [
    ("gaussian", {"tau": 0.4}, ti.GaussianCopula.from_tau(0.4)),
    ("gaussian", {"rho": [[1.0, 0.3], [0.3, 1.0]]}, ti.GaussianCopula(((1.0, 0.3), (0.3, 1.0)))),
    ("t", {"rho": 0.5, "df": 4}, ti.StudentTCopula(0.5, 4.0)),
    ("t", {"tau": 0.2, "df": 3.5}, ti.StudentTCopula.from_tau(0.2, 3.5)),
    ("clayton", {"theta": 2.0}, ti.ClaytonCopula(2.0)),
    ("clayton", {"tau": 0.5}, ti.ClaytonCopula(2.0)),  # theta = 2 tau / (1 - tau)
    ("gumbel", {"tau": 0.5}, ti.GumbelCopula(2.0)),  # theta = 1 / (1 - tau)
    ("frank", {"theta": 5.0}, ti.FrankCopula(5.0)),
    ("frank", {"tau": 0.3}, ti.FrankCopula.from_tau(0.3)),
])
def test_each_family_by_tau_or_parameter(family, table, expected):
    (spec,) = dependence_from_mapping({"copula": {"family": family, "lines": ["a", "b"], **table}}, "d.toml")
    assert spec == ti.Dependence(expected, lines=("a", "b"))


def test_a_copula_by_column_and_several_frailties():
    specs = dependence_from_mapping({"copula": {"family": "clayton", "theta": 1.0, "column": "region"},
                                     "frailty": [{"cv": 0.2, "lines": ["a"]}, {"cv": 0.4, "lines": ["b", "c"]}]})
    assert specs == (ti.Dependence(ti.ClaytonCopula(1.0), column="region"), ti.GammaFrailty(0.2, ("a",)),
                     ti.GammaFrailty(0.4, ("b", "c")))


@pytest.mark.parametrize("data, message", [
    ({}, "d.toml: holds no dependence; write a [copula] table or [[frailty]] tables"),
    ({"copulas": {}}, "d.toml: unknown key 'copulas'; allowed keys are ['copula', 'frailty']"),
    ({"copula": {"tau": 0.3, "lines": ["a", "b"]}}, "d.toml: [copula] missing key 'family'; one of"),
    ({"copula": {"family": "normal", "tau": 0.3}}, "[copula] family 'normal' is unknown; use one of ['clayton'"),
    ({"copula": {"family": "gumbel", "lines": ["a", "b"]}}, "[copula] give either tau (Kendall's tau) or theta"),
    ({"copula": {"family": "gumbel", "tau": 0.3, "theta": 2.0, "lines": ["a", "b"]}}, "theta (the gumbel copula's "
     "parameter), not both"),
    ({"copula": {"family": "t", "rho": 0.3, "lines": ["a", "b"]}}, "[copula] missing key 'df'; the t copula's"),
    ({"copula": {"family": "gaussian", "rho": 0.3, "df": 3, "lines": ["a", "b"]}}, "[copula] unknown key 'df'"),
    ({"copula": {"family": "gumbel", "theta": 0.5, "lines": ["a", "b"]}}, "[copula] GumbelCopula: theta must be in "
     "[1, inf], got 0.5"),
    ({"copula": {"family": "clayton", "tau": 0.3, "lines": "a"}}, "[copula] lines must be a list of line names"),
    ({"copula": {"family": "clayton", "tau": 0.3, "lines": ["a"]}}, "[copula] Dependence: lines must name at least "
     "two lines"),
    ({"copula": {"family": "clayton", "tau": 0.3}}, "[copula] Dependence: give either lines=(...)"),
    ({"frailty": {"cv": 0.3, "lines": ["a"]}}, "[[frailty]] must be an array of tables"),
    ({"frailty": [{"cv": 0.3}]}, "d.toml: [[frailty]] #1: missing key 'lines'"),
    ({"frailty": [{"cv": 0.3, "lines": ["a"]}, {"cv": 0.0, "lines": ["b"]}]}, "[[frailty]] #2: GammaFrailty: cv "
     "must be in (0, 10]"),
    ({"frailty": [{"cv": 0.3, "lines": ["a"], "line": "b"}]}, "[[frailty]] #1: unknown key 'line'"),
])
def test_mistakes_name_the_file_table_and_fix(data, message):
    with pytest.raises((ti.InputError, ti.InputTypeError)) as caught:
        dependence_from_mapping(data, "d.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("d.toml: ")


def test_a_missing_or_broken_file(tmp_path):
    with pytest.raises(ti.InputError, match="nothing.toml: no such file"):
        ti.read_dependence(tmp_path / "nothing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[copula\n")
    with pytest.raises(ti.InputError, match="bad.toml: not valid TOML"):
        ti.read_dependence(bad)


POOL = {"name": "p", "lines": ["cyber"], "member": [{"name": "A", "share": 1.0}]}


def test_a_pool_file_takes_a_dependence_table_or_a_path(tmp_path):
    spec = pool_from_mapping(POOL | {"dependence": {"frailty": [{"cv": 0.3, "lines": ["cyber"]}]}}, "pool.toml")
    assert spec.dependence == (ti.GammaFrailty(0.3, ("cyber",)),)
    (tmp_path / "lines.toml").write_text('[[frailty]]\ncv = 0.5\nlines = ["cyber"]\n')
    spec = pool_from_mapping(POOL | {"dependence": "lines.toml"}, "pool.toml", base=tmp_path)
    assert spec.dependence == (ti.GammaFrailty(0.5, ("cyber",)),)
    assert pool_from_mapping(POOL, "pool.toml").dependence == ()
    with pytest.raises(ti.InputError, match=r"pool.toml: \[dependence.copula\] family 'x' is unknown"):
        pool_from_mapping(POOL | {"dependence": {"copula": {"family": "x"}}}, "pool.toml")
    with pytest.raises(ti.InputTypeError, match="dependence must be a Dependence, a GammaFrailty or a list"):
        ti.PoolSpec("p", ("cyber",), spec.members, dependence=("cyber",))
