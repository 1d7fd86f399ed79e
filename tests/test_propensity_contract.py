"""dmkit.propensity against the issue-11 cases: y aligned to X by label, NaN end to end with
model="hgb", and the scikit-learn estimator contract of ScoringModel (check_estimator)."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from dmkit import propensity
from dmkit.errors import NotFittedError, ParameterError, SchemaError
from dmkit.propensity import ScoringModel


def _planted(n=4_000, seed=0):
    """A strong planted signal (AUC of the truth ~0.96) on a user_id index."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "noise": rng.normal(size=n)},
                     index=pd.Index(np.arange(n) + 10_000, name="user_id"))
    logit = 2.5 * X["a"] + 1.5 * X["b"] - 2.0
    y = pd.Series((rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int), index=X.index, name="took_up")
    return X, y


# ------------------------------------------------------------------ alignment (issue 11, case "Alignment")
def test_y_in_another_order_is_aligned_by_index():
    X, y = _planted()
    shuffled = y.sample(frac=1.0, random_state=3)  # same labels, another order
    assert not shuffled.index.equals(X.index)
    a = propensity.fit(X, y, model="logit", seed=1, n_threads=1)
    b = propensity.fit(X, shuffled, model="logit", seed=1, n_threads=1)
    assert a.auc > 0.9  # before the fix the shuffled y gave 0.47
    assert_allclose(b.auc, a.auc)
    assert_allclose(b.p_test_, a.p_test_)
    # the held-out labels are the true labels of the held-out users
    assert (b.y_test_ == y.loc[b.test_index_].to_numpy()).all()
    # and the score of a model from the shuffled y against the true labels
    assert_allclose(b.score(X, y), a.score(X, y))


def test_y_with_other_labels_is_refused_by_name():
    X, y = _planted(n=600)
    other = y.set_axis(y.index + 1)  # shifted by one user: one missing, one extra
    with pytest.raises(SchemaError, match=r"table 'y', column 'took_up'.*1 of X's row labels have no y value "
                                          r"\(e.g. \[10000\]\).*1 of y's labels are not rows of X \(e.g. \[10600\]\)"):
        propensity.fit(X, other, model="logit")
    with pytest.raises(SchemaError, match="duplicated labels"):
        propensity.fit(X, pd.concat([y.iloc[:-1], y.iloc[:1]]), model="logit")
    # a RangeIndex Series is a labelled y too: refused, with the positional way out named
    with pytest.raises(SchemaError, match=r"y.to_numpy\(\)"):
        propensity.fit(X, y.reset_index(drop=True), model="logit")
    # an array is positional (one value per row)
    assert propensity.fit(X, y.to_numpy(), model="logit").auc > 0.85
    with pytest.raises(ParameterError, match="600 values"):
        propensity.fit(X, y.to_numpy()[:-1], model="logit")
    # tree_rules and score align the same way
    res = propensity.tree_rules(X, y.sample(frac=1.0, random_state=1))
    assert_allclose(res.rules["lift"], propensity.tree_rules(X, y).rules["lift"])


# ------------------------------------------------------------------ hgb accepts NaN end to end
def test_hgb_accepts_nan_end_to_end():
    X, y = _planted(n=5_000, seed=4)
    rng = np.random.default_rng(5)
    Xn = X.copy()
    Xn.loc[rng.uniform(size=len(X)) < 0.2, "a"] = np.nan  # 20 % of a missing
    Xn.loc[rng.uniform(size=len(X)) < 0.1, "b"] = np.nan
    m = propensity.fit(Xn, y, model="hgb", seed=2, n_threads=1)
    # the observed values of a still count: better than without the column a at all
    without_a = propensity.fit(Xn.drop(columns="a"), y, model="hgb", seed=2, n_threads=1)
    assert m.auc > without_a.auc + 0.05 and m.auc > 0.8
    p = m.predict_proba(Xn)
    assert p.shape == (len(Xn), 2) and np.isfinite(p).all()
    g = m.gains().table
    assert_allclose(g["cum_gain"].iloc[-1], 1.0)
    top = m.top(Xn, 100)
    assert len(top) == 100 and top["score"].is_monotonic_decreasing
    assert len(m.select(Xn, budget=50)) == 50
    assert m.importance(n_repeats=2, max_rows=2000)["feature"].iloc[0] == "a"
    # rules from the complete rows only, said so
    complete = Xn.notna().all(axis=1)
    train = ~Xn.index.isin(m.test_index_)
    assert m.rules_.n_incomplete == int((~complete & train).sum())
    assert m.rules_.rules["n"].sum() == int((complete & train).sum())
    assert "complete rows" in str(m.summary())
    # the NaN rows are scored natively: missing a scores between the two sides of a
    a_missing = m.predict_proba(Xn[Xn["a"].isna() & Xn["b"].notna()])[:, 1].mean()
    assert 0 < a_missing < 1


