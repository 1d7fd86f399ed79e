"""dmkit.propensity on stratified samples (``sample_size``): the sampled fit's figures match the
full fit's on planted data, the sample is stratified and disjoint from the held-out part, and the
scikit-learn contract (no sample by default) holds."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import roc_auc_score

from dmkit import propensity
from dmkit.errors import ParameterError
from dmkit.propensity import ScoringModel
from dmkit.propensity.scoring import DEFAULT_SAMPLE_SIZE

AUC_TOL = 0.02  # small data: twice the 1M benchmark's 0.01 (sampling noise of a 6,000-row held-out part)


def _planted(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """J2's planted rule (call_days > 28.5 and monternet_sms > 2.5) plus a graded arpu effect."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "call_days": rng.integers(0, 32, n).astype(np.int8),
        "monternet_sms": rng.poisson(2.5, n).astype(np.int16),
        "arpu": rng.gamma(2.0, 40.0, n).astype(np.float32),
        "recharges": rng.poisson(1.0, n).astype(np.int16),
    }, index=pd.Index(np.arange(n) + 10_000, name="user_id"))
    inside = (X["call_days"] > 28.5) & (X["monternet_sms"] > 2.5)
    p = np.where(inside, 0.35, 0.02) * np.clip(X["arpu"].to_numpy() / 80.0, 0.5, 2.0)
    y = pd.Series((rng.uniform(size=n) < p).astype(np.int8), index=X.index, name="newspaper")
    return X, y, inside


@pytest.fixture(scope="module")
def full_and_sample():
    X, y, inside = _planted(20_000, seed=3)
    full = propensity.fit(X, y, model="hgb", seed=1, n_threads=1, sample_size=None)
    samp = propensity.fit(X, y, model="hgb", seed=1, n_threads=1, sample_size=4_000)
    return X, y, inside, full, samp


def test_sampled_fit_figures_within_tolerance_of_full_fit(full_and_sample):
    X, y, inside, full, samp = full_and_sample
    assert np.array_equal(full.test_index_, samp.test_index_)  # the same held-out rows
    # the planted truth ranks the held-out rows: both models come close to it
    truth_auc = roc_auc_score(full.y_test_, inside.loc[full.test_index_].to_numpy())
    assert full.auc > truth_auc - 0.02 and samp.auc > truth_auc - 0.03
    assert abs(samp.auc - full.auc) <= AUC_TOL
    lift_f = full.gains().table["lift"].iloc[0]
    lift_s = samp.gains().table["lift"].iloc[0]
    assert abs(lift_s - lift_f) / lift_f <= 0.10
    # the planted drivers lead both models' permutation importance
    for m in (full, samp):
        assert set(m.importance(n_repeats=3)["feature"].head(2)) == {"call_days", "monternet_sms"}


def test_sample_is_stratified_disjoint_and_recorded(full_and_sample):
    X, y, _, full, samp = full_and_sample
    assert full.n_train_ == full.n_available_ == 14_000 and not full.sampled_
    assert not hasattr(full, "sample_index_")
    assert samp.sampled_ and samp.n_train_ == 4_000 and samp.n_available_ == 14_000
    sample = pd.Index(samp.sample_index_)
    assert len(sample) == 4_000 and sample.is_unique
    assert sample.intersection(samp.test_index_).empty  # held-out rows are not in the sample
    # stratified: the sample's positive share is the training part's, to one row
    train_rate = y.drop(samp.test_index_).mean()
    assert abs(y.loc[sample].mean() - train_rate) <= 1 / 4_000 + 1e-12
    assert_allclose(samp.base_rate_, y.loc[sample].mean())
    notes = " ".join(samp.summary().notes)
    assert samp.training_sentence() in notes
    assert samp.training_sentence() == ("The model learnt from a stratified sample of 4,000 of the 14,000 training "
                                        "rows (sample_size=4,000); its held-out figures are on 6,000 rows not in "
                                        "the sample.")
    assert "sample" not in " ".join(full.summary().notes)
    assert full.training_sentence() == ("The model learnt from all 14,000 training rows; its held-out figures are "
                                        "on 6,000 rows held out.")


def test_sample_reproducible_by_seed():
    X, y, _ = _planted(6_000, seed=4)
    a = propensity.fit(X, y, model="logit", seed=2, n_threads=1, sample_size=1_000)
    b = propensity.fit(X, y, model="logit", seed=2, n_threads=1, sample_size=1_000)
    c = propensity.fit(X, y, model="logit", seed=3, n_threads=1, sample_size=1_000)
    assert np.array_equal(a.sample_index_, b.sample_index_)
    assert_allclose(a.p_test_, b.p_test_)
    assert not np.array_equal(a.sample_index_, c.sample_index_)


def test_no_sample_when_sample_size_is_none_or_not_smaller():
    """The scikit-learn contract: the estimator uses the data it is given (sample_size=None by
    default); a sample_size at least the training rows changes nothing."""
    X, y, _ = _planted(3_000, seed=5)
    assert ScoringModel().sample_size is None
    assert propensity.fit.__kwdefaults__["sample_size"] == DEFAULT_SAMPLE_SIZE == 200_000
    plain = ScoringModel("logit", n_threads=1).fit(X, y)
    big = ScoringModel("logit", n_threads=1, sample_size=3_000).fit(X, y)
    assert plain.n_train_ == big.n_train_ == 3_000 and not big.sampled_
    assert_allclose(plain.predict_proba(X), big.predict_proba(X))
    small = ScoringModel("logit", n_threads=1, sample_size=500).fit(X, y)
    assert small.n_train_ == 500 and small.n_available_ == 3_000
    assert small.predict_proba(X).shape == (3_000, 2)  # scores everyone


def test_bad_sample_size_names_the_parameter():
    X, y, _ = _planted(1_000, seed=6)
    with pytest.raises(ParameterError, match="sample_size"):
        propensity.fit(X, y, model="logit", sample_size=0)
    with pytest.raises(ParameterError, match="sample_size"):
        propensity.fit(X, y, model="logit", sample_size=2.5)
