"""Line files (``techins.model.linefile``): every shipped example equals the line written by hand, every
law is read by its name, and every bad file is an error naming the file and the field."""

import math
import re
import textwrap
from pathlib import Path

import pytest

import techins as ti
from techins.errors import InputError, InputTypeError, TechinsError
from techins.model.linefile import (
    FREQUENCY_LAWS,
    SEVERITY_LAWS,
    law_from_mapping,
    line_from_mapping,
    load_toml,
    read_line,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "lines"

# each example file's line written by hand from the numbers in the file
BY_HAND = {
    "cyber_sme_layer.toml": ti.Line(ti.NegativeBinomial(12.0, 30.0), ti.LogNormal(11.5, 1.6),
                                    occurrence=ti.Layer(limit=2e6, deductible=5e4),
                                    aggregate=ti.Layer(limit=1e7)),
    "reference_poisson_lognormal.toml": ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0),
                                                occurrence=ti.Layer(limit=5e6, deductible=1e6)),
}


def test_every_example_file_has_its_line_by_hand():
    assert sorted(p.name for p in EXAMPLES.glob("*.toml")) == sorted(BY_HAND)


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_example_file_reads_as_the_line_by_hand(name):
    path = EXAMPLES / name
    line = read_line(path)
    assert line == BY_HAND[name]
    assert ti.read_line(str(path)) == BY_HAND[name]  # the public name, and a str path
    assert line_from_mapping(load_toml(path), source=name) == BY_HAND[name]


def test_reference_file_figures():
    line = read_line(EXAMPLES / "reference_poisson_lognormal.toml")
    assert line.aggregate is None
    # E[S] = 5 (LEV(6M) - LEV(1M)), the lognormal LEV by hand: 199,982.955 (README)
    assert line.expected_loss() == pytest.approx(199_982.955, abs=1e-3)


def test_negative_binomial_of_the_cyber_file():
    freq = read_line(EXAMPLES / "cyber_sme_layer.toml").frequency
    # size r = mean^2 / (variance - mean) = 144 / 18 = 8, p = mean / variance = 0.4
    assert freq.size == pytest.approx(8.0, rel=1e-15) and freq.prob == pytest.approx(0.4, rel=1e-15)


# every law by its name: the table as a file would give it, and the law built by hand
SEVERITY_TABLES = {
    "lognormal": ({"law": "lognormal", "mu": 10.0, "sigma": 2.0}, ti.LogNormal(10.0, 2.0)),
    "gamma": ({"law": "gamma", "shape": 2.5, "scale": 4e4}, ti.Gamma(2.5, 4e4)),
    "weibull": ({"law": "weibull", "shape": 0.7, "scale": 5e4}, ti.Weibull(0.7, 5e4)),
    "pareto": ({"law": "pareto", "alpha": 2.5, "scale": 1e5}, ti.Pareto(2.5, 1e5)),
    "exponential": ({"law": "exponential", "mean": 8e4}, ti.Exponential(8e4)),
    "empirical": ({"law": "empirical", "values": [1e3, 5e3, 2e4], "weights": [0.5, 0.3, 0.2]},
                  ti.Empirical([1e3, 5e3, 2e4], [0.5, 0.3, 0.2])),
    "spliced": ({"law": "spliced", "body": {"law": "lognormal", "mu": 10.0, "sigma": 1.0}, "threshold": 1e5,
                 "tail_shape": 0.4, "tail_scale": 5e4},
                ti.Spliced(ti.LogNormal(10.0, 1.0), threshold=1e5, tail_shape=0.4, tail_scale=5e4)),
}
FREQUENCY_TABLES = {
    "poisson": ({"law": "poisson", "mean": 5.0}, ti.Poisson(5.0)),
    "negative_binomial": ({"law": "negative_binomial", "mean": 12.0, "variance": 30.0},
                          ti.NegativeBinomial(12.0, 30.0)),
    "binomial": ({"law": "binomial", "n": 20, "p": 0.15}, ti.Binomial(20, 0.15)),
}


def test_every_law_name_is_tested():
    assert set(SEVERITY_TABLES) == set(SEVERITY_LAWS)
    assert set(FREQUENCY_TABLES) == set(FREQUENCY_LAWS)


