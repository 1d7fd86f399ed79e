"""Exact frequent itemsets and association rules on subscriber baskets.

Subscriber baskets are wide in rows (millions of users) and narrow in items (about
35 services), so identical baskets repeat a lot. :func:`mine` packs each boolean
row into a bit mask, counts the distinct baskets once (``np.unique``) and mines the
*weighted* distinct baskets with a depth-first, vectorised Eclat: the support of
every extension of a prefix is one column sum over the distinct baskets that hold
the prefix. Rules are generated for all itemsets of one size at a time with bit
masks. The rule metrics are mlxtend's (``fpgrowth`` then ``association_rules(...,
num_itemsets=len(baskets))``), computed with the same floating-point formulas, and the
itemsets and rules kept are mlxtend's except at a threshold's boundary (below).

Thresholds are decided on integer counts (:func:`min_count`, :func:`reaches`): an itemset
is kept when ``count >= min_support * n`` and a rule when ``count(A ∪ C) >=
min_confidence * count(A)``, each up to a relative tolerance of 1e-9 for the rounding of
the product. Where ``min_support * n`` is an integer that rounds above itself in floating
point (``0.07 * 100 = 7.000000000000001``) mlxtend drops the multi-item itemsets held by
exactly that many baskets, and a rule whose confidence equals ``min_confidence`` but
computes a hair below it (``5 / 7`` as ``0.7142857142857142``); dmkit keeps them, as
Borgelt's apriori and a brute force do.
"""
from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd

from dmkit._validation import check_scalar
from dmkit.errors import schema_error

__all__ = ["METRICS", "REL_TOL", "RULE_COLUMNS", "association_rules", "check_baskets", "distinct_baskets", "frequent_itemsets",
           "mask_words", "min_count", "reaches"]

METRICS: tuple[str, ...] = (
    "antecedent support",
    "consequent support",
    "support",
    "confidence",
    "lift",
    "representativity",
    "leverage",
    "conviction",
    "zhangs_metric",
    "jaccard",
    "certainty",
    "kulczynski",
)
"""Rule metrics, in mlxtend 0.25's order (``association_rules`` ``return_metrics``)."""

RULE_COLUMNS: tuple[str, ...] = ("antecedents", "consequents") + METRICS

_CHUNK = 1 << 20


# ---------------------------------------------------------------------------- validation
def check_baskets(baskets: object, *, name: str = "baskets") -> pd.DataFrame:
    """Check a users × items table of booleans; raise SchemaError naming the problem."""
    if not isinstance(baskets, pd.DataFrame):
        raise schema_error(table=name, column=None, expected="a pandas DataFrame of booleans (users × items)",
                           found=type(baskets).__name__)
    if baskets.shape[0] == 0 or baskets.shape[1] == 0:
        raise schema_error(table=name, column=None, expected="at least one row (basket) and one column (item)",
                           found=f"an empty table of shape {baskets.shape}",
                           fix="check the filter that built the baskets (e.g. the month)")
    if not baskets.columns.is_unique:
        dup = baskets.columns[baskets.columns.duplicated()][0]
        raise schema_error(table=name, column=str(dup), expected="unique item (column) names",
                           found=f"column {dup!r} more than once")
    for c in baskets.columns:
        col = baskets[c]
        if col.dtype == np.bool_:
            continue
        if pd.api.types.is_bool_dtype(col.dtype):
            n_na = int(col.isna().sum())
            if n_na == 0:
                continue
            raise schema_error(table=name, column=str(c), expected="a boolean column without missing values",
                               found=f"{n_na} missing values", rows=list(col.index[col.isna()][:5]),
                               fix="fill them (baskets.fillna(False)) and cast with baskets.astype(bool)")
        raise schema_error(table=name, column=str(c), expected="a boolean column", found=f"dtype {col.dtype}",
                           fix="build a boolean table, e.g. baskets > 0 or "
                           "dm.rules.baskets_from_subscriptions(...)")
    return baskets


def check_min_support(min_support: object) -> float:
    check_scalar(min_support, "min_support", kind=(float, int), low=0.0, high=1.0, low_inclusive=False)
    return float(min_support)


