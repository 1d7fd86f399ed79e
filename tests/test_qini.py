"""dmkit's Qini metrics against scikit-uplift (a dev-only reference) and hand-checked cases."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from dmkit.errors import ParameterError
from dmkit.qini import qini_coefficient, qini_curve, uplift_at_k


def _random_campaign(seed: int, n: int = 3000, ties: bool = False):
    rng = np.random.default_rng(seed)
    t = rng.random(n) < 0.6
    x = rng.normal(size=n)
    p = 0.05 + 0.1 * (x > 0) * t + 0.02 * rng.random(n)
    y = rng.random(n) < p
    score = np.round(x, 1) if ties else x + rng.normal(scale=0.5, size=n)
    return y.astype(int), score, t.astype(int)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_matches_scikit_uplift(seed, ties):
    sk = pytest.importorskip("sklift.metrics")
    y, s, t = _random_campaign(seed, ties=ties)
    x_ref, q_ref = sk.qini_curve(y, s, t)
    x, q = qini_curve(y, s, t)
    assert_allclose(x, x_ref)
    assert_allclose(q, q_ref, atol=1e-9)
    for neg in (True, False):
        assert_allclose(qini_coefficient(y, s, t, negative_effect=neg),
                        sk.qini_auc_score(y, s, t, negative_effect=neg), rtol=1e-10)
    for strategy in ("by_group", "overall"):
        assert_allclose(uplift_at_k(y, s, t, k=0.1, strategy=strategy),
                        sk.uplift_at_k(y, s, t, strategy=strategy, k=0.1), rtol=1e-10)


def test_hand_checked_curve_and_perfect_ranking():
    # 4 treated (2 respond), 4 controls (1 responds)
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    t = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    s = np.array([8, 7, 2, 1, 6, 5, 4, 3], dtype=float)
    x, q = qini_curve(y, s, t)
    # ranks: 8(t,y) 7(t,y) 6(c,y) 5(c) 4(c) 3(c) 2(t) 1(t)
    assert_allclose(x, [0, 1, 2, 3, 4, 5, 6, 7, 8])
    assert_allclose(q[:3], [0, 1, 2])
    assert_allclose(q[3], 2 - 1 * 2 / 1)            # 2 treated, 1 control responder
    assert_allclose(q[-1], 2 - 1 * 4 / 4)
    # the perfect ranking (treated responders first, control responders last) scores 1
    perfect = y * t - y * (1 - t)
    assert qini_coefficient(y, perfect, t) == pytest.approx(1.0)
    # the reversed perfect ranking is worse than random
    assert qini_coefficient(y, -perfect, t) < 0


def test_bad_inputs_named():
    with pytest.raises(ParameterError, match="treatment"):
        qini_coefficient([1, 0], [0.1, 0.2], [1, 1])
    with pytest.raises(ParameterError, match="same length"):
        qini_curve([1, 0, 1], [0.1, 0.2], [1, 0])
    with pytest.raises(ParameterError, match="y_true"):
        qini_curve([2, 0], [0.1, 0.2], [1, 0])
    with pytest.raises(ParameterError, match="'k'"):
        uplift_at_k([1, 0], [0.1, 0.2], [1, 0], k=0)