@pytest.mark.parametrize("name", sorted(SEVERITY_TABLES))
def test_severity_law_by_name(name):
    table, expected = SEVERITY_TABLES[name]
    law = law_from_mapping(table, SEVERITY_LAWS, "f.toml", "severity")
    assert law == expected and type(law) is type(expected)
    assert table["law"] == name  # the mapping given is not changed (law is popped from a copy)


@pytest.mark.parametrize("name", sorted(FREQUENCY_TABLES))
def test_frequency_law_by_name(name):
    table, expected = FREQUENCY_TABLES[name]
    law = law_from_mapping(table, FREQUENCY_LAWS, "f.toml", "frequency")
    assert law == expected and type(law) is type(expected)


def write(tmp_path, text, name="line.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


GOOD = """\
    [frequency]
    law = "poisson"
    mean = 5.0

    [severity]
    law = "lognormal"
    mu = 10.0
    sigma = 2.0
    """


def test_every_law_read_from_a_file(tmp_path):
    """The laws through the TOML reader (arrays, sub-tables, integers) and both layers."""
    path = write(tmp_path, """\
        [frequency]
        law = "binomial"
        n = 20
        p = 0.15

        [severity]
        law = "spliced"
        threshold = 1e5
        tail_shape = 0.4
        tail_scale = 5e4
        [severity.body]
        law = "lognormal"
        mu = 10.0
        sigma = 1.0

        [occurrence]
        limit = 1e6
        deductible = 1e4
        share = 0.5

        [aggregate]
        deductible = 2e4
        """)
    assert read_line(path) == ti.Line(ti.Binomial(20, 0.15), SEVERITY_TABLES["spliced"][1],
                                      occurrence=ti.Layer(limit=1e6, deductible=1e4, share=0.5),
                                      aggregate=ti.Layer(deductible=2e4))
    path = write(tmp_path, """\
        [frequency]
        law = "poisson"
        mean = 0.5
        [severity]
        law = "empirical"
        values = [1000, 5000, 20000]
        """)
    line = read_line(path)
    assert line.severity == ti.Empirical([1e3, 5e3, 2e4]) and line.occurrence is None and line.aggregate is None
    assert line.expected_loss() == pytest.approx(0.5 * (1e3 + 5e3 + 2e4) / 3.0, rel=1e-15)


def test_an_unlimited_layer_by_inf(tmp_path):
    path = write(tmp_path, GOOD + "[occurrence]\nlimit = inf\ndeductible = 1e6\n")
    assert read_line(path).occurrence == ti.Layer(limit=math.inf, deductible=1e6)


def edit(old, new):
    return lambda text: text.replace(old, new)


# a bad file, what makes it bad, the error class and what the message must say (after the file's path)
BAD = {
    "syntax": (edit("mean = 5.0", "mean = = 5.0"), InputError, r"not valid TOML \(.*line 3"),
    "encoding": (None, InputError, "not UTF-8 text"),
    "unknown_top_key": (lambda t: t + "\n[reinsurance]\nlimit = 1.0\n", InputError,
                        r"unknown key 'reinsurance'; allowed keys are \['aggregate', 'frequency', "
                        r"'occurrence', 'severity'\]"),
    "unknown_law_key": (edit("sigma = 2.0", "sigma = 2.0\nsd = 2.0"), InputError,
                        r"\[severity\] unknown key 'sd'; allowed keys are \['mu', 'sigma'\]"),
    "unknown_layer_key": (lambda t: t + "[occurrence]\nretention = 1e6\n", InputError,
                          r"\[occurrence\] unknown key 'retention'; allowed keys are \['deductible', 'limit', "
                          r"'share'\]"),
    "unknown_severity_law": (edit('"lognormal"', '"loggamma"'), InputError,
                             r"\[severity\] law 'loggamma' is unknown; use one of \['empirical', 'exponential', "
                             r"'gamma', 'lognormal', 'pareto', 'spliced', 'weibull'\]"),
    "unknown_frequency_law": (edit('"poisson"', '"geometric"'), InputError,
                              r"\[frequency\] law 'geometric' is unknown; use one of \['binomial', "
                              r"'negative_binomial', 'poisson'\]"),
    "no_law": (edit('law = "poisson"\n', ""), InputError, r"\[frequency\] needs a 'law' key"),
    "missing_table": (lambda t: t[:t.index("[severity]")], InputError, r"missing table \[severity\]"),
    "missing_field": (edit("sigma = 2.0\n", ""), InputError, r"\[severity\] missing key 'sigma'"),
    "missing_body_field": (lambda t: t.replace('law = "lognormal"\nmu = 10.0\nsigma = 2.0\n',
                                               'law = "spliced"\nthreshold = 1e5\ntail_shape = 0.3\n'
                                               '[severity.body]\nlaw = "gamma"\nshape = 2.0\n'),
                           InputError, r"\[severity.body\] missing key 'scale'"),
    "negative_sigma": (edit("sigma = 2.0", "sigma = -2.0"), InputError,
                       r"\[severity\] LogNormal: sigma must be in \(0, inf\], got -2.0"),
    "negative_mean": (edit("mean = 5.0", "mean = -5.0"), InputError,
                      r"\[frequency\] Poisson: mean must be in \[0, inf\], got -5.0"),
    "negative_deductible": (lambda t: t + "[occurrence]\ndeductible = -1e6\n", InputError,
                            r"\[occurrence\] Layer: deductible must be in \[0, inf\], got -1000000.0"),
    "nan_limit": (lambda t: t + "[aggregate]\nlimit = nan\n", InputError,
                  r"\[aggregate\] Layer: limit must be a number, got NaN"),
    "negative_body": (lambda t: t.replace('law = "lognormal"\nmu = 10.0\nsigma = 2.0\n',
                                          'law = "spliced"\nthreshold = 1e5\ntail_shape = 0.3\ntail_scale = 1e4\n'
                                          '[severity.body]\nlaw = "gamma"\nshape = 2.0\nscale = -1.0\n'),
                      InputError, r"\[severity.body\] Gamma: scale must be in \(0, inf\], got -1.0"),
    "variance_below_mean": (edit('law = "poisson"\nmean = 5.0', 'law = "negative_binomial"\nmean = 5.0\n'
                                 'variance = 4.0'), InputError,
                            r"\[frequency\] NegativeBinomial: variance must exceed mean"),
    "text_value": (edit("sigma = 2.0", 'sigma = "2.0"'), InputTypeError,
                   r"\[severity\] LogNormal: sigma must be a real number, got '2.0'"),
    "float_trials": (edit('law = "poisson"\nmean = 5.0', 'law = "binomial"\nn = 10.5\np = 0.1'), InputTypeError,
                     r"\[frequency\] Binomial: n must be an integer, got 10.5"),
    "not_a_table": (lambda t: "occurrence = 5e6\n" + t, InputTypeError,
                    r"\[occurrence\] must be a table, got 5000000.0"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_line_file_names_the_file_and_the_field(tmp_path, case):
    change, error, message = BAD[case]
    path = tmp_path / f"{case}.toml"
    if change is None:  # a file that is not UTF-8
        path.write_bytes(textwrap.dedent(GOOD).replace("5.0", "5.0 # \xe9").encode("latin-1"))
    else:
        text = change(textwrap.dedent(GOOD))
        assert text != textwrap.dedent(GOOD), "the edit must change the file"
        path.write_text(text, encoding="utf-8")
    with pytest.raises(error, match="^" + re.escape(str(path)) + ": " + message) as info:
        read_line(path)
    assert isinstance(info.value, TechinsError) and "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nowhere\.toml: no such file"):
        read_line(tmp_path / "nowhere.toml")


def test_mapping_errors_name_the_source():
    table = {"frequency": {"law": "poisson", "mean": 1.0}, "severity": {"law": "exponential", "mean": -3.0}}
    with pytest.raises(InputError, match=r"^row 7: \[severity\] Exponential: mean must be in \(0, inf\]"):
        line_from_mapping(table, source="row 7")
    with pytest.raises(InputError, match=r"^line: missing table \[frequency\]"):
        line_from_mapping({"severity": {"law": "exponential", "mean": 3.0}})
    with pytest.raises(InputTypeError, match=r"^src: \[severity\] must be a table, got 'lognormal'"):
        law_from_mapping("lognormal", SEVERITY_LAWS, "src", "severity")
