"""The loop's revision designs: the per-service design and the partly shared model.

The loop revises each offered service's target model from its delivered offers
(:func:`dmkit.loop.runner._revise`). A per-service logistic regression learns from the
offers of that service alone: in the first month with responses about 1,300 offers at
100,000 users, nearly all from the top of the ranking, on which it shrinks the base model's
log-odds (its coefficient 0.61-0.66) and fits noise. The **partly shared** model
(:data:`SHARED`) learns from every service's offers at once:

* shared terms: ``base_logit`` (the log-odds of the month's base model of the offer's
  service), ``contacts_90d`` (fatigue) and the contact channel (``channel_<c>``) — the
  planted channel effect and fatigue are the same for every service;
* per service ``s``: an intercept ``svc_<s>`` (1 on ``s``'s offers) and a copy
  ``<s>:<column>`` of every other column of :func:`design` (log usage, age, tenure,
  terminals, brands) that is zero on the other services' offers: each service keeps its own
  usage coefficients.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dmkit.errors import parameter_error

__all__ = ["SHARED", "design", "shared_design", "score", "stratified_holdout"]

SHARED = "shared_logit"
"""The store's ``kind`` of the partly shared revision model."""
_LINEAR = ("age", "tenure_months", "call_days", "contacts_90d")
"""Features the revision's logistic regression reads as they are; the other amounts and
counts enter as ``log_<c>`` = log(1 + c) (usage is log-normal: a log level is what moves the
odds), booleans as 0/1."""
_NOT_FEATURES = ("user_id", "service", "base_score", "weight", "y", "month")


def design(X: pd.DataFrame, base_score: np.ndarray) -> pd.DataFrame:
    """The revision's design matrix: ``base_logit`` (the log-odds of the base model's score),
    the features of :data:`_LINEAR` as they are, the other numeric features as ``log_<c>``
    and the booleans (channels, terminals, brands) as 0/1."""
    b = np.clip(np.asarray(base_score, dtype=float), 1e-4, 1 - 1e-4)
    out = {"base_logit": np.log(b / (1 - b))}
    for c in X.columns:
        if c in _NOT_FEATURES:
            continue
        x = X[c].to_numpy()
        if x.dtype == bool or c in _LINEAR:
            out[c] = x.astype(np.float64)
        else:
            out[f"log_{c}"] = np.log1p(np.maximum(x.astype(np.float64), 0.0))
    return pd.DataFrame(out, index=X.index)


def _is_shared_term(column: str) -> bool:
    return column in ("base_logit", "contacts_90d") or column.startswith("channel_")


def shared_design(X: pd.DataFrame, base_score: np.ndarray, service, services) -> pd.DataFrame:
    """The partly shared model's design matrix (see the module docstring).

    Parameters
    ----------
    X : DataFrame
        Features of the offers (those of :func:`design`).
    base_score : array
        The base model's score of each offer (for its service).
    service : str or array of str
        The service of each offer (one name: every row).
    services : sequence of str
        Every service of the model, in a fixed order (the columns' order).

    Returns
    -------
    DataFrame
        The shared terms, then per service ``svc_<s>`` and ``<s>:<column>`` (zero on the
        other services' rows).

    Raises
    ------
    ParameterError
        ``service`` names a service outside ``services``.
    """
    D = design(X, base_score)
    svc = np.broadcast_to(np.asarray(service, dtype=object), (len(D),))
    unknown = set(svc) - set(services)
    if unknown:
        raise parameter_error("service", expected=f"services among {list(services)}", found=sorted(unknown))
    shared = [c for c in D.columns if _is_shared_term(c)]
    own = [c for c in D.columns if not _is_shared_term(c)]
    out = {c: D[c].to_numpy() for c in shared}
    V = D[own].to_numpy()
    for s in services:
        on = (svc == s).astype(np.float64)
        out[f"svc_{s}"] = on
        for k, c in enumerate(own):
            out[f"{s}:{c}"] = V[:, k] * on
    return pd.DataFrame(out, index=X.index)


def _services_of(columns) -> list[str]:
    return [c[4:] for c in columns if c.startswith("svc_")]


def score(model, X: pd.DataFrame, base_score: np.ndarray, service: str) -> np.ndarray:
    """P(subscribe | delivered) of ``service``'s offers to the users of ``X`` from a revision
    model of any kind: the shared model (its columns name its services), the per-service
    logistic regression (``base_logit``), the recalibrated base score (``base_score``)."""
    cols = list(model.feature_names_in_)
    services = _services_of(cols)
    if services:
        X = shared_design(X, base_score, service, services)
    elif "base_logit" in cols:
        X = design(X, base_score)
    elif "base_score" in cols:
        X = X.assign(base_score=base_score)
    return model.predict_proba(X[cols])[:, 1]


def stratified_holdout(strata: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A held-out mask: ``share`` of each stratum's rows (rounded, at least one when the
    stratum has two), drawn with ``rng``; the same rows for every candidate compared on it."""
    strata = np.asarray(strata)
    hold = np.zeros(len(strata), dtype=bool)
    for v in pd.unique(strata):
        rows = np.flatnonzero(strata == v)
        k = int(round(share * len(rows)))
        if len(rows) >= 2:
            k = min(max(k, 1), len(rows) - 1)
        else:
            k = 0
        hold[rng.choice(rows, size=k, replace=False)] = True
    return hold
