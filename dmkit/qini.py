"""Qini curve, Qini coefficient and uplift at k (the uplift-model metrics of campaign evaluation).

Written here rather than imported from scikit-uplift, which has had no release since 2022 and
raises deprecation warnings on current scikit-learn. The definitions follow Radcliffe (2007),
"Using control groups to target on predicted lift", and match scikit-uplift 0.5's
``qini_curve``, ``perfect_qini_curve``, ``qini_auc_score`` and ``uplift_at_k`` (the dev tests
compare them to floating-point error).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from dmkit.errors import parameter_error

__all__ = ["qini_curve", "qini_coefficient", "uplift_at_k"]

_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy >= 2 renamed trapz


def _as_arrays(y_true, score, treatment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float).ravel()
    s = np.asarray(score, dtype=float).ravel()
    t = np.asarray(treatment, dtype=float).ravel()
    if not (len(y) == len(s) == len(t)):
        raise parameter_error("y_true, score, treatment", expected="three arrays of the same length",
                              found=f"lengths {len(y)}, {len(s)}, {len(t)}")
    if len(y) == 0:
        raise parameter_error("y_true", expected="at least one observation", found="an empty array")
    for name, a in (("y_true", y), ("treatment", t)):
        if not np.isin(a, (0.0, 1.0)).all():
            raise parameter_error(name, expected="0/1 (or boolean) values",
                                  found=f"values {np.unique(a[~np.isin(a, (0.0, 1.0))])[:5].tolist()}")
    if not np.isfinite(s).all():
        raise parameter_error("score", expected="finite numbers", found=f"{int((~np.isfinite(s)).sum())} NaN/inf")
    if t.min() == t.max():
        raise parameter_error("treatment", expected="both treated (1) and control (0) observations",
                              found=f"only {int(t[0])}")
    return y, s, t


def qini_curve(y_true, score, treatment) -> tuple[np.ndarray, np.ndarray]:
    """The Qini curve: incremental responders when targeting the top-scored first.

    Parameters
    ----------
    y_true : array-like of 0/1
        Outcome (took up the offer).
    score : array-like of float
        Predicted uplift (or propensity) used to rank; ties are taken together.
    treatment : array-like of 0/1
        1 for the target (contacted) group, 0 for the control group.

    Returns
    -------
    x : ndarray
        Number of people targeted, from 0, at each distinct score threshold.
    qini : ndarray
        Incremental responders at ``x``: treated responders minus control responders
        scaled by the ratio of treated to control people so far.
    """
    y, s, t = _as_arrays(y_true, score, treatment)
    return _curve(y, s, t)


def _curve(y: np.ndarray, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(s, kind="mergesort")[::-1]
    y, t, s = y[order], t[order], s[order]
    cut = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    n_treat = np.cumsum(t)[cut]
    y_treat = np.cumsum(y * t)[cut]
    y_ctrl = np.cumsum(y * (1 - t))[cut]
    n_all = (cut + 1).astype(float)
    n_ctrl = n_all - n_treat
    ratio = np.divide(n_treat, n_ctrl, out=np.zeros_like(n_treat), where=n_ctrl != 0)
    values = y_treat - y_ctrl * ratio
    return np.r_[0.0, n_all], np.r_[0.0, values]


def qini_coefficient(y_true, score, treatment, *, negative_effect: bool = True) -> float:
    """Normalised Qini coefficient: the area between the Qini curve and random targeting,
    divided by the same area for a perfect ranking.

    1 is a perfect ranking, 0 random, negative worse than random.

    Parameters
    ----------
    y_true, score, treatment : array-like
        As in :func:`qini_curve`.
    negative_effect : bool, default True
        Whether the perfect ranking may place people the contact puts off (control
        responders) last, as scikit-uplift's default does.

    Returns
    -------
    float
    """
    y, s, t = _as_arrays(y_true, score, treatment)
    x, q = _curve(y, s, t)
    if negative_effect:
        xp, qp = _curve(y, y * t - y * (1 - t), t)
    else:
        gain = y[t == 1].sum() - (t == 1).sum() * y[t == 0].sum() / (t == 0).sum()
        xp, qp = np.array([0.0, gain, len(y)]), np.array([0.0, gain, gain])
    baseline = _trapezoid([0.0, qp[-1]], [0.0, xp[-1]])
    perfect = _trapezoid(qp, xp) - baseline
    actual = _trapezoid(q, x) - baseline
    if perfect == 0:
        return float("nan")
    return float(actual / perfect)


def uplift_at_k(
    y_true, score, treatment, *, k: float, strategy: Literal["by_group", "overall"] = "by_group"
) -> float:
    """Response rate of the treated minus that of the controls among the top ``k`` share.

    Parameters
    ----------
    y_true, score, treatment : array-like
        As in :func:`qini_curve`.
    k : float in (0, 1]
        Share of the population taken from the top of the score.
    strategy : {"by_group", "overall"}, default "by_group"
        ``"by_group"`` takes the top ``k`` of the treated and of the controls separately;
        ``"overall"`` takes the top ``k`` of everyone, then splits by group.

    Returns
    -------
    float
    """
    y, s, t = _as_arrays(y_true, score, treatment)
    if not isinstance(k, (int, float)) or not 0 < k <= 1:
        raise parameter_error("k", expected="a share in (0, 1]", found=k)
    if strategy not in ("by_group", "overall"):
        raise parameter_error("strategy", expected="'by_group' or 'overall'", found=strategy)
    order = np.argsort(s, kind="mergesort")[::-1]
    y, t = y[order], t[order]
    if strategy == "overall":
        top = slice(0, int(len(y) * k))
        yt, tt = y[top], t[top]
        if (tt == 1).sum() == 0 or (tt == 0).sum() == 0:
            raise parameter_error("k", expected="a top share holding both groups",
                                  found=f"{k} (top {len(yt)} people)")
        return float(yt[tt == 1].mean() - yt[tt == 0].mean())
    n_treat, n_ctrl = int((t == 1).sum() * k), int((t == 0).sum() * k)
    if n_treat == 0 or n_ctrl == 0:
        raise parameter_error("k", expected="a share that keeps at least one person per group",
                              found=f"{k} ({n_treat} treated, {n_ctrl} control)")
    return float(y[t == 1][:n_treat].mean() - y[t == 0][:n_ctrl].mean())
