"""``mine``: association rules on a users × items table, returned as a :class:`RuleSet`."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_choice, check_scalar
from dmkit.errors import parameter_error
from dmkit.rules import mining
from dmkit.rules.basket_scores import BasketScores

__all__ = ["RuleSet", "mine", "ruleset_from_itemsets"]

SortKey = Literal["lift", "confidence", "support", "leverage", "conviction", "zhangs_metric",
                  "antecedent support", "consequent support", "jaccard", "certainty", "kulczynski"]


def _fmt(items: frozenset) -> str:
    return "{" + ", ".join(sorted(map(str, items))) + "}"


def _as_set(items: object, name: str) -> frozenset:
    if items is None:
        return frozenset()
    if isinstance(items, str):
        return frozenset([items])
    if isinstance(items, Iterable):
        return frozenset(items)
    raise parameter_error(name, expected="an item name or a collection of item names", found=items)


@dataclass(frozen=True)
class RuleSet(Result):
    """Frequent itemsets and association rules of a basket table.

    Attributes
    ----------
    itemsets : DataFrame
        Columns ``itemset`` (frozenset of item names), ``support`` (share of baskets),
        ``count`` (number of baskets); sorted by support, descending.
    rules : DataFrame
        Columns ``antecedents``, ``consequents`` (frozensets) and mlxtend 0.25's metrics
        ``antecedent support``, ``consequent support``, ``support``, ``confidence``,
        ``lift``, ``representativity``, ``leverage``, ``conviction``, ``zhangs_metric``,
        ``jaccard``, ``certainty``, ``kulczynski``; sorted by lift, then confidence.
    n_baskets, n_distinct : int
        Rows of the basket table and distinct baskets among them.
    min_support, min_confidence, min_lift, max_len, max_consequent_len
        The thresholds used.
    """

    itemsets: pd.DataFrame
    rules: pd.DataFrame
    n_baskets: int
    n_distinct: int
    min_support: float
    min_confidence: float = 0.0
    min_lift: float | None = None
    max_len: int | None = None
    max_consequent_len: int | None = None

    # -- selection --------------------------------------------------------------
    def filter(
        self,
        *,
        antecedent: object = None,
        consequent: object = None,
        min_support: float | None = None,
        min_confidence: float | None = None,
        min_lift: float | None = None,
        max_antecedent_len: int | None = None,
        max_consequent_len: int | None = None,
    ) -> RuleSet:
        """Rules that hold all the conditions, as a new RuleSet (itemsets unchanged).

        ``antecedent`` / ``consequent``: rules whose antecedents (consequents) contain
        these item(s). The ``min_*`` thresholds keep rules at or above them, decided as
        :func:`mine` decides them, on the integer basket counts (``count(A ∪ C) >=
        min_support * n``, ``count(A ∪ C) >= min_confidence * count(A)``, ``count(A ∪ C) * n
        >= min_lift * count(A) * count(C)``) up to a relative tolerance of 1e-9
        (:data:`dmkit.rules.mining.REL_TOL`): a rule held by exactly 7 of 100 baskets
        stays at ``min_support=0.07`` although ``0.07 * 100`` is ``7.000000000000001``.
        """
        r = self.rules
        keep = np.ones(len(r), dtype=bool)
        ant, con = _as_set(antecedent, "antecedent"), _as_set(consequent, "consequent")
        if ant:
            keep &= r["antecedents"].map(ant.issubset).to_numpy(dtype=bool)
        if con:
            keep &= r["consequents"].map(con.issubset).to_numpy(dtype=bool)
        for val, name in ((min_support, "min_support"), (min_confidence, "min_confidence"),
                          (min_lift, "min_lift")):
            check_scalar(val, name, low=0.0, allow_none=True)
        n = float(self.n_baskets)
        # the counts behind the shares: support = count / n exactly, so rint recovers them
        c_ac, c_a, c_c = (np.rint(r[col].to_numpy(dtype=float) * n)
                          for col in ("support", "antecedent support", "consequent support"))
        if min_support is not None:
            keep &= mining.reaches(c_ac, min_support, n)
        if min_confidence is not None:
            keep &= mining.reaches(c_ac, min_confidence, c_a)
        if min_lift is not None:
            keep &= mining.reaches(c_ac * n, min_lift, c_a * c_c)
        for col, val, name in (("antecedents", max_antecedent_len, "max_antecedent_len"),
                               ("consequents", max_consequent_len, "max_consequent_len")):
            check_scalar(val, name, kind=int, low=1, allow_none=True)
            if val is not None:
                keep &= r[col].map(len).to_numpy() <= val
        return replace(self, rules=r[keep].reset_index(drop=True))

    def rules_into(self, item: str, *, min_confidence: float = 0.0, min_lift: float | None = None) -> RuleSet:
        """Every rule ``A => {item}`` the frequent itemsets give, whatever confidence the set
        was mined at, as a new RuleSet (itemsets unchanged, ``min_confidence`` / ``min_lift``
        those given here).

        For a rare item — an introduction product held by 1% of the users — no rule into it
        reaches a confidence threshold set for the whole basket (a rule that quadruples its
        rate has a confidence of 4%); a lift threshold relative to the item's own rate is the
        one that selects the rules worth a campaign. The rules come from the itemsets already
        mined (every frequent itemset holding ``item`` with at least one other item, its
        antecedent's count known because subsets of frequent itemsets are frequent), so
        nothing is mined again; the thresholds are :meth:`filter`'s (on the integer counts),
        the metrics :func:`mine`'s and the order :meth:`sort`'s by lift.

        Raises
        ------
        ParameterError
            ``item`` is not an item of the frequent itemsets, or a threshold is out of range.
        """
        check_scalar(min_confidence, "min_confidence", low=0.0, high=1.0)  # filter has no upper bound
        counts = dict(zip(self.itemsets["itemset"], self.itemsets["count"].to_numpy(np.int64), strict=True))
        single = frozenset([item])
        if single not in counts:
            known = sorted({str(i) for s in counts for i in s})
            raise parameter_error("item", expected=f"an item of the frequent itemsets ({len(known)}: "
                                  f"{', '.join(known[:8])}{', ...' if len(known) > 8 else ''})", found=item)
        with_item = [s for s in counts if item in s and len(s) > 1]
        ants = [s - single for s in with_item]
        metrics = mining._mlxtend_metrics(np.array([counts[s] for s in with_item], dtype=float),
                                          np.array([counts[a] for a in ants], dtype=float),
                                          np.full(len(with_item), float(counts[single])), self.n_baskets)
        rules = pd.DataFrame({"antecedents": pd.Series(ants, dtype=object),
                              "consequents": pd.Series([single] * len(ants), dtype=object),
                              **metrics})[list(self.rules.columns)]
        every = replace(self, rules=rules, min_confidence=float(min_confidence), min_lift=min_lift,
                        max_consequent_len=1)
        return every.filter(min_confidence=min_confidence, min_lift=min_lift).sort("lift")

    def sort(self, by: SortKey = "lift", *, ascending: bool = False) -> RuleSet:
        """Rules sorted by a metric (ties by confidence, then support), as a new RuleSet."""
        check_choice(by, "by", mining.METRICS)
        keys = [by] + [k for k in ("confidence", "support") if k != by]
        return replace(self, rules=self.rules.sort_values(keys, ascending=ascending, kind="stable")
                       .reset_index(drop=True))

    def top(self, n: int = 10) -> pd.DataFrame:
        """The first ``n`` rules as a readable table (rule text, support, confidence, lift)."""
        check_scalar(n, "n", kind=int, low=1)
        r = self.rules.head(n)
        return pd.DataFrame({
            "rule": [f"{_fmt(a)} => {_fmt(c)}" for a, c in zip(r["antecedents"], r["consequents"], strict=True)],
            "support": r["support"].to_numpy(),
            "confidence": r["confidence"].to_numpy(),
            "lift": r["lift"].to_numpy(),
            "users": np.rint(r["support"].to_numpy() * self.n_baskets).astype(np.int64),
        })

    def recommend(self, baskets: pd.DataFrame, item: str, *, metric: SortKey = "confidence") -> pd.Series:
        """Score each basket for ``item``: the best ``metric`` of a rule ``A => {item}`` it fires.

        A rule fires for a basket that holds all of A and not ``item`` yet; baskets that
        already hold ``item`` or fire no rule score 0. Returns a Series indexed like
        ``baskets`` (use it as a model score in :func:`dmkit.rules.library`). For several
        items at once, :meth:`recommend_all` reads the baskets once.
        """
        out = self.recommend_all(baskets, [item], metric=metric)
        return out[item].rename(f"{item}_{metric}")

    def recommend_all(self, baskets: pd.DataFrame, items: Iterable[str] | None = None, *,
                      metric: SortKey = "confidence") -> pd.DataFrame:
        """:meth:`recommend` for several items: one score column per item, indexed like ``baskets``.

        The users × items frame of :meth:`recommend_baskets` (``.to_frame()``): the rules are
        evaluated once per distinct basket, but the result holds n × items floats; for a
        province pass :meth:`recommend_baskets`' scores on (e.g. to :func:`dmkit.rules.library`).
        Parameters and errors as :meth:`recommend_baskets`.

        Returns
        -------
        DataFrame
            One float column per item, named by the item, indexed like ``baskets``.
        """
        return self.recommend_baskets(baskets, items, metric=metric).to_frame()

    def recommend_baskets(self, baskets: pd.DataFrame, items: Iterable[str] | None = None, *,
                          metric: SortKey = "confidence") -> BasketScores:
        """:meth:`recommend_all`'s scores held once per distinct basket, with a basket code per user.

        Users holding the same services share their scores, so the rules are evaluated once
        per distinct basket and the result holds the distinct baskets × items floats plus
        one code per user (a province has a few thousand distinct baskets for millions of
        users). ``scores[item]`` is :meth:`recommend`'s Series for that item and
        ``scores.to_frame()`` is :meth:`recommend_all`'s frame.

        Parameters
        ----------
        baskets : DataFrame
            Users × items booleans (as mined).
        items : iterable of str, optional
            The items to score, columns of ``baskets`` (default: every column).
        metric : str
            The rule metric a basket scores (default ``confidence``).

        Returns
        -------
        BasketScores
            ``index`` the baskets' index, ``table`` one float column per item (a row per
            distinct basket), ``codes`` each user's row of it.

        Raises
        ------
        SchemaError
            ``baskets`` is not a boolean table.
        ParameterError
            An item that is not a column of ``baskets``, or an unknown metric.
        """
        mining.check_baskets(baskets)
        check_choice(metric, "metric", mining.METRICS)
        names = list(baskets.columns)
        items = names if items is None else list(items)
        pos = {c: j for j, c in enumerate(names)}
        for item in items:
            if item not in pos:
                raise parameter_error("item", expected=f"a column of baskets, e.g. {names[:5]}", found=item)
        uniq, inv = _distinct_masks(baskets)
        words = uniq.shape[1]

        def bits(cols: list[int]) -> np.ndarray:
            m = np.zeros(words, dtype=np.uint64)
            for j in cols:
                m[j // 64] |= np.uint64(1) << np.uint64(j % 64)
            return m

        scored = list(dict.fromkeys(items))   # an item asked twice is scored once
        out_col = {item: j for j, item in enumerate(scored)}
        # the single-consequent rules of the items scored, grouped by antecedent: a basket fires
        # every rule of one antecedent at once, so each antecedent is checked once
        by_ant: dict[frozenset, dict[int, float]] = {}
        vals = self.rules[metric].to_numpy(dtype=float)
        for ant, con, v in zip(self.rules["antecedents"], self.rules["consequents"], vals, strict=True):
            if len(con) != 1:
                continue
            j = out_col.get(next(iter(con)))
            if j is None or not all(c in pos for c in ant):
                continue
            best = by_ant.setdefault(ant, {})
            best[j] = max(best.get(j, -np.inf), v)
        # the distinct baskets holding each item: an antecedent is checked on those of its rarest item only
        holding = [np.flatnonzero(uniq[:, j // 64] & (np.uint64(1) << np.uint64(j % 64))) for j in range(len(names))]
        table = np.zeros((len(scored), len(uniq)))
        for ant, best in by_ant.items():
            js = np.fromiter(best, dtype=np.int64, count=len(best))
            vs = np.fromiter(best.values(), dtype=float, count=len(best))
            cols = [pos[c] for c in ant]
            if not cols:
                table[js] = np.maximum(table[js], vs[:, None])
                continue
            am = bits(cols)
            rows = holding[min(cols, key=lambda j: len(holding[j]))]
            fired = rows[((uniq[rows] & am) == am).all(axis=1)]
            if len(fired):
                cell = np.ix_(js, fired)
                table[cell] = np.maximum(table[cell], vs[:, None])
        for item, j in out_col.items():
            table[j, holding[pos[item]]] = 0.0
        if len(scored) < len(items):
            table = table[[out_col[item] for item in items]]
        return BasketScores(baskets.index, inv, pd.DataFrame(table.T, columns=pd.Index(items)))

    # -- Result interface -------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """The rules table (a copy)."""
        return self.rules.copy()

    def summary(self, n: int = 10) -> Summary:
        """Counts, thresholds and the top ``n`` rules by lift."""
        sizes = self.itemsets["itemset"].map(len).value_counts().sort_index()
        overview = pd.DataFrame({
            "value": [self.n_baskets, self.n_distinct, len(self.itemsets), len(self.rules),
                      self.min_support, self.min_confidence,
                      np.nan if self.min_lift is None else self.min_lift],
        }, index=["baskets", "distinct baskets", "frequent itemsets", "rules", "min_support",
                  "min_confidence", "min_lift"])
        per_size = pd.DataFrame({"itemsets": sizes.to_numpy()}, index=pd.Index(sizes.index, name="size"))
        notes = []
        if not len(self.rules):
            notes.append("no rule reaches the thresholds; lower min_support or min_confidence")
        tables = [("overview", overview), ("frequent itemsets by size", per_size)]
        if len(self.rules):
            tables.append((f"top {n} rules by lift", self.sort("lift").top(n)))
        return Summary(title="Association rules (关联规则)", tables=tuple(tables), notes=tuple(notes))

    def plot(self, ax=None, *, kind: Literal["scatter", "graph"] = "scatter", n: int = 20):
        """Support–confidence scatter coloured by lift, or a graph of the top ``n`` rules by lift."""
        check_choice(kind, "kind", ["scatter", "graph"])
        ax = get_ax(ax)
        if kind == "scatter":
            from matplotlib.colors import LogNorm

            lift = self.rules["lift"].to_numpy()
            pos = lift[lift > 0]
            norm = LogNorm(vmin=pos.min(), vmax=pos.max()) if len(pos) and pos.min() < pos.max() else None
            sc = ax.scatter(self.rules["support"], self.rules["confidence"], c=np.clip(lift, 1e-9, None),
                            cmap="viridis", s=14, norm=norm)
            ax.figure.colorbar(sc, ax=ax, label="lift (log scale)")
            ax.set_xlabel("support")
            ax.set_ylabel("confidence")
            ax.set_title(f"{len(self.rules)} rules")
            return ax
        return _rule_graph(self.sort("lift").rules.head(n), ax)


def _distinct_masks(baskets: pd.DataFrame, step: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a bool users × items frame as bit masks (m, words) and each row's
    code among them (int32 when they fit), packed a block of rows at a time."""
    words = mining.mask_words(baskets.shape[1])
    n = len(baskets)
    masks = np.empty((n, words), dtype=np.uint64)
    for start in range(0, n, step):
        block = baskets.iloc[start:start + step].to_numpy(dtype=bool, copy=False)
        masks[start:start + step] = mining._pack(block, words)
    if words == 1:
        uniq, inv = np.unique(masks[:, 0], return_inverse=True)
        uniq = uniq.reshape(-1, 1)
    else:
        void = masks.view(np.dtype((np.void, 8 * words))).ravel()
        uniq, inv = np.unique(void, return_inverse=True)
        uniq = uniq.view(np.uint64).reshape(-1, words)
    del masks
    inv = inv.ravel()
    return uniq, inv.astype(np.int32) if len(uniq) < 2 ** 31 else inv