# ---------------------------------------------------------------------------- packing
def mask_words(n_items: int) -> int:
    """64-bit words per basket mask for ``n_items`` items (the layout of :func:`distinct_baskets`)."""
    return max(1, (n_items + 63) // 64)


def _pack(values: np.ndarray, n_words: int) -> np.ndarray:
    """Pack an (n, k) bool array into (n, n_words) uint64 bit masks (item j = bit j)."""
    packed = np.packbits(values, axis=1, bitorder="little")
    pad = n_words * 8 - packed.shape[1]
    if pad:
        packed = np.concatenate([packed, np.zeros((packed.shape[0], pad), np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view(np.uint64).reshape(-1, n_words)


def _unpack(masks: np.ndarray, n_items: int) -> np.ndarray:
    """Inverse of :func:`_pack`: (m, n_words) uint64 → (m, n_items) bool."""
    as_bytes = np.ascontiguousarray(masks).view(np.uint8).reshape(masks.shape[0], -1)
    return np.unpackbits(as_bytes, axis=1, count=n_items, bitorder="little").view(bool)


def _unique_rows(masks: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a (n, w) uint64 array and their (weighted) counts."""
    if masks.shape[1] == 1:
        if weights is None:
            uniq, counts = np.unique(masks[:, 0], return_counts=True)
            return uniq.reshape(-1, 1), counts.astype(np.int64)
        uniq, inv = np.unique(masks[:, 0], return_inverse=True)
        return uniq.reshape(-1, 1), np.bincount(inv, weights=weights, minlength=len(uniq)).astype(np.int64)
    void = np.ascontiguousarray(masks).view(np.dtype((np.void, 8 * masks.shape[1]))).ravel()
    uniq, inv = np.unique(void, return_inverse=True)
    w = np.ones(len(masks)) if weights is None else weights
    counts = np.bincount(inv.ravel(), weights=w, minlength=len(uniq)).astype(np.int64)
    return uniq.view(np.uint64).reshape(-1, masks.shape[1]), counts


def distinct_baskets(baskets: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Distinct baskets of a bool users × items frame and how many users hold each.

    Returns
    -------
    masks : ndarray of uint64, shape (m, ceil(k / 64))
        Bit masks of the distinct baskets, item ``j`` (the ``j``-th column) = bit ``j``.
    counts : ndarray of int64, shape (m,)
        Number of rows with that basket.
    """
    n, k = baskets.shape
    words = mask_words(k)
    parts = []
    for start in range(0, n, _CHUNK):
        block = baskets.iloc[start:start + _CHUNK].to_numpy(dtype=bool, copy=False)
        parts.append(_unique_rows(_pack(block, words)))
    if len(parts) == 1:
        return parts[0]
    masks = np.concatenate([p[0] for p in parts])
    counts = np.concatenate([p[1] for p in parts]).astype(float)
    return _unique_rows(masks, counts)


# ---------------------------------------------------------------------------- itemsets
REL_TOL: float = 1e-9
"""Relative tolerance of every share threshold: ``count >= share * total * (1 - REL_TOL)``.

``0.07 * 100`` is ``7.000000000000001`` in floating point; without the tolerance an itemset
held by exactly 7 of 100 baskets would miss ``min_support=0.07``."""


def min_count(share: float, total: int | float) -> int:
    """Smallest integer count that reaches ``share`` of ``total``.

    ``count >= share * total`` decided on integers, with a relative tolerance of
    :data:`REL_TOL` for the rounding of ``share * total`` (``0.07 * 100`` keeps 7).
    """
    return max(0, math.ceil(share * total * (1.0 - REL_TOL)))


def reaches(count: np.ndarray, share: float, total: np.ndarray | float) -> np.ndarray:
    """``count >= share * total`` on counts, up to the relative tolerance :data:`REL_TOL`."""
    return np.asarray(count, dtype=float) >= share * np.asarray(total, dtype=float) * (1.0 - REL_TOL)


def _min_counts(min_support: float, n: int) -> tuple[int, int]:
    """Smallest counts kept for single items and for longer itemsets: both :func:`min_count`.

    An itemset is kept when ``count >= min_support * n`` (up to :data:`REL_TOL`), whatever
    its size. (mlxtend's fpgrowth prunes itemsets past single items at
    ``ceil(min_support * n)``, which drops those held by exactly ``min_support * n``
    baskets when that product rounds above an integer; Borgelt's apriori and a brute force
    keep them, and so does dmkit.)
    """
    c = min_count(min_support, n)
    return c, c


def frequent_itemsets(
    masks: np.ndarray,
    counts: np.ndarray,
    n_items: int,
    n: int,
    *,
    min_support: float,
    max_len: int | None = None,
) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """Frequent itemsets of weighted distinct baskets (item indices, counts).

    Depth-first Eclat over the distinct baskets: items are ordered by increasing
    support and a prefix is extended only by later (more frequent) items, so the
    sets of baskets holding a prefix shrink fast.
    """
    c1, c2 = _min_counts(min_support, n)
    item_counts = np.array([int(counts[((masks[:, j // 64] >> np.uint64(j % 64)) & np.uint64(1)) == 1].sum())
                            for j in range(n_items)], dtype=np.int64)
    frequent = np.flatnonzero(item_counts >= c1)
    order = frequent[np.argsort(item_counts[frequent], kind="stable")]
    out_sets: list[tuple[int, ...]] = [(int(i),) for i in order]
    out_counts: list[int] = [int(item_counts[i]) for i in order]
    if len(order) < 2 or (max_len is not None and max_len < 2):
        return out_sets, np.asarray(out_counts, dtype=np.int64)

    # project onto the frequent items (in support order) and keep baskets with >= 2 of them
    sub = _unpack(masks, n_items)[:, order]
    keep = sub.sum(axis=1) >= 2
    sub, w = sub[keep], counts[keep]
    if len(sub):
        repacked, w = _unique_rows(_pack(sub, mask_words(len(order))), w.astype(float))
        sub = _unpack(repacked, len(order))
    # item-major bits (1 byte per distinct basket and item) and the baskets' counts; the
    # support of prefix + c is the dot product of c's bits and the counts over the prefix's rows
    # (float32 sums of integer counts are exact while the total stays below 2**24)
    ftype = np.float32 if n < 2**24 else np.float64
    bits_t = np.ascontiguousarray(sub.T).view(np.uint8)  # (f, m)
    del sub
    weights = w.astype(ftype)

    def extend(prefix: tuple[int, ...], rows: np.ndarray, cand: np.ndarray) -> None:
        w_rows = weights.take(rows)
        cols = [bits_t[c].take(rows) for c in cand]
        sums = np.rint([np.dot(col.astype(ftype), w_rows) for col in cols]).astype(np.int64)
        ok = np.flatnonzero(sums >= c2)
        if not len(ok):
            return
        freq_cand = cand[ok]
        deeper = max_len is None or len(prefix) + 1 < max_len
        for j, o in enumerate(ok):
            itemset = prefix + (int(cand[o]),)
            out_sets.append(tuple(int(order[p]) for p in itemset))
            out_counts.append(int(sums[o]))
            if deeper and j + 1 < len(freq_cand):
                extend(itemset, rows[cols[o].view(bool)], freq_cand[j + 1:])

    f = len(order)
    for p in range(f - 1):
        rows = np.flatnonzero(bits_t[p])
        if len(rows):
            extend((p,), rows, np.arange(p + 1, f))
    return out_sets, np.asarray(out_counts, dtype=np.int64)


# ---------------------------------------------------------------------------- rules
def _mlxtend_metrics(cAC: np.ndarray, cA: np.ndarray, cC: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The twelve metrics with mlxtend 0.25's formulas (``num_itemsets=n``, no NaNs)."""
    nf = float(n)
    sAC, sA, sC = cAC / nf, cA / nf, cC / nf
    num = nf - 0.0
    conf = (sAC * num) / (sA * num - 0.0)
    conf_ca = (sAC * num) / (sC * num - 0.0)
    leverage = sAC - sA * sC
    conviction = np.full(conf.shape, np.inf)
    lt = conf < 1.0
    conviction[lt] = (1.0 - sC[lt]) / (1.0 - conf[lt])
    denom = np.maximum(sAC * (1 - sA), sA * (sC - sAC))
    with np.errstate(divide="ignore", invalid="ignore"):
        zhang = np.where(denom == 0, 0, leverage / denom)
        cert_den = 1 - sC
        certainty = np.where(cert_den == 0, 0, (conf - sC) / cert_den)
    return {
        "antecedent support": sA,
        "consequent support": sC,
        "support": sAC,
        "confidence": conf,
        "lift": conf / sC,
        "representativity": np.full(conf.shape, (nf - 0.0) / n),
        "leverage": leverage,
        "conviction": conviction,
        "zhangs_metric": zhang.astype(float),
        "jaccard": sAC / (sA + sC - sAC),
        "certainty": certainty.astype(float),
        "kulczynski": (conf + conf_ca) / 2,
    }


def _subset_patterns(k: int) -> tuple[np.ndarray, np.ndarray]:
    """All non-empty proper subsets of k positions as a (2^k - 2, k) 0/1 matrix and sizes."""
    pats = [c for r in range(1, k) for c in combinations(range(k), r)]
    mat = np.zeros((len(pats), k), dtype=bool)
    for i, c in enumerate(pats):
        mat[i, list(c)] = True
    return mat, mat.sum(axis=1)


def association_rules(
    itemsets: list[tuple[int, ...]],
    counts: np.ndarray,
    n: int,
    *,
    min_confidence: float = 0.0,
    min_lift: float | None = None,
    max_consequent_len: int | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Rules of frequent itemsets: antecedent and consequent item-index tuples and metrics.

    Vectorised per itemset size with item bit masks (Python-int masks past 63 items).
    """
    if not itemsets:
        return np.empty(0, object), np.empty(0, object), _mlxtend_metrics(*(np.empty(0),) * 3, n)
    n_items = max(max(s) for s in itemsets) + 1
    dtype = np.uint64 if n_items <= 63 else object
    one = np.uint64(1) if dtype is np.uint64 else 1

    def to_mask(pos: np.ndarray) -> np.ndarray:
        if dtype is np.uint64:
            return np.left_shift(one, pos.astype(np.uint64))
        return np.vectorize(lambda p: 1 << int(p), otypes=[object])(pos)

    sizes = np.fromiter((len(s) for s in itemsets), dtype=np.int64, count=len(itemsets))
    all_masks = np.empty(len(itemsets), dtype=dtype)
    for k in np.unique(sizes):
        idx = np.flatnonzero(sizes == k)
        pos = np.array([itemsets[i] for i in idx], dtype=np.int64).reshape(len(idx), k)
        all_masks[idx] = np.bitwise_or.reduce(to_mask(pos), axis=1)
    if dtype is np.uint64:
        srt = np.argsort(all_masks)
        sorted_masks, sorted_counts = all_masks[srt], counts[srt]

        def lookup(m: np.ndarray) -> np.ndarray:
            return sorted_counts[np.searchsorted(sorted_masks, m)]
    else:
        table = dict(zip(all_masks.tolist(), counts.tolist(), strict=True))

        def lookup(m: np.ndarray) -> np.ndarray:
            return np.array([table[x] for x in m], dtype=np.int64)

    ants, cons, cAC, cA, cC = [], [], [], [], []
    for k in np.unique(sizes):
        if k < 2:
            continue
        idx = np.flatnonzero(sizes == k)
        pos = np.array([itemsets[i] for i in idx], dtype=np.int64).reshape(len(idx), k)
        bits = to_mask(pos)                                # (n_k, k)
        pats, pat_len = _subset_patterns(int(k))           # (p, k)
        if max_consequent_len is not None:
            keep = (k - pat_len) <= max_consequent_len
            pats = pats[keep]
        if not len(pats):
            continue
        full = all_masks[idx]
        a = np.stack([np.bitwise_or.reduce(np.where(p, bits, dtype(0) if dtype is np.uint64 else 0), axis=1)
                      for p in pats], axis=1)               # (n_k, p)
        c = full[:, None] ^ a
        ants.append(a.ravel())
        cons.append(c.ravel())
        cAC.append(np.repeat(counts[idx], len(pats)))
        cA.append(lookup(a.ravel()))
        cC.append(lookup(c.ravel()))
    if not ants:
        return np.empty(0, object), np.empty(0, object), _mlxtend_metrics(*(np.empty(0),) * 3, n)
    ant, con = np.concatenate(ants), np.concatenate(cons)
    metrics = _mlxtend_metrics(np.concatenate(cAC).astype(float), np.concatenate(cA).astype(float),
                               np.concatenate(cC).astype(float), n)
    # thresholds on the integer counts: confidence = cAC / cA, lift = cAC * n / (cA * cC)
    c_ac, c_a, c_c = np.concatenate(cAC), np.concatenate(cA), np.concatenate(cC)
    keep = reaches(c_ac, min_confidence, c_a)
    if min_lift is not None:
        keep &= reaches(c_ac.astype(float) * n, min_lift, c_a.astype(float) * c_c)
    return ant[keep], con[keep], {k: v[keep] for k, v in metrics.items()}


def masks_to_frozensets(masks: np.ndarray, names: list) -> list[frozenset]:
    """Map item bit masks to frozensets of item names (cached per distinct mask)."""
    cache: dict = {}
    out = []
    for m in masks.tolist():
        fs = cache.get(m)
        if fs is None:
            x, j, items = int(m), 0, []
            while x:
                if x & 1:
                    items.append(names[j])
                x >>= 1
                j += 1
            fs = cache[m] = frozenset(items)
        out.append(fs)
    return out
