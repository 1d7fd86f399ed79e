"""True take-up propensities with tree-like thresholds (case J2).

Each target service has one rule (a conjunction of ``usage`` thresholds in the data month);
users inside the rule region take the service with probability ``p_in``, the others with
``p_out``. Thresholds sit half-way between integers, as tree splits do.
"""
from __future__ import annotations

import numpy as np

__all__ = ["RULES", "evaluate", "true_propensity"]

#: service -> {"rules": [[feature, op, threshold], ...] conjunctions, "p_in", "p_out"}
#: J2's mail-notification SMS-fee threshold "9925" is read as 9.925 yuan (the deck's fee
#: field was in thousandths of a yuan).
RULES: dict[str, dict] = {
    "newspaper": {
        "rules": [[["call_days", ">", 28.5], ["monternet_sms", ">", 2.5]]],
        "p_in": 0.35, "p_out": 0.03,
    },
    "mail_notify": {
        "rules": [[["sms_fee", ">", 9.925], ["local_incoming_calls", ">", 74.5],
                   ["recharges", ">", 1.5]]],
        "p_in": 0.40, "p_out": 0.03,
    },
    "fetion": {
        "rules": [[["sms_p2p", ">", 99.5], ["wap_visits", ">", 4.5]]],
        "p_in": 0.45, "p_out": 0.04,
    },
}

_OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}


def evaluate(rules: list, features: dict[str, np.ndarray]) -> np.ndarray:
    """Boolean mask: the user satisfies any of the conjunctions."""
    out = None
    for conj in rules:
        m = None
        for feat, op, thr in conj:
            c = _OPS[op](features[feat], thr)
            m = c if m is None else (m & c)
        out = m if out is None else (out | m)
    return out


def true_propensity(service: str, features: dict[str, np.ndarray]) -> np.ndarray:
    """Per-user take-up probability (float32) of ``service``."""
    spec = RULES[service]
    inside = evaluate(spec["rules"], features)
    return np.where(inside, np.float32(spec["p_in"]), np.float32(spec["p_out"])).astype(np.float32)