def _rule_graph(rules: pd.DataFrame, ax):
    """Items on a circle; an arrow per rule from each antecedent item to each consequent item."""
    items = sorted({str(i) for s in pd.concat([rules["antecedents"], rules["consequents"]]) for i in s})
    ax.set_axis_off()
    if not items:
        ax.set_title("no rules")
        return ax
    angle = np.linspace(0, 2 * np.pi, len(items), endpoint=False)
    pos = {it: (np.cos(a), np.sin(a)) for it, a in zip(items, angle, strict=True)}
    lifts = rules["lift"].to_numpy()
    span = np.ptp(lifts) if len(lifts) > 1 and np.ptp(lifts) > 0 else 1.0
    for (a, c, lift) in zip(rules["antecedents"], rules["consequents"], lifts, strict=True):
        width = 0.5 + 2.5 * (lift - lifts.min()) / span
        for i in a:
            for j in c:
                (x0, y0), (x1, y1) = pos[str(i)], pos[str(j)]
                ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                            arrowprops={"arrowstyle": "->", "lw": width, "alpha": 0.6,
                                        "color": "tab:blue", "shrinkA": 12, "shrinkB": 12})
    for it, (x, y) in pos.items():
        ax.text(x, y, it, ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round", "fc": "white", "ec": "grey"})
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    ax.set_title(f"top {len(rules)} rules by lift (arrow width = lift)")
    return ax


def mine(
    baskets: pd.DataFrame,
    *,
    min_support: float,
    min_confidence: float = 0.0,
    min_lift: float | None = None,
    max_len: int | None = None,
    max_consequent_len: int | None = None,
) -> RuleSet:
    """Frequent itemsets and association rules of a users × items boolean table.

    Identical baskets are counted once and the weighted distinct baskets are mined
    (exact; see :mod:`dmkit.rules.mining`). Thresholds are decided on integer counts:
    an itemset is kept when ``count >= min_support * n`` and a rule when ``count(A ∪ C) >=
    min_confidence * count(A)`` (and ``count(A ∪ C) * n >= min_lift * count(A) *
    count(C)``), each up to a relative tolerance of 1e-9.

    How this compares with mlxtend 0.25's ``fpgrowth(baskets, min_support,
    use_colnames=True, max_len=max_len)`` followed by ``association_rules(freq,
    num_itemsets=len(baskets), metric="confidence", min_threshold=min_confidence)``:

    * the metrics are computed with mlxtend's floating-point formulas, so every kept rule
      has mlxtend's values (to 1e-12 relative), in mlxtend's columns;
    * the itemsets and rules kept are the same whenever no count sits exactly on a
      threshold — in particular whenever ``min_support * n`` is not an integer;
    * at the boundary they differ, and dmkit keeps what the definition (and Borgelt's
      apriori, and a brute force) keeps: where ``min_support * n`` is an integer that
      rounds above itself in floating point (``0.07 * 100 = 7.000000000000001``) mlxtend
      drops the multi-item itemsets held by exactly that many baskets (it prunes them at
      ``ceil(min_support * n)``; single items are kept by both), and it drops a rule whose
      confidence equals ``min_confidence`` but computes a hair below it
      (``(0.1 * 50) / (0.14 * 50) = 0.7142857142857142 < 5 / 7``).

    The tests check both: equality with mlxtend on random baskets when mlxtend is given
    thresholds between counts, and the exact difference at the boundary.

    Parameters
    ----------
    baskets : DataFrame
        One row per user (basket), one numpy-bool column per item (service).
    min_support : float in (0, 1]
        Keep itemsets held by at least this share of baskets (on counts, see above).
    min_confidence : float in [0, 1]
        Keep rules with at least this confidence (on counts).
    min_lift : float >= 0, optional
        Also keep only rules with at least this lift (on counts).
    max_len : int >= 1, optional
        Longest itemset mined.
    max_consequent_len : int >= 1, optional
        Longest consequent; ``1`` gives single-item consequents as R arules and pyfim do.
        By default rules have multi-item consequents, as mlxtend gives.

    Returns
    -------
    RuleSet
        ``.itemsets`` (itemset, support, count) and ``.rules`` (antecedents,
        consequents, antecedent support, consequent support, support, confidence, lift,
        representativity, leverage, conviction, zhangs_metric, jaccard, certainty,
        kulczynski).

    Raises
    ------
    SchemaError
        ``baskets`` is empty, not a DataFrame, or has a non-boolean column.
    ParameterError
        A threshold is outside its range.
    """
    baskets = mining.check_baskets(baskets)
    min_support = mining.check_min_support(min_support)
    check_scalar(min_confidence, "min_confidence", low=0.0, high=1.0)
    check_scalar(min_lift, "min_lift", low=0.0, allow_none=True)
    check_scalar(max_len, "max_len", kind=int, low=1, allow_none=True)
    check_scalar(max_consequent_len, "max_consequent_len", kind=int, low=1, allow_none=True)

    n, k = baskets.shape
    names = list(baskets.columns)
    masks, counts = mining.distinct_baskets(baskets)
    sets, set_counts = mining.frequent_itemsets(masks, counts, k, n, min_support=min_support,
                                                max_len=max_len)
    return ruleset_from_itemsets(sets, set_counts, names=names, n=n, n_distinct=len(masks),
                                 min_support=min_support, min_confidence=min_confidence,
                                 min_lift=min_lift, max_len=max_len,
                                 max_consequent_len=max_consequent_len)


def ruleset_from_itemsets(
    sets: list[tuple[int, ...]],
    set_counts: np.ndarray,
    *,
    names: list,
    n: int,
    n_distinct: int,
    min_support: float,
    min_confidence: float = 0.0,
    min_lift: float | None = None,
    max_len: int | None = None,
    max_consequent_len: int | None = None,
) -> RuleSet:
    """Build the :class:`RuleSet` of mined itemsets (item-index tuples and their counts).

    The one place itemsets become the ``itemsets`` / ``rules`` frames, so every engine
    (pandas here, Spark in :mod:`dmkit.spark.rules`) returns the same rows in the same
    order. ``sets`` must come in the order of :func:`mining.frequent_itemsets` (single
    items by increasing count, then longer itemsets depth-first) for ties to order alike.
    """
    itemsets = pd.DataFrame({
        "itemset": [frozenset(names[i] for i in s) for s in sets],
        "support": set_counts / float(n),
        "count": set_counts,
    })
    itemsets = itemsets.sort_values(["support"], ascending=False, kind="stable").reset_index(drop=True)
    ant, con, metrics = mining.association_rules(sets, set_counts, n, min_confidence=float(min_confidence),
                                                 min_lift=min_lift, max_consequent_len=max_consequent_len)
    rules = pd.DataFrame({"antecedents": mining.masks_to_frozensets(ant, names),
                          "consequents": mining.masks_to_frozensets(con, names), **metrics},
                         columns=list(mining.RULE_COLUMNS))
    for m in mining.METRICS:
        rules[m] = rules[m].astype(float)
    rs = RuleSet(itemsets=itemsets, rules=rules, n_baskets=n, n_distinct=n_distinct,
                 min_support=min_support, min_confidence=float(min_confidence), min_lift=min_lift,
                 max_len=max_len, max_consequent_len=max_consequent_len)
    return rs.sort("lift")
