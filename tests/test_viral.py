"""Tests of dmkit.viral: seed users of a matrix cell and the heavy-user overlap (case V)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from dmkit import segment, viral
from dmkit.errors import DmkitError, ParameterError, SchemaError


def customers(n: int = 3_000, seed: int = 5) -> tuple[pd.DataFrame, segment.MatrixResult]:
    """A profile table (distinct circle sizes) and V's matrix built on the same ids."""
    rng = np.random.default_rng(seed)
    idx = pd.Index(rng.permutation(n) + 100_000, name="user_id")
    sms = rng.gamma(1.5, 70, n).round()
    prof = pd.DataFrame({
        "circle_size": rng.permutation(n) + 1,  # distinct: no ties at a threshold
        "sms_p2p": sms,
        "arpu": rng.gamma(2.0, 40, n),
        "mms": rng.poisson(2 + sms / 40),
        "term_mms": rng.random(n) < 0.6,
    }, index=idx)
    return prof, segment.matrix(prof, x="sms_p2p", y="arpu")


@pytest.fixture(scope="module")
def data():
    return customers()


def small() -> tuple[pd.DataFrame, segment.MatrixResult]:
    """Ten customers: five in "high-growth SMS user", two in "double-low", three in the 200+ row."""
    prof = pd.DataFrame({
        "sms_p2p":     [100, 120, 60, 150, 199, 10, 20, 250, 300, 220],
        "arpu":        [60, 70, 80, 90, 100, 10, 20, 200, 60, 30],
        "circle_size": [3, 9, 5, 12, 7, 40, 1, 8, 2, 6],
        "mms":         [0, 4, 1, 9, 2, 30, 3, 20, 5, 6],
        "term_mms":    [True, False, True, True, False, True, False, True, True, False],
    }, index=pd.Index(range(1, 11), name="user_id"))
    return prof, segment.matrix(prof, x="sms_p2p", y="arpu")


# -- seed_users: properties -------------------------------------------------------------

@pytest.mark.parametrize("share", [0.05, 0.10, 0.33, 1.0])
def test_seeds_are_the_widest_circles_of_the_source_cell(data, share):
    prof, m = data
    sel = viral.seed_users(prof, m, share=share)
    cell_ids = m.assignment.index[m.assignment.astype(object) == sel.source_cell]
    assert sel.seeds.index.isin(cell_ids).all()
    rest = prof.loc[cell_ids.difference(sel.seeds.index), "circle_size"]
    assert len(rest) == 0 or sel.seeds["circle_size"].min() >= rest.max()
    assert (sel.seeds["circle_size"] >= sel.threshold).all()
    assert sel.cell_size == len(cell_ids)
    assert abs(len(sel.seeds) - share * sel.cell_size) <= 1
    assert list(sel.seeds.columns) == list(prof.columns)


def test_default_source_cell_is_the_largest_and_cell_can_be_named(data):
    prof, m = data
    sel = viral.seed_users(prof, m)
    assert sel.source_cell == m.by_name()["count"].idxmax()
    assert sel.cell_size == m.by_name()["count"].max()
    other = viral.seed_users(prof, m, cell="double-high", share=0.2)
    assert other.source_cell == "double-high"
    assert (m.assignment.loc[other.seeds.index] == "double-high").all()


def test_ties_at_the_threshold_are_all_seeds():
    prof, m = small()
    prof["circle_size"] = 4
    sel = viral.seed_users(prof, m, cell="high-growth SMS user", share=0.2)
    assert sel.threshold == 4 and len(sel.seeds) == sel.cell_size == 5


def test_matches_the_notebook_pandas_computation(data):
    prof, m = data
    sel = viral.seed_users(prof, m, share=0.1)
    cell = m.by_name()["count"].idxmax()
    cell_users = prof[m.assignment.reindex(prof.index).astype(str) == cell]
    seeds = cell_users[cell_users["circle_size"] >= cell_users["circle_size"].quantile(0.9)]
    pd.testing.assert_frame_equal(sel.seeds, seeds)
    cols = ["circle_size", "sms_p2p", "mms", "term_mms"]
    expected = pd.DataFrame({"all customers": prof[cols].mean(), "source cell": cell_users[cols].mean(),
                             "seeds": seeds[cols].mean()})
    assert_allclose(sel.comparison().to_numpy(), expected.to_numpy())
    assert list(sel.comparison().index) == cols


# -- seed_users: a hand-checked example --------------------------------------------------

def test_small_example_by_hand():
    prof, m = small()
    sel = viral.seed_users(prof, m, share=0.4)
    # largest cell: ids 1-5 (SMS 50–200, spend 50–150), circles 3, 9, 5, 12, 7
    assert sel.source_cell == "high-growth SMS user" and sel.cell_size == 5
    # 0.6 quantile of [3, 5, 7, 9, 12]: position 2.4 -> 7 + 0.4 * (9 - 7) = 7.8
    assert sel.threshold == pytest.approx(7.8)
    assert list(sel.seeds.index) == [2, 4]
    cmp = sel.comparison()
    assert cmp.loc["circle_size"].tolist() == pytest.approx([9.3, 7.2, 10.5])
    assert cmp.loc["mms"].tolist() == pytest.approx([8.0, 3.2, 6.5])
    assert cmp.loc["term_mms"].tolist() == pytest.approx([0.6, 0.6, 0.5])
    assert sel.values["group"].value_counts().to_dict() == {"other": 5, "source cell": 3, "seeds": 2}