def test_nan_refused_where_not_supported():
    X, y = _planted(n=800, seed=6)
    Xn = X.copy()
    Xn.iloc[3, 0] = np.nan
    with pytest.raises(SchemaError, match=r"column 'a'.*NaN.*model='hgb'"):
        propensity.fit(Xn, y, model="logit")
    m = propensity.fit(X, y, model="logit", n_threads=1)
    with pytest.raises(SchemaError, match=r"column 'a'.*NaN.*model='hgb'"):
        m.predict_proba(Xn)
    with pytest.raises(SchemaError, match=r"column 'a'.*NaN"):
        propensity.tree_rules(Xn, y)
    res = propensity.tree_rules(Xn, y, missing="drop")
    assert res.n_incomplete == 1 and res.rules["n"].sum() == len(X) - 1
    with pytest.raises(SchemaError, match=r"column 'b'.*infinite"):
        propensity.fit(X.assign(b=X["b"].replace(X["b"].iloc[0], np.inf)), y, model="hgb")
    # a NaN-only class: rules need complete rows, the hgb model still fits and says so
    Xa = X.copy()
    Xa.loc[y == 1, "noise"] = np.nan
    m = propensity.fit(Xa, y, model="hgb", n_threads=1)
    assert m.rules_ is None and "no tree rules" in str(m.summary())


# ------------------------------------------------------------------ the scikit-learn contract
def test_fit_uses_all_rows_and_score_is_auc():
    X, y = _planted(n=2_000, seed=7)
    m = ScoringModel("logit", n_threads=1).fit(X, y)
    assert m.n_train_ == len(X) and not hasattr(m, "auc_")
    p = m.predict_proba(X)[:, 1]
    assert_allclose(m.score(X, y), roc_auc_score(y, p))
    assert set(np.unique(m.predict(X))) <= {0, 1}
    assert_allclose(m.predict(X), (p > 0.5).astype(int))
    with pytest.raises(ParameterError, match=r"test_size=0.3"):
        _ = m.auc
    with pytest.raises(ParameterError, match="evaluation data"):
        m.gains()
    X2, y2 = _planted(n=1_000, seed=8)
    assert_allclose(m.gains(X2, y2).table["cum_gain"].iloc[-1], 1.0)
    assert m.calibration(X2, y2)["n"].sum() == len(X2)
    # the one-call form keeps its 30 % held-out part, explicitly
    h = propensity.fit(X, y, model="logit", n_threads=1)
    assert h.test_size == 0.3 and h.n_train_ == 1400 and len(h.y_test_) == 600
    assert_allclose(h.auc, roc_auc_score(h.y_test_, h.predict_proba(h.X_test_)[:, 1]))
    # scikit-learn tools work: clone, cross_val_score (uses .score = AUC)
    cv = cross_val_score(ScoringModel("logit", n_threads=1), X, y, cv=3)
    assert cv.shape == (3,) and (cv > 0.85).all()
    assert clone(h).get_params()["test_size"] == 0.3


def test_chunked_predict_proba_and_labels():
    X, y = _planted(n=3_000, seed=9)
    m = ScoringModel("hgb", n_threads=1).fit(X, y.map({0: "no", 1: "yes"}))
    assert m.classes_.tolist() == ["no", "yes"]
    a = m.predict_proba(X, chunk_size=701)
    assert_allclose(a, m.predict_proba(X))
    assert set(m.predict(X)) <= {"no", "yes"}
    assert_allclose(m.score(X, y.map({0: "no", 1: "yes"})), roc_auc_score(y, a[:, 1]))
    # numpy input: positional, checked by count
    mn = ScoringModel("logit", n_threads=1).fit(X.to_numpy(), y.to_numpy())
    assert not hasattr(mn, "feature_names_in_") and mn.n_features_in_ == 3
    with pytest.raises(SchemaError, match="X has 2 features, but ScoringModel is expecting 3"):
        mn.predict_proba(X.to_numpy()[:, :2])
    with pytest.raises(ParameterError, match="Only binary"):
        ScoringModel().fit(X, np.arange(len(X)) % 3)


def test_not_fitted_is_both_dmkit_and_sklearn():
    X, _ = _planted(n=50)
    for cls in (NotFittedError, SklearnNotFittedError):
        with pytest.raises(cls, match="not fitted"):
            ScoringModel().predict_proba(X)


# check_estimator: what is expected to fail, and why (kept short; each reason a design choice)
_EXPECTED = {
    "check_dtype_object": "X with a non-numeric object raises dmkit's SchemaError (a ValueError naming "
                          "the problem), not numpy's TypeError",
    "check_class_weight_classifiers": "the isotonic calibration (calibrate=True) undoes class weights by "
                                      "design; uncalibrated models pass it",
}


def _expected(est):
    return dict(_EXPECTED)


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _ESTIMATORS = [ScoringModel("hgb", n_threads=1), ScoringModel("logit", n_threads=1),
                   ScoringModel("tree", n_threads=1)]


@parametrize_with_checks(_ESTIMATORS, expected_failed_checks=_expected)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # scikit-learn's own cast of an inf target
        check(estimator)


def test_class_weight_check_passes_uncalibrated():
    from sklearn.utils.estimator_checks import check_class_weight_classifiers

    for model in ("hgb", "logit"):
        check_class_weight_classifiers("ScoringModel", ScoringModel(model, calibrate=False, n_threads=1))
