"""The one spec-from-TOML builder (``techins.io.toml``) and the five readers built on it: the same mistake
gets the same words in every file kind, naming the file, the table and the field, and the fix."""

import ast
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from techins.backtest.run import read_config
from techins.catalogue.products import read_product
from techins.errors import InputError, InputTypeError, TechinsError
from techins.io.toml import (
    Where,
    array_of_tables,
    load_toml,
    only_keys,
    placed,
    require_keys,
    spec_from_table,
    sub_table,
    table,
)
from techins.model.linefile import read_line
from techins.pool.spec import read_pool
from techins.reinsurance.programme import read_programme

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------- the builder
@dataclass(frozen=True)
class Terms:
    limit: float
    deductible: float = 0.0
    tags: dict = field(default_factory=dict)
    owner: str = "terms"

    def __post_init__(self):
        if self.limit <= 0:
            raise InputError(f"Terms: limit must be > 0, got {self.limit!r}")


@dataclass(frozen=True)
class Book:
    years: int

    def __post_init__(self):
        if self.years < 2:
            raise InputError(f"[book]: years must be at least 2, got {self.years!r}")


AT = Where("f.toml", "[terms]")


def test_spec_from_table_builds_with_defaults_and_given_fields():
    assert spec_from_table(Terms, {"limit": 5.0}, AT) == Terms(limit=5.0)
    assert spec_from_table(Terms, {"limit": 5.0}, AT, owner="x") == Terms(limit=5.0, owner="x")


def test_unknown_key_names_file_table_key_and_the_allowed_keys():
    with pytest.raises(InputError) as info:
        spec_from_table(Terms, {"limit": 5.0, "deductable": 1.0}, AT)
    assert str(info.value) == ("f.toml: [terms] unknown key 'deductable'; allowed keys are "
                               "['deductible', 'limit', 'owner', 'tags']")


def test_a_given_field_is_not_a_key_of_the_table():
    with pytest.raises(InputError, match=r"^f.toml: \[terms\] unknown key 'owner'; allowed keys are "
                                         r"\['deductible', 'limit', 'tags'\]$"):
        spec_from_table(Terms, {"limit": 5.0, "owner": "y"}, AT, owner="x")


def test_missing_key_is_named_and_a_default_factory_is_not_required():
    with pytest.raises(InputError) as info:
        spec_from_table(Terms, {"deductible": 1.0}, AT)
    assert str(info.value) == "f.toml: [terms] missing key 'limit'"


def test_the_specs_own_error_is_placed_once_and_keeps_its_type():
    with pytest.raises(InputError) as info:
        spec_from_table(Terms, {"limit": -1.0}, AT)
    assert str(info.value) == "f.toml: [terms] Terms: limit must be > 0, got -1.0"
    # a message that already starts with its table does not repeat it
    with pytest.raises(InputError) as info:
        spec_from_table(Book, {"years": 1}, Where("pool.toml", "[book]"))
    assert str(info.value) == "pool.toml: [book]: years must be at least 2, got 1"


def test_a_value_the_spec_cannot_look_at_is_an_input_type_error():
    with pytest.raises(InputTypeError, match=r"^f.toml: \[terms\] Terms: '<=' not supported"):
        spec_from_table(Terms, {"limit": "five"}, AT)


def test_where_names_sub_tables_and_items():
    top = Where("a.toml")
    assert top.sub("severity").table == "[severity]"
    assert top.sub("severity").sub("body").table == "[severity.body]"
    assert top.item("member", 2).table == "[[member]] #3"
    assert top.item("member", 0, "Lead Re").table == "[[member]] 'Lead Re'"
    assert top.item("coverage", 0, "breach").sub("severity").sub("body").table == "[[coverage]] 'breach' [severity.body]"
    assert top.message("unknown key 'x'") == "a.toml: unknown key 'x'"
    assert top.sub("book").message("unknown key 'x'") == "a.toml: [book] unknown key 'x'"
    assert top.item("member", 0, "A").message("missing key 'share'") == "a.toml: [[member]] 'A': missing key 'share'"
    assert top.item("member", 0, "A").sub("s").message("bad") == "a.toml: [[member]] 'A' [s] bad"
    assert top.sub("pricing").message("a.toml: [x]: already placed") == "a.toml: [x]: already placed"