def test_to_frame_summary_and_plot():
    prof, m = small()
    sel = viral.seed_users(prof, m, share=0.4)
    pd.testing.assert_frame_equal(sel.to_frame(), sel.seeds)
    s = sel.summary()
    assert s.table("customers")["customers"].tolist() == [10, 5, 2]
    assert "high-growth SMS user" in str(s) and "<h4>" in sel._repr_html_()
    ax = sel.plot()
    assert ax.get_xlabel() == "circle_size" and len(ax.get_legend().get_texts()) == 4


# -- overlap ------------------------------------------------------------------------------

def test_overlap_by_hand():
    prof, m = small()
    res = viral.overlap(prof, m, column="mms", top_share=0.2)
    # 0.8 quantile of the ten MMS counts (sorted 0 1 2 3 4 5 6 9 20 30): position 7.2 -> 11.2;
    # heavy: id 6 (30, "double-low", SMS row 0) and id 8 (20, row 200+) -> one of two in target
    assert res.threshold == pytest.approx(11.2)
    assert (res.n_heavy, res.n_heavy_in_target, res.share) == (2, 1, 0.5)
    # target = the 50–200 and 200+ rows: ids 1-5 and 8-10, 8 of 10 customers
    assert res.base_share == pytest.approx(0.8) and res.lift == pytest.approx(0.625)
    assert set(res.cells) == set(segment.V_NAMES.iloc[1:].to_numpy().ravel())
    only = viral.overlap(prof, m, column="mms", top_share=0.2, cells=["double-low"])
    assert only.share == 0.5 and only.base_share == pytest.approx(0.2)


def test_overlap_matches_the_notebook_computation(data):
    prof, m = data
    res = viral.overlap(prof, m, column="mms", top_share=0.1)
    heavy = prof["mms"] >= prof["mms"].quantile(0.9)
    target = m.assignment.reindex(prof.index).astype(str).isin(m.names.iloc[1:].to_numpy().ravel())
    assert res.share == pytest.approx(float((heavy & target).sum() / heavy.sum()))
    assert res.n_heavy == int(heavy.sum()) and res.base_share == pytest.approx(float(target.mean()))


def test_overlap_frame_summary_and_plot():
    prof, m = small()
    res = viral.overlap(prof, m, column="mms", top_share=0.2)
    f = res.to_frame()
    assert list(f.index) == ["mms"] and f.loc["mms", "share"] == 0.5
    assert "50.0%" in str(res.summary())
    assert res.plot().get_ylabel() == "share in the target cells"


# -- errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("share", [0, -0.1, 1.5])
def test_share_outside_zero_one(share):
    prof, m = small()
    with pytest.raises(ParameterError, match=r"parameter 'share': expected a value in \(0, 1\]"):
        viral.seed_users(prof, m, share=share)
    with pytest.raises(ParameterError, match=r"parameter 'top_share': expected a value in \(0, 1\]"):
        viral.overlap(prof, m, top_share=share)


def test_share_of_wrong_type():
    prof, m = small()
    with pytest.raises(ParameterError, match="parameter 'share': expected int or float; got '0.1'"):
        viral.seed_users(prof, m, share="0.1")


def test_unknown_or_empty_cell():
    prof, m = small()
    with pytest.raises(ParameterError, match="parameter 'cell': expected a cell name of the matrix, one of "
                                             r"\['double-low'.*got 'no such cell'"):
        viral.seed_users(prof, m, cell="no such cell")
    with pytest.raises(ParameterError, match="parameter 'cell': expected a cell with customers"):
        viral.seed_users(prof, m, cell="average SMS high spender")
    with pytest.raises(ParameterError, match="parameter 'cells': expected a list of cell names"):
        viral.overlap(prof, m, cells=["double-high", "nope"])
    with pytest.raises(ParameterError, match="parameter 'cells'"):
        viral.overlap(prof, m, cells="double-high")


def test_missing_or_non_numeric_column():
    prof, m = small()
    with pytest.raises(SchemaError, match="table 'profile_table', column 'circle_size': expected columns"):
        viral.seed_users(prof.drop(columns="circle_size"), m)
    with pytest.raises(SchemaError, match="column 'term_mms'"):
        viral.seed_users(prof.drop(columns="term_mms"), m)
    with pytest.raises(SchemaError, match="column 'reach'"):
        viral.seed_users(prof, m, compare=("reach",))
    with pytest.raises(SchemaError, match="column 'mms': expected columns"):
        viral.overlap(prof.drop(columns="mms"), m)
    with pytest.raises(SchemaError, match="column 'brand': expected a numeric column"):
        viral.overlap(prof.assign(brand="M-Zone"), m, column="brand")
    with pytest.raises(SchemaError, match="column 'mms': expected some non-missing values"):
        viral.overlap(prof.assign(mms=np.nan), m)


def test_bad_matrix_compare_or_ids():
    prof, m = small()
    with pytest.raises(ParameterError, match="parameter 'matrix_result': expected a MatrixResult"):
        viral.seed_users(prof, m.cells)
    with pytest.raises(ParameterError, match="parameter 'compare': expected a list of column names"):
        viral.seed_users(prof, m, compare="mms")
    with pytest.raises(SchemaError, match="no id in common") as err:
        viral.overlap(prof.set_axis(prof.index + 1000), m)
    assert isinstance(err.value, DmkitError)
