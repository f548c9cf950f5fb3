"""A saved book (techins.catalogue.snapshot): quotes from a loaded snapshot equal quotes from the book
in memory; a snapshot from another catalogue or code version, or with an altered file, is refused;
`techins book save` and `techins quote` on the command line."""

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from techins.catalogue.products import Catalogue, read_catalogue, read_policies
from techins.catalogue.quote import CatalogueQuoter
from techins.catalogue.rating import price_catalogue
from techins.catalogue.snapshot import BookSnapshot, book_events, load_snapshot, save_snapshot
from techins.errors import InputError
from techins.io.schema import QUOTE_COLUMNS
from tests.cli_runner import techins

REPO = Path(__file__).resolve().parents[2]
YEARS, SEED = 2_000, 3


@pytest.fixture(scope="module")
def catalogue():
    return read_catalogue(REPO / "products")


@pytest.fixture(scope="module")
def policies():
    return read_policies(REPO / "examples" / "portfolio.csv").iloc[::10].reset_index(drop=True)


@pytest.fixture(scope="module")
def priced(catalogue, policies):
    return price_catalogue(catalogue, catalogue.book(policies), YEARS, SEED)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, catalogue, priced):
    return save_snapshot(BookSnapshot.from_priced(catalogue, priced), tmp_path_factory.mktemp("book") / "book")


def candidates(policies) -> pd.DataFrame:
    keep = ~policies["product"].str.startswith("fok_")  # batch-clause scenarios: new policies refused
    table = policies[keep].iloc[::3].copy()
    table["policy_id"] = "NEW-" + table["policy_id"]
    return pd.concat([table, policies.iloc[:20]], ignore_index=True)  # new and in-book policies


def test_quotes_from_a_loaded_snapshot_equal_the_quotes_from_the_book_in_memory(saved, catalogue, priced, policies):
    live = CatalogueQuoter(catalogue, priced).quote_many(candidates(policies))
    loaded = CatalogueQuoter(catalogue, load_snapshot(saved, catalogue)).quote_many(candidates(policies))
    assert set(live["priced_as"]) == {"in_book", "added"}
    pd.testing.assert_frame_equal(loaded, live, check_exact=True)


def test_the_snapshot_keeps_the_book_state(saved, catalogue, priced):
    snapshot = load_snapshot(saved, catalogue)
    events = book_events(priced.result)
    assert snapshot.years == YEARS and snapshot.seed == SEED
    assert np.array_equal(snapshot.events.annual, priced.result.annual)
    assert np.array_equal(snapshot.events.theta, events.theta)
    assert list(snapshot.events.shock_years) == [s.name for s in priced.result.portfolio.shocks]
    for name, years in events.shock_years.items():
        assert np.array_equal(snapshot.events.shock_years[name], years)
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["policies"] == len(priced.policies) and manifest["catalogue_digest"] == catalogue.digest


def test_a_snapshot_for_another_catalogue_is_refused(saved, catalogue):
    products = dict(catalogue.products)
    cyber = products["cyber_sme"]
    products["cyber_sme"] = dataclasses.replace(cyber, exposure_unit=cyber.exposure_unit * 2)
    with pytest.raises(InputError, match="another catalogue"):
        load_snapshot(saved, Catalogue(products))


def test_the_same_product_files_elsewhere_give_the_same_digest(tmp_path, catalogue):
    for file in (REPO / "products").glob("*.toml"):
        (tmp_path / file.name).write_bytes(file.read_bytes())
    assert read_catalogue(tmp_path).digest == catalogue.digest


def _copy(saved: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    copy.mkdir()
    for file in saved.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    return copy


def test_a_snapshot_from_another_code_version_is_refused(saved, catalogue, tmp_path):
    copy = _copy(saved, tmp_path)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["code_version"] = "0.0.1"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="saved by techins '0.0.1'"):
        load_snapshot(copy, catalogue)


def test_an_altered_or_missing_file_is_refused(saved, catalogue, tmp_path):
    copy = _copy(saved, tmp_path)
    with open(copy / "state.npz", "ab") as f:
        f.write(b"\0")
    with pytest.raises(InputError, match="state.npz: does not match the manifest"):
        load_snapshot(copy, catalogue)
    (copy / "state.npz").write_bytes((saved / "state.npz").read_bytes())
    load_snapshot(copy, catalogue)
    (copy / "policies.parquet").unlink()
    with pytest.raises(InputError, match="policies.parquet: missing"):
        load_snapshot(copy, catalogue)
    with pytest.raises(InputError, match="not a saved book"):
        load_snapshot(tmp_path, catalogue)
    with pytest.raises(InputError, match="no such folder"):
        load_snapshot(tmp_path / "nowhere", catalogue)


def test_book_save_then_quote_on_the_command_line(tmp_path, catalogue):
    portfolio = tmp_path / "portfolio.csv"
    read_policies(REPO / "examples" / "portfolio.csv").iloc[::30].to_csv(portfolio, index=False)
    ran = techins("book", "save", REPO / "products", "--portfolio", portfolio, "--years", 1000, "--seed", 2,
                  "--out", tmp_path / "book", "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["years"] == 1000
    policy = {k: v for k, v in read_policies(portfolio).iloc[0].to_dict().items()
              if not (isinstance(v, float) and math.isnan(v))}
    (tmp_path / "one.json").write_text(json.dumps({**policy, "policy_id": "Q-1"}))
    ran = techins("quote", REPO / "products", tmp_path / "one.json", "--book", tmp_path / "book", "--json",
                  "--out", tmp_path / "quotes.csv")
    assert ran.returncode == 0, ran.stderr
    (quote,) = json.loads(ran.stdout)["quotes"]
    assert list(quote) == list(QUOTE_COLUMNS) and quote["priced_as"] == "added" and quote["premium"] > 0
    expected = CatalogueQuoter(catalogue, load_snapshot(tmp_path / "book", catalogue)).quote({**policy,
                                                                                              "policy_id": "Q-1"})
    assert quote["premium"] == expected["premium"]
    assert pd.read_csv(tmp_path / "quotes.csv")["premium"].iloc[0] == pytest.approx(expected["premium"], rel=1e-15)
    # the book's own policy: its portfolio price
    ran = techins("quote", REPO / "products", portfolio, "--book", tmp_path / "book")
    assert ran.returncode == 0 and "in_book" in ran.stdout


@pytest.mark.parametrize("args, message", [
    (["--book", "nowhere"], "nowhere: no such folder"),
    (["--book", "."], "not a saved book"),
])
def test_quote_command_errors_are_one_line(tmp_path, args, message):
    (tmp_path / "one.json").write_text(json.dumps({"policy_id": "Q", "product": "cyber_sme"}))
    ran = techins("quote", REPO / "products", tmp_path / "one.json", *args, cwd=tmp_path)
    assert ran.returncode == 2 and message in ran.stderr and len(ran.stderr.strip().splitlines()) == 1


def test_a_bad_policy_file_is_one_line(tmp_path, saved):
    (tmp_path / "bad.json").write_text("[1, 2]")
    ran = techins("quote", REPO / "products", tmp_path / "bad.json", "--book", saved)
    assert ran.returncode == 2 and "policy object" in ran.stderr
    (tmp_path / "one.json").write_text(json.dumps({"policy_id": "Q", "product": "cyber_sme"}))
    ran = techins("quote", REPO / "products", tmp_path / "one.json", "--book", saved)
    assert ran.returncode == 2 and "missing column 'revenue'" in ran.stderr
