"""dm.loop's partly shared revision model (dmkit.loop.revise): its design, its scores and
what it recovers of a planted take-up."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
from dmkit.errors import ParameterError
from dmkit.loop.revise import SHARED, design, score, shared_design, stratified_holdout
from dmkit.loop.runner import _expected_auc

SERVICES = ("newspaper", "mail_notify", "fetion")


def _offers(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Offers of three services: usage features, fatigue, a channel, the service, and a
    base score that is the planted log-odds seen through noise."""
    X = pd.DataFrame({"sms_p2p": rng.lognormal(2, 1, n), "sms_fee": rng.lognormal(1, 1, n),
                      "age": rng.integers(18, 70, n).astype(float), "contacts_90d": rng.integers(0, 2, n).astype(float),
                      "channel_ivr": rng.random(n) < 0.3, "term_wap": rng.random(n) < 0.5})
    svc = rng.choice(SERVICES, n)
    return X, svc, rng.normal(0, 1, n)


def _planted_logit(X, svc, signal):
    """The planted log-odds: the base signal (weight 1), fatigue and the channel shared, and
    one usage column that helps a different service each."""
    own = {"newspaper": 0.8 * np.log1p(X["sms_p2p"]), "mail_notify": 0.8 * np.log1p(X["sms_fee"]),
           "fetion": 1.2 * X["term_wap"]}
    z = -2.2 + signal - 0.6 * X["contacts_90d"] + 0.5 * X["channel_ivr"]
    return z + np.select([svc == s for s in SERVICES], [own[s] for s in SERVICES])


def test_per_service_columns_are_zero_for_the_other_services():
    rng = np.random.default_rng(0)
    X, svc, _ = _offers(300, rng)
    b = rng.uniform(0.01, 0.5, len(X))
    S, D = shared_design(X, b, svc, SERVICES), design(X, b)
    for c in ("base_logit", "contacts_90d", "channel_ivr"):            # shared terms, as in the design
        np.testing.assert_array_equal(S[c], D[c])
    own = [c for c in D.columns if c not in ("base_logit", "contacts_90d", "channel_ivr")]
    assert own == ["log_sms_p2p", "log_sms_fee", "age", "term_wap"]
    for s in SERVICES:
        on = svc == s
        np.testing.assert_array_equal(S[f"svc_{s}"], on.astype(float))
        for c in own:
            np.testing.assert_array_equal(S[f"{s}:{c}"].to_numpy()[on], D[c].to_numpy()[on])
            assert (S[f"{s}:{c}"].to_numpy()[~on] == 0).all()
    assert S.shape[1] == 3 + 3 * (1 + len(own))
    one = shared_design(X, b, "fetion", SERVICES)                       # one service for every row
    assert (one["svc_fetion"] == 1).all() and (one.filter(like="newspaper:") == 0).all().all()
    with pytest.raises(ParameterError, match="service"):
        shared_design(X, b, "wap_music", SERVICES)


def test_shared_model_recovers_the_planted_direction():
    """Fitted on few offers per service (~400, as one month's revision at small scale), the
    shared model ranks a fresh population by its planted take-up better than the base score,
    and better than one logistic regression per service on the same offers."""
    rng = np.random.default_rng(1)
    X, svc, signal = _offers(1200, rng)
    noisy = signal + rng.normal(0, 0.7, len(X))                          # the base model sees the signal noisily
    base = 1 / (1 + np.exp(-(noisy - 2)))
    y = rng.random(len(X)) < 1 / (1 + np.exp(-_planted_logit(X, svc, signal)))
    S = shared_design(X, base, svc, SERVICES)
    m = dm.propensity.fit(S, y, model="logit", test_size=None, calibrate=False, class_weight=None, seed=0)
    Xn, svcn, sn = _offers(30_000, rng)
    bn = 1 / (1 + np.exp(-(sn + rng.normal(0, 0.7, len(Xn)) - 2)))
    p = 1 / (1 + np.exp(-_planted_logit(Xn, svcn, sn))).to_numpy()
    shared = np.concatenate([score(m, Xn[svcn == s], bn[svcn == s], s) for s in SERVICES])
    order = np.concatenate([np.flatnonzero(svcn == s) for s in SERVICES])
    per = np.empty(len(Xn))
    for s in SERVICES:
        k = svc == s
        ms = dm.propensity.fit(design(X[k], base[k]), y[k], model="logit", test_size=None, calibrate=False,
                               class_weight=None, seed=0)
        per[svcn == s] = score(ms, Xn[svcn == s], bn[svcn == s], s)
    auc = {"shared": _expected_auc(shared, p[order]), "base": _expected_auc(bn, p), "per_service": _expected_auc(per, p)}
    assert auc["shared"] > auc["base"] + 0.02, auc
    assert auc["shared"] > auc["per_service"], auc
    assert m.estimator_ is not None and SHARED == "shared_logit"


def test_stratified_holdout_takes_the_share_of_every_stratum():
    strata = np.repeat(["a0", "a1", "b0", "b1"], [100, 10, 50, 2])
    hold = stratified_holdout(strata, 0.3, np.random.default_rng(0))
    assert [int(hold[strata == s].sum()) for s in ("a0", "a1", "b0", "b1")] == [30, 3, 15, 1]
    again = stratified_holdout(strata, 0.3, np.random.default_rng(0))
    np.testing.assert_array_equal(hold, again)
