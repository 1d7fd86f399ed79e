"""Channel and content preferences planted with the Y4 rules (customer fingerprint).

Rules are checked in order; the first whose conditions hold gives the rule's preference
(``true_channel`` / ``true_genre`` in ``user_truth``). The realised preference equals it
with probability ``p`` and is another value otherwise (``preferred_channel`` in ``users``;
``preferred_genre`` in ``user_truth``, which drives the download events).

Condition features: ``users`` columns (age, brand, student), ``usage`` columns of the data
month, and ``holds:<service>`` = the user holds the service (active) at the data month.
"""
from __future__ import annotations

import numpy as np

from dmkit import catalog

__all__ = ["CHANNEL_RULES", "CONTENT_RULES", "CHANNEL_ALTERNATIVES", "apply_rules"]

CHANNEL_RULES: list[dict] = [
    {"preference": "ivr", "conditions": [["age", "<", 20], ["holds:secretary", "==", True]], "p": 0.8},
    {"preference": "web", "conditions": [["holds:music_club", "==", True], ["brand", "==", "mzone"]], "p": 0.8},
    {"preference": "wap", "conditions": [["holds:wap", "==", True]], "p": 0.7},
    {"preference": "sms", "conditions": [], "p": 0.7},
]
CHANNEL_ALTERNATIVES = ("sms", "web", "wap", "ivr", "hall", "hotline")

CONTENT_RULES: list[dict] = [
    {"preference": "diy", "conditions": [["crbt_changes", ">=", 3]], "p": 0.8},
    {"preference": "greeting", "conditions": [["student", "==", True], ["sms_p2p+mms", ">=", 150]], "p": 0.75},
    {"preference": "local", "conditions": [["holds:local_paper", "==", True], ["sms_p2p", ">=", 200]], "p": 0.75},
    {"preference": "classic", "conditions": [["age", ">", 42], ["sms_p2p+mms", "<", 30]], "p": 0.8},
    {"preference": "pop", "conditions": [["age", "<", 35], ["music_downloads", ">=", 2]], "p": 0.7},
    {"preference": "pop", "conditions": [], "p": 0.4},
]
CONTENT_GENRES = ("pop", "classic", "local", "greeting", "diy")

_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
        "==": np.equal}


def _mask(conds, feats, n):
    m = np.ones(n, dtype=bool)
    for f, op, v in conds:
        x = feats[f]
        if f == "brand":
            v = catalog.BRANDS.index(v)
        m &= _OPS[op](x, v)
    return m


def apply_rules(rng: np.random.Generator, rules: list[dict], values: tuple[str, ...],
                alternatives: tuple[str, ...], feats: dict) -> tuple[np.ndarray, np.ndarray]:
    """(rule outcome codes, realised codes), both int8 indices into ``values``."""
    n = len(next(iter(feats.values())))
    rule = np.full(n, -1, dtype=np.int8)
    pr = np.zeros(n, dtype=np.float32)
    for r in rules:
        m = (rule < 0) & _mask(r["conditions"], feats, n)
        rule[m] = values.index(r["preference"])
        pr[m] = r["p"]
    alt_codes = np.array([values.index(a) for a in alternatives], dtype=np.int8)
    u = rng.random(n, dtype=np.float32)
    # another value: shift the rule's position in the alternatives by 1..len-1
    alt = rng.integers(0, len(alt_codes), n)
    cand = alt_codes[alt]
    same = cand == rule
    cand[same] = alt_codes[(alt[same] + 1 + rng.integers(0, len(alt_codes) - 1, int(same.sum()))) % len(alt_codes)]
    real = np.where(u < pr, rule, cand).astype(np.int8)
    return rule, real
