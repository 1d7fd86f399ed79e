"""dm.loop.ModelStore: versions of fitted target models, saved with skops and loaded safely."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
from dmkit.errors import DataNotFoundError, NotFittedError, ParameterError
from dmkit.loop import ModelStore, UntrustedModelError


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(3000, 3)), columns=["a", "b", "c"])
    y1 = (X["a"] + rng.normal(size=3000) > 1).astype(int)
    y2 = (X["b"] + 0.3 * rng.normal(size=3000) > 1).astype(int)
    return X, dm.propensity.fit(X, y1, seed=0), dm.propensity.fit(X, y2, seed=0)


def test_round_trip_scores_identically(tmp_path, models):
    X, m1, _ = models
    store = ModelStore(tmp_path)
    rec = store.save(m1, province="guangdong", service="fetion", month="2009-01", data_month="2008-12",
                     kind="holders", metrics={"n_train": 3000})
    assert rec["features"] == ["a", "b", "c"] and rec["data_month"] == "2008-12"
    back = store.load(province="guangdong", service="fetion")
    np.testing.assert_array_equal(back.predict_proba(X), m1.predict_proba(X))
    assert back.auc_ == m1.auc_


def test_versions_are_kept_and_compared(tmp_path, models):
    _, m1, m2 = models
    store = ModelStore(tmp_path)
    store.save(m1, province="gd", service="fetion", month="2009-01", data_month="2008-12", kind="holders")
    store.save(m2, province="gd", service="fetion", month="2009-02", data_month="2009-01", kind="responses",
               parent="2009-01", base="2009-01")
    store.add_metrics(province="gd", service="fetion", month="2009-01", auc_contacts=0.6)
    store.add_metrics(province="gd", service="fetion", month="2009-02", auc_contacts=0.7)
    v = store.compare(province="gd", service="fetion")
    assert v["month"].tolist() == ["2009-01", "2009-02"]
    assert v["kind"].tolist() == ["holders", "responses"]
    np.testing.assert_allclose(v["auc_contacts_change"].iloc[1], 0.1)
    np.testing.assert_allclose(v["auc"], [m1.auc_, m2.auc_])
    # the latest up to a month, and an explicit version
    assert store.load(province="gd", service="fetion", before="2009-01").auc_ == m1.auc_
    assert store.load(province="gd", service="fetion").auc_ == m2.auc_
    with pytest.raises(DataNotFoundError, match="no version 2009-05"):
        store.load(province="gd", service="fetion", month="2009-05")


def test_a_tampered_file_is_refused(tmp_path, models):
    _, m1, m2 = models
    store = ModelStore(tmp_path)
    store.save(m1, province="gd", service="fetion", month="2009-01", data_month="2008-12", kind="holders")
    store.save(m2, province="gd", service="mail", month="2009-01", data_month="2008-12", kind="holders")
    folder = tmp_path / "gd"
    (folder / "fetion" / "2009-01.skops").write_bytes((folder / "mail" / "2009-01.skops").read_bytes())
    with pytest.raises(UntrustedModelError, match="sha256"):
        store.load(province="gd", service="fetion")


def test_an_untrusted_type_is_refused(tmp_path, models):
    import skops.io as sio

    _, m1, _ = models
    store = ModelStore(tmp_path)
    store.save(m1, province="gd", service="fetion", month="2009-01", data_month="2008-12", kind="holders")
    blob = sio.dumps({"model": pd.Timedelta})   # a type outside the trusted list
    path = tmp_path / "gd" / "fetion" / "2009-01.skops"
    path.write_bytes(blob)
    rec = json.loads(path.with_suffix(".json").read_text())
    import hashlib

    rec["sha256"] = hashlib.sha256(blob).hexdigest()
    path.with_suffix(".json").write_text(json.dumps(rec))
    with pytest.raises(UntrustedModelError, match="outside the trusted list"):
        store.load(province="gd", service="fetion")


def test_bad_arguments_are_named(tmp_path, models):
    _, m1, _ = models
    store = ModelStore(tmp_path)
    with pytest.raises(ParameterError, match="month"):
        store.save(m1, province="gd", service="fetion", month="2009-13", data_month="2008-12", kind="holders")
    with pytest.raises(ParameterError, match="province"):
        store.save(m1, province="../x", service="fetion", month="2009-01", data_month="2008-12", kind="holders")
    with pytest.raises(NotFittedError, match="not fitted"):
        store.save(dm.propensity.ScoringModel(), province="gd", service="f", month="2009-01",
                   data_month="2008-12", kind="holders")
    with pytest.raises(DataNotFoundError, match="no version"):
        store.load(province="gd", service="fetion")


def test_a_model_fitted_on_every_row_keeps_the_auc_measured_elsewhere(tmp_path, models):
    """The revision refits its winner on every offer (no held-out part): the record keeps the
    out-of-time AUC it is given; without one the store asks the model for its held-out AUC."""
    X, m1, _ = models
    full = dm.propensity.fit(X, (X["a"] > 1).astype(int), seed=0, test_size=None)
    store = ModelStore(tmp_path)
    rec = store.save(full, province="gd", service="fetion", month="2009-02", data_month="2009-01",
                     kind="responses_logit", metrics={"auc": 0.71})
    assert rec["metrics"]["auc"] == 0.71
    np.testing.assert_array_equal(store.load(province="gd", service="fetion").predict_proba(X),
                                  full.predict_proba(X))
    with pytest.raises(AttributeError):
        store.save(full, province="gd", service="fetion", month="2009-03", data_month="2009-02", kind="x")
