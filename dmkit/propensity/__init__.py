"""Target-user models (cases J1, J2, Y6, G3): readable tree rules, calibrated scoring, churn warning.

One module per level, from the most readable model to the feedback stage:

* :mod:`~dmkit.propensity.rules` — :func:`tree_rules` turns a shallow CART into J2-style
  rules (``"call_days > 28.5 and monternet_sms > 2.5"``) with support, precision (the
  response rate inside the rule), recall and lift.
* :mod:`~dmkit.propensity.scoring` — :class:`ScoringModel`, a scikit-learn classifier
  (``predict_proba``, ``predict``, ``score(X, y)`` = ROC AUC; ``fit`` uses all the rows it
  is given unless ``test_size`` holds a part out or ``sample_size`` asks for a sample), and
  :func:`fit`, which holds out 30 %, learns from a stratified sample of at most 200,000 of the
  other rows (``sample_size``; the held-out part is never sampled) and returns the fitted model: class imbalance handled with balanced class weights,
  probabilities calibrated (isotonic, cross-validated on the training rows), and the
  numbers an analyst asks for — held-out AUC, cumulative gains and lift by decile, the
  precision-versus-size trade-off of J1, a target list of a given size or budget,
  permutation importance and gains / lift / calibration plots. ``predict_proba`` scores a
  full province in chunks, with a progress bar on request.
* :mod:`~dmkit.propensity.gains` — :func:`gains_table`: gains and lift of any score
  against outcomes (:class:`GainsResult`).
* :mod:`~dmkit.propensity.targets` — the inputs in one call from the data contract:
  :func:`build_features` (usage of a month, optionally users' attributes),
  :func:`service_target` (subscribed to a service at the month's end),
  :func:`churn_target` ("unsubscribes within N months", G3's churn-warning class) and
  :func:`fit_churn`.
* :mod:`~dmkit.propensity.refit` — :func:`refit_with_responses` closes the loop (J1's
  fourth step, M's feedback stage): retrain on a campaign's outcomes and show what changed.

A method package: imports the contract and the shared helpers only.
"""
from __future__ import annotations

from dmkit.propensity.gains import GainsResult, gains_table
from dmkit.propensity.refit import RefitResult, refit_with_responses
from dmkit.propensity.rules import TreeRulesResult, tree_rules
from dmkit.propensity.scoring import ScoringModel, fit
from dmkit.propensity.targets import (
    USAGE_FEATURES,
    build_features,
    churn_target,
    fit_churn,
    service_target,
)

__all__ = [
    "USAGE_FEATURES",
    "GainsResult",
    "RefitResult",
    "ScoringModel",
    "TreeRulesResult",
    "build_features",
    "churn_target",
    "fit",
    "fit_churn",
    "gains_table",
    "refit_with_responses",
    "service_target",
    "tree_rules",
]
