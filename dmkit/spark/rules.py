"""Association rules on a Spark DataFrame, with the same :class:`dmkit.rules.RuleSet` as pandas.

Two methods, both exact and both giving the itemsets and rules of
:func:`dmkit.rules.mine` (same rows, same order, same floating-point metrics):

``"distinct"`` (default)
    Subscriber baskets have few items (~35 services) and many rows, so identical baskets
    repeat. Spark packs each basket into 64-bit masks (one bitwise OR per row), counts the
    distinct masks with one ``GROUP BY`` and the driver mines the small weighted table
    with dmkit's own weighted miner. One pass over the data, one small shuffle.
``"fpgrowth"``
    :class:`pyspark.ml.fpm.FPGrowth` finds the frequent itemsets on the cluster; rules and
    their metrics are then computed by dmkit from those itemsets (Spark's own rules have
    single-item consequents only, and fewer metrics).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from dmkit._validation import check_choice, check_scalar
from dmkit.errors import schema_error
from dmkit.rules import mining
from dmkit.rules.ruleset import RuleSet, ruleset_from_itemsets
from dmkit.spark.session import get_session, require_pyspark

__all__ = ["mine", "distinct_baskets", "item_columns"]

_WORD = 64


def _as_spark(baskets, *, spark=None):
    """A pandas basket table (users × items, index = user id) as a Spark DataFrame."""
    from dmkit.spark.io import from_pandas

    mining.check_baskets(baskets)
    return from_pandas(baskets.reset_index(drop=True), spark=spark)


def item_columns(sdf, items: Sequence[str] | None = None, *, id_col: str | None = "user_id") -> list[str]:
    """The item (boolean) columns of a Spark basket table, checked like :func:`dmkit.rules.mine` checks pandas.

    ``items`` None: every column except ``id_col``. Each must be a Spark boolean column.
    """
    from pyspark.sql import types as T

    types = {f.name: f.dataType for f in sdf.schema.fields}
    cols = [c for c in sdf.columns if c != id_col] if items is None else list(items)
    if not cols:
        raise schema_error(table="baskets", column=None,
                           expected="at least one row (basket) and one column (item)",
                           found="no item columns")
    for c in cols:
        if c not in types:
            raise schema_error(table="baskets", column=str(c), expected="an item column of the basket table",
                               found=f"no column {c!r}; it has {sdf.columns[:12]}")
        if not isinstance(types[c], T.BooleanType):
            raise schema_error(table="baskets", column=str(c), expected="a boolean (numpy bool) column",
                               found=f"dtype {types[c].simpleString()}",
                               fix="build a boolean table, e.g. F.col(c) > 0, "
                                   "or dm.rules.baskets_from_subscriptions(...)")
    return cols


def distinct_baskets(sdf, items: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct baskets of a Spark basket table and their counts, computed in Spark SQL.

    Returns
    -------
    masks : ndarray of uint64, shape (m, ceil(k / 64))
        Item ``j`` (the ``j``-th of ``items``) is bit ``j % 64`` of word ``j // 64``, the
        layout of :func:`dmkit.rules.mining.distinct_baskets`.
    counts : ndarray of int64, shape (m,)
        Rows holding each basket.
    """
    from functools import reduce

    from pyspark.sql import functions as F

    items = list(items)
    n_words = mining.mask_words(len(items))
    words = []
    for w in range(n_words):
        bits = []
        for j, c in enumerate(items[w * _WORD:(w + 1) * _WORD]):
            value = np.uint64(1 << j).astype(np.int64).item()  # bit 63 is the sign bit
            bits.append(F.when(F.col(f"`{c}`"), F.lit(value).cast("long")).otherwise(F.lit(0).cast("long")))
        words.append(reduce(lambda a, b: a.bitwiseOR(b), bits).alias(f"w{w}"))
    grouped = sdf.select(*words).groupBy(*[f"w{w}" for w in range(n_words)]).count()
    table = grouped.toPandas()
    masks = table[[f"w{w}" for w in range(n_words)]].to_numpy(dtype=np.int64).view(np.uint64)
    return np.ascontiguousarray(masks), table["count"].to_numpy(dtype=np.int64)