@settings(deadline=None, max_examples=200)
@given(keys=st.sets(st.text(min_size=1, max_size=4)), allowed=st.sets(st.text(min_size=1, max_size=4)))
def test_only_keys_refuses_exactly_the_keys_outside_the_allowed_ones(keys, allowed):
    data = dict.fromkeys(keys, 1)
    unknown = sorted(keys - allowed)
    if not unknown:
        only_keys(data, allowed, AT)
        return
    with pytest.raises(InputError) as info:
        only_keys(data, allowed, AT)
    assert str(info.value) == f"f.toml: [terms] unknown key {unknown[0]!r}; allowed keys are {sorted(allowed)}"


@settings(deadline=None, max_examples=200)
@given(source=st.text(min_size=1, max_size=8).filter(lambda s: ":" not in s),
       path=st.lists(st.text(alphabet="abcxyz_", min_size=1, max_size=5), min_size=0, max_size=3),
       text=st.text(alphabet="abc xyz'", max_size=20))
def test_every_message_starts_with_the_file_then_the_table(source, path, text):
    where = Where(source)
    for key in path:
        where = where.sub(key)
    placed_text = where.message(text)
    if path and not text.startswith(where.table):
        assert placed_text == f"{source}: [{'.'.join(path)}] {text}"
    else:
        assert placed_text == f"{source}: {text}"
    assert where.message(placed_text) == placed_text  # placing twice changes nothing


def test_table_checks():
    top = Where("f.toml")
    assert sub_table({}, "book", top) == {}
    assert sub_table({"book": {"a": 1}}, "book", top) == {"a": 1}
    with pytest.raises(InputError, match=r"^f.toml: missing table \[book\]; the files$"):
        sub_table({}, "book", top, required=True, hint="the files")
    with pytest.raises(InputTypeError, match=r"^f.toml: \[book\] must be a table, got 3$"):
        sub_table({"book": 3}, "book", top)
    with pytest.raises(InputTypeError, match=r"^f.toml: the file must be a table, got \[1\]$"):
        table([1], top)
    assert array_of_tables({}, "member", top) == []
    with pytest.raises(InputError, match=r"^f.toml: missing \[\[member\]\] tables; one per member$"):
        array_of_tables({}, "member", top, required=True, hint="one per member")
    with pytest.raises(InputTypeError, match=r"^f.toml: \[\[member\]\] must be an array of tables"):
        array_of_tables({"member": {"name": "A"}}, "member", top)
    with pytest.raises(InputError, match=r"^f.toml: \[inputs\] missing key 'claims'$"):
        require_keys({"policies": "p.csv"}, ("policies", "claims"), top.sub("inputs"))


def test_placed_keeps_the_error_type():
    with pytest.raises(InputTypeError, match=r"^f.toml: \[terms\] bad$"):
        with placed(AT):
            raise InputTypeError("bad")
    with pytest.raises(ZeroDivisionError):  # not a user mistake: not rewritten
        with placed(AT):
            1 / 0


def test_load_toml_names_the_file(tmp_path):
    with pytest.raises(InputError, match="nowhere.toml: no such file"):
        load_toml(tmp_path / "nowhere.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[a\n")
    with pytest.raises(InputError, match=r"bad.toml: not valid TOML \("):
        load_toml(bad)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "café"\n'.encode("latin-1"))
    with pytest.raises(InputError, match="latin.toml: not UTF-8 text"):
        load_toml(latin)
    with pytest.raises(InputError, match="is a folder, not a TOML file"):
        load_toml(tmp_path)
    good = tmp_path / "good.toml"
    good.write_text("x = inf\n[t]\ny = 1\n")
    assert load_toml(good) == {"x": math.inf, "t": {"y": 1}}


def test_io_imports_nothing_above_it():
    """io/ is at the bottom: the standard library, numpy and techins.errors / validate / frozen only, and
    the number formatting of techins.display (below io in the layout) for the report pages."""
    allowed = {"techins.errors", "techins.validate", "techins.frozen", "techins.display"}
    for path in sorted((ROOT / "src" / "techins" / "io").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for name in names:
                if name == "techins" or name.startswith("techins."):
                    assert name in allowed or name.startswith("techins.io"), f"{path.name} imports {name}"


# ---------------------------------------------------------------------------------------- five readers
LINE = "[frequency]\nlaw = 'poisson'\nmean = 1.0\n\n[severity]\nlaw = 'exponential'\nmean = 2.0\n"
PRODUCT = """\
[product]
id = "p1"
name = "P one"
line = "cyber"
currency = "CNY"
version = "1"

[exposure]
column = "revenue"
unit = 1e6

[[coverage]]
name = "breach"
claims_per_unit = 0.01
severity = { law = "exponential", mean = 1000.0 }

[pricing]
risk_measure = "coc_tvar"
"""
PROGRAMME = "name = 'p'\n\n[[treaty]]\ntype = 'quota_share'\ncession = 0.3\n"
POOL = """\
name = "p"
lines = ["cyber"]

[book]
products = "products"
portfolio = "policies.csv"

[[member]]
name = "A"
share = 1.0
"""
BACKTEST = "scope = 's'\n\n[inputs]\npolicies = 'p.csv'\nclaims = 'c.csv'\n\n[parameters]\nlevel = 0.95\n"
READERS = {"line": (read_line, LINE), "product": (read_product, PRODUCT), "programme": (read_programme, PROGRAMME),
           "pool": (read_pool, POOL), "backtest": (read_config, BACKTEST)}

# (reader, edit of the good file, the message after "<file>: ")
MISTAKES = {
    "line_unknown_key": ("line", lambda t: t + "\n[occurrence]\nlimt = 5.0\n",
                         "[occurrence] unknown key 'limt'; allowed keys are ['deductible', 'limit', 'share']"),
    "product_unknown_key": ("product", lambda t: t + "lod = 0.1\n", "[pricing] unknown key 'lod'; allowed keys are "
                            "['fixed_expense', 'level', 'load', 'profit', 'rate_cap', 'rate_cap_column', "
                            "'risk_measure', 'subsidy_share', 'variable_expense']"),
    "programme_unknown_key": ("programme", lambda t: t + "comission = 0.2\n",
                              "[[treaty]] #1 (quota_share): unknown key 'comission'; allowed keys are "
                              "['ceding_commission', 'cession', 'name']"),
    "pool_unknown_key": ("pool", lambda t: t.replace("[book]\n", "[book]\nhorizon = 2\n"),
                         "[book] unknown key 'horizon'; allowed keys are ['cost_of_capital', 'level', "
                         "'portfolio', 'premium_column', 'products', 'programme', 'reinsurance_load', 'seed', "
                         "'years']"),
    "backtest_unknown_key": ("backtest", lambda t: t + "levl = 0.9\n",
                             "[parameters] unknown key 'levl'; allowed keys are ['expense_tolerance', "
                             "'fixed_expense_ratio', 'flag_level', 'level', 'near_limit', 'predictive_cv', "
                             "'profit', 'severity_law', 'severity_quantile', 'tail_factor', 'var_level', "
                             "'variable_expense_ratio']"),
    "line_top_unknown_key": ("line", lambda t: "frequncy = 1\n" + t,
                             "unknown key 'frequncy'; allowed keys are ['aggregate', 'frequency', 'occurrence', "
                             "'severity']"),
    "programme_top_unknown_key": ("programme", lambda t: "nme = 'x'\n" + t,
                                  "unknown key 'nme'; allowed keys are ['name', 'treaty']"),
    "line_missing_law": ("line", lambda t: t.replace("law = 'exponential'\n", ""),
                         "[severity] needs a 'law' key, one of ['empirical', 'exponential', 'gamma', 'lognormal', "
                         "'pareto', 'spliced', 'weibull']"),
    "line_missing_key": ("line", lambda t: t.replace("mean = 2.0\n", ""), "[severity] missing key 'mean'"),
    "product_missing_key": ("product", lambda t: t.replace("claims_per_unit = 0.01\n", ""),
                            "[[coverage]] 'breach': missing key 'claims_per_unit'"),
    "programme_missing_key": ("programme", lambda t: t.replace("cession = 0.3\n", ""),
                              "[[treaty]] #1 (quota_share): missing key 'cession'"),
    "pool_missing_key": ("pool", lambda t: t.replace("share = 1.0\n", ""), "[[member]] 'A': missing key 'share'"),
    "backtest_missing_key": ("backtest", lambda t: t.replace("claims = 'c.csv'\n", ""),
                             "[inputs] missing key 'claims'"),
    "line_missing_table": ("line", lambda t: t[: t.index("[severity]")], "missing table [severity]"),
    "product_missing_table": ("product", lambda t: t[: t.index("[pricing]")], "missing table [pricing]"),
    "backtest_missing_table": ("backtest", lambda t: "scope = 's'\n", "missing table [inputs]; the policies and "
                               "claims files"),
    "product_missing_array": ("product", lambda t: t[: t.index("[[coverage]]")] + "[pricing]\n",
                              "missing [[coverage]] tables; a product needs at least one coverage"),
    "programme_missing_array": ("programme", lambda t: "name = 'p'\n",
                                "missing [[treaty]] tables; one per treaty, in inuring order"),
    "pool_missing_array": ("pool", lambda t: t[: t.index("[[member]]")],
                           "missing [[member]] tables; one per member"),
    "line_not_a_table": ("line", lambda t: "occurrence = 5\n" + t, "[occurrence] must be a table, got 5"),
    "product_not_a_table": ("product", lambda t: "rating = 3\n" + t, "[rating] must be a table, got 3"),
    "pool_not_a_table": ("pool", lambda t: "book = 'x'\n" + t[: t.index("[book]")] + t[t.index("[[member]]"):],
                         "[book] must be a table, got 'x'"),
    "backtest_not_a_table": ("backtest", lambda t: "parameters = 1\n" + t[: t.index("[parameters]")],
                             "[parameters] must be a table, got 1"),
    "programme_not_an_array": ("programme", lambda t: "treaty = 1\n",
                               "[[treaty]] must be an array of tables (write a [[treaty]] header before each), got 1"),
    "line_law_error": ("line", lambda t: t.replace("mean = 2.0", "mean = -2.0"),
                       "[severity] Exponential: mean must be in (0, inf], got -2.0"),
    "product_law_error": ("product", lambda t: t.replace("mean = 1000.0", "mean = -1.0"),
                          "[[coverage]] 'breach' [severity] Exponential: mean must be in (0, inf], got -1.0"),
    "backtest_law_error": ("backtest", lambda t: t + "\n[severity.cyber]\nlaw = 'gama'\n",
                           "[severity.cyber] law 'gama' is unknown; use one of ['empirical', 'exponential', "
                           "'gamma', 'lognormal', 'pareto', 'spliced', 'weibull']"),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_the_good_files_read(tmp_path, reader):
    read, text = READERS[reader]
    path = tmp_path / f"{reader}.toml"
    path.write_text(text)
    assert read(path) is not None


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_each_reader_names_file_table_and_field_in_the_same_words(tmp_path, case):
    reader, edit, message = MISTAKES[case]
    read, text = READERS[reader]
    path = tmp_path / f"{case}.toml"
    path.write_text(edit(text))
    with pytest.raises(TechinsError) as info:
        read(path)
    assert str(info.value) == f"{path}: {message}"
    # a wrong value's type is a TypeError, anything else a ValueError (errors.py)
    expected = TypeError if re.search(r"must be (a table|an array of tables)", message) else ValueError
    assert isinstance(info.value, expected)


def test_docstring_examples_run():
    import doctest

    import techins.io.toml

    result = doctest.testmod(techins.io.toml, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