def _fpgrowth_itemsets(sdf, items: list[str], n: int, *, min_support: float, max_len: int | None):
    """Frequent itemsets by Spark ML FPGrowth, as dmkit's miner lists them (item indices, counts)."""
    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import functions as F

    arr = F.array_compact(F.array(*[F.when(F.col(f"`{c}`"), F.lit(c)) for c in items]))
    tx = sdf.select(arr.alias("items"))
    least = mining.min_count(min_support, n)  # dmkit keeps an itemset of any size at this count
    # a slightly lower Spark threshold, then dmkit's exact integer thresholds
    fp = FPGrowth(itemsCol="items", minSupport=max(least - 1, 0) / n, minConfidence=1.0)
    freq = fp.fit(tx).freqItemsets.toPandas()
    index = {c: j for j, c in enumerate(items)}
    sets = [tuple(sorted(index[i] for i in s)) for s in freq["items"]]
    counts = freq["freq"].to_numpy(dtype=np.int64)
    keep = [c >= least for c in counts]
    if max_len is not None:
        keep = [k and len(s) <= max_len for k, s in zip(keep, sets, strict=True)]
    sets = [s for s, k in zip(sets, keep, strict=True) if k]
    counts = counts[np.asarray(keep, dtype=bool)] if len(counts) else counts
    # dmkit's depth-first order: singles by increasing count, then longer sets in
    # lexicographic order of their items' positions in that single order
    single = {s[0]: c for s, c in zip(sets, counts, strict=True) if len(s) == 1}
    order = sorted(single, key=lambda i: (single[i], i))
    pos = {i: p for p, i in enumerate(order)}

    def key(t):
        s = t[0]
        ps = tuple(sorted(pos[i] for i in s))
        return (0, ps[0], ()) if len(s) == 1 else (1, 0, ps)

    pairs = sorted(zip(sets, counts.tolist(), strict=True), key=key)
    out_sets = [tuple(sorted(s, key=lambda i: pos[i])) for s, _ in pairs]
    return out_sets, np.asarray([c for _, c in pairs], dtype=np.int64)


def mine(
    baskets,
    *,
    min_support: float,
    min_confidence: float = 0.0,
    min_lift: float | None = None,
    max_len: int | None = None,
    max_consequent_len: int | None = None,
    items: Sequence[str] | None = None,
    id_col: str | None = "user_id",
    method: Literal["distinct", "fpgrowth"] = "distinct",
    spark=None,
) -> RuleSet:
    """Frequent itemsets and association rules of a basket table held in Spark.

    Same thresholds and same :class:`dmkit.rules.RuleSet` as :func:`dmkit.rules.mine`.

    Parameters
    ----------
    baskets : pyspark.sql.DataFrame or pandas DataFrame
        One row per user, one boolean column per item (a pandas table is moved to Spark).
    min_support, min_confidence, min_lift, max_len, max_consequent_len
        As in :func:`dmkit.rules.mine`.
    items : list of str, optional
        Item columns; default every column except ``id_col``.
    id_col : str or None, default "user_id"
        A key column to leave out of the items.
    method : {"distinct", "fpgrowth"}, default "distinct"
        Count distinct baskets in Spark SQL and mine them on the driver, or run Spark ML
        FPGrowth (slower on subscriber baskets; see benchmarks/bench_spark.py).
    spark : SparkSession, optional
        Used to move a pandas table to Spark; default :func:`dmkit.spark.get_session`.

    Returns
    -------
    RuleSet
        ``.itemsets`` (itemset, support, count) and ``.rules`` (antecedents, consequents,
        antecedent support, consequent support, support, confidence, lift,
        representativity, leverage, conviction, zhangs_metric, jaccard, certainty,
        kulczynski), identical to the pandas path.

    Raises
    ------
    SchemaError
        Empty basket table, a missing or non-boolean item column.
    ParameterError
        A threshold out of range, an unknown method.
    """
    require_pyspark()
    from pyspark.sql import DataFrame

    min_support = mining.check_min_support(min_support)
    check_scalar(min_confidence, "min_confidence", low=0.0, high=1.0)
    check_scalar(min_lift, "min_lift", low=0.0, allow_none=True)
    check_scalar(max_len, "max_len", kind=int, low=1, allow_none=True)
    check_scalar(max_consequent_len, "max_consequent_len", kind=int, low=1, allow_none=True)
    check_choice(method, "method", ["distinct", "fpgrowth"])
    if isinstance(baskets, pd.DataFrame):
        baskets = _as_spark(baskets, spark=spark or get_session())
    elif not isinstance(baskets, DataFrame):
        raise schema_error(table="baskets", column=None,
                           expected="a Spark or pandas DataFrame of booleans (users × items)",
                           found=type(baskets).__name__)
    names = item_columns(baskets, items, id_col=id_col)
    masks, counts = distinct_baskets(baskets, names)
    n = int(counts.sum())
    if n == 0:
        raise schema_error(table="baskets", column=None,
                           expected="at least one row (basket) and one column (item)",
                           found="an empty table", fix="check the filter that built the baskets (e.g. the month)")
    if method == "distinct":
        sets, set_counts = mining.frequent_itemsets(masks, counts, len(names), n,
                                                    min_support=min_support, max_len=max_len)
    else:
        sets, set_counts = _fpgrowth_itemsets(baskets, names, n, min_support=min_support, max_len=max_len)
    return ruleset_from_itemsets(sets, set_counts, names=names, n=n, n_distinct=len(masks),
                                 min_support=min_support, min_confidence=min_confidence, min_lift=min_lift,
                                 max_len=max_len, max_consequent_len=max_consequent_len)
