"""Service health score (健康度评估), case Y1: factor analysis of KPI indicators into one index.

The deck's method: factor analysis "with the least loss of information reduces the many
observed variables to a few factors, and weights the factors into one composite index of
service health"; then rank the prefectures and services and find the indicators that drag
a score down (短板, the "short plank").

The factor analysis itself (adequacy, number of factors, extraction, rotations, scores;
checked against R ``psych::fa``) is :mod:`dmkit.factors`; its names are re-exported here
(``dm.health.factor_analysis``, ``kmo``, ``bartlett``, ``parallel_analysis``, ``congruence``).
:func:`score` is the Y1 health index on the ``kpis`` table, over that engine.

Observation unit and scored unit of :func:`score`
-------------------------------------------------
The factor model is fitted on every row of the (filtered) ``kpis`` table: one row per
region × service × month. Pooling services and months gives the factor analysis enough
observations (a province has only 16–21 prefectures, fewer than a stable 7-indicator
analysis needs). Every row is then scored: factor scores, the composite, the 0–100 index
and its rank among the rows of the same service and month (``rank_within="service"``:
"P2P SMS is 31st of 31 provinces"), or among the services of the same region and month
(``rank_within="region"``), or among all rows of the month (``"month"``).

Example
-------
>>> import dmkit as dm
>>> res = dm.health.score(pdata.kpis, service=None)       # all services, all months
>>> res.summary()                                          # adequacy, factors, loadings
>>> res.ranks(month="2008-11", service="sms_p2p")          # region ranking of P2P SMS
>>> res.weak_indicators("kunming", service="sms_p2p")      # the short plank
>>> res.rank_changes("2008-05", "2008-11")                 # May -> November 2008: 31st -> 22nd
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_choice, check_frame, check_numeric
from dmkit.errors import ConvergenceError, parameter_error, schema_error
from dmkit.factors import (
    FactorResult,
    Method,
    Rotation,
    bartlett,
    congruence,
    factor_analysis,
    kmo,
    parallel_analysis,
)

__all__ = [
    "DEFAULT_INDICATORS",
    "FactorResult",
    "HealthResult",
    "bartlett",
    "compare",
    "congruence",
    "factor_analysis",
    "kmo",
    "parallel_analysis",
    "score",
]

DEFAULT_INDICATORS: tuple[str, ...] = (
    "penetration", "revenue_share", "usage_per_user", "retention", "activity", "growth", "loyalty",
)
"""The KPI indicators of the ``kpis`` contract table (Y1's indicator families)."""

INDICATOR_NAMES: dict[str, str] = {
    "penetration": "penetration (普及率)",
    "revenue_share": "revenue share (收入占比)",
    "usage_per_user": "usage per user (人均使用量)",
    "retention": "retention (客户保有)",
    "activity": "activity (活跃度)",
    "growth": "growth (增长度)",
    "loyalty": "loyalty (忠诚度)",
}


# ======================================================================================
# The health score
# ======================================================================================

RankWithin = Literal["service", "region", "month"]


@dataclass(frozen=True)
class HealthResult(Result):
    """The Y1 health index (see :func:`score`).

    Attributes
    ----------
    factors : FactorResult
        The factor analysis behind the index.
    scores : DataFrame
        One row per scored unit: the key columns (``by``, ``service``, ``month`` where
        present), one column per factor score, ``composite`` (weighted sum of the factor
        scores), ``index`` (composite rescaled to 0–100 over all units) and ``rank``
        (1 = healthiest, within ``rank_within`` groups).
    z : DataFrame
        The oriented, standardised indicators of the same rows.
    coefficients : Series
        Index points per standard deviation of each indicator: ``index = intercept +
        Σ coefficient_j · z_j`` (exact, the base of :meth:`weak_indicators`).
    keys : tuple of str
        The key columns.
    by : str
        The region column.
    rank_within : str
    lower_is_better : tuple of str
        Indicators whose sign was reversed before the analysis.
    """

    factors: FactorResult
    scores: pd.DataFrame
    z: pd.DataFrame
    coefficients: pd.Series
    intercept: float
    keys: tuple[str, ...]
    by: str
    rank_within: str
    lower_is_better: tuple[str, ...] = ()
    raw: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    # -- tables ------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """The scores table (keys, factor scores, composite, index, rank)."""
        return self.scores.copy()

    @property
    def months(self) -> list[str]:
        """Months present, sorted."""
        return sorted(self.scores["month"].unique()) if "month" in self.scores else []

    def _select(self, *, service: str | None, month: str | None, region: str | None = None) -> pd.Series:
        s = self.scores
        mask = pd.Series(True, index=s.index)
        if "month" in s:
            month = month if month is not None else self.months[-1]
            if month not in set(s["month"]):
                raise parameter_error("month", expected=f"one of {self.months}", found=month)
            mask &= s["month"] == month
        if service is not None:
            if "service" not in s or service not in set(s["service"]):
                have = sorted(s["service"].unique()) if "service" in s else []
                raise parameter_error("service", expected=f"one of {have}", found=service)
            mask &= s["service"] == service
        if region is not None:
            if region not in set(s[self.by]):
                raise parameter_error("region", expected=f"a value of column {self.by!r}, e.g. "
                                      f"{sorted(s[self.by].unique())[:6]}", found=region)
            mask &= s[self.by] == region
        return mask

    def ranks(self, *, service: str | None = None, month: str | None = None) -> pd.DataFrame:
        """Units of one month (latest by default), optionally one service, best first.

        Returns
        -------
        DataFrame
            Key columns, ``index``, ``rank`` and factor scores, sorted by rank.
        """
        out = self.scores[self._select(service=service, month=month)]
        return out.sort_values(["rank", "index"], ascending=[True, False]).reset_index(drop=True)

    def weak_indicators(
        self, region: str, *, service: str | None = None, month: str | None = None
    ) -> pd.DataFrame:
        """The "short plank" (短板): indicators pulling ``region``'s index below its peers'.

        The index is linear in the standardised indicators, ``index = intercept + Σ c_j z_j``,
        so the gap between this unit's index and the mean index of its peers (the units
        it is ranked against) splits exactly into per-indicator parts
        ``c_j (z_j - mean_peer z_j)``; the negative parts are what the region should fix.

        Parameters
        ----------
        region : str
            A value of the ``by`` column.
        service : str, optional
            Required when the result covers several services.
        month : str, optional
            Default: the latest month.

        Returns
        -------
        DataFrame
            Index ``indicator``; columns ``value`` (raw), ``peer_mean`` (raw), ``z``,
            ``peer_z``, ``coefficient`` (index points per SD), ``contribution`` (index
            points gained (+) or lost (-) against the peers), ``weak`` (contribution < 0);
            sorted with the costliest first. ``contribution`` sums to ``index - peer mean index``.
        """
        if service is None and "service" in self.scores and self.scores["service"].nunique() > 1:
            raise parameter_error("service", expected=f"one of {sorted(self.scores['service'].unique())}"
                                  " (this result covers several services)", found=None)
        me = self._select(service=service, month=month, region=region)
        row = self.scores.index[me]
        if len(row) != 1:
            raise parameter_error("region", expected="a single unit", found=f"{len(row)} rows")
        row = row[0]
        peers = self._peer_mask(row)
        z, raw = self.z, self.raw
        out = pd.DataFrame({
            "value": raw.loc[row],
            "peer_mean": raw.loc[peers].mean(),
            "z": z.loc[row],
            "peer_z": z.loc[peers].mean(),
            "coefficient": self.coefficients,
        })
        out["contribution"] = out["coefficient"] * (out["z"] - out["peer_z"])
        out["weak"] = out["contribution"] < 0
        out.index.name = "indicator"
        return out.sort_values("contribution")

    def _peer_mask(self, row) -> pd.Series:
        s = self.scores
        cols = {"service": [c for c in ("service", "month") if c in s],
                "region": [c for c in (self.by, "month") if c in s],
                "month": [c for c in ("month",) if c in s]}[self.rank_within]
        mask = pd.Series(True, index=s.index)
        for c in cols:
            mask &= s[c] == s.at[row, c]
        return mask

    def rank_changes(self, from_month: str, to_month: str) -> pd.DataFrame:
        """Rank movements between two months ("P2P SMS 31st → 22nd, +9").

        Returns
        -------
        DataFrame
            Key columns without ``month``, ``rank_from``, ``rank_to``, ``change``
            (= rank_from - rank_to; positive = moved up), ``index_from``, ``index_to``;
            sorted by change, largest gain first.
        """
        if "month" not in self.scores:
            raise parameter_error("from_month", expected="a result with a month column", found=from_month)
        for name, m in (("from_month", from_month), ("to_month", to_month)):
            if m not in self.months:
                raise parameter_error(name, expected=f"one of {self.months}", found=m)
        return _rank_change_table(self.scores[self.scores["month"] == from_month],
                                  self.scores[self.scores["month"] == to_month],
                                  [k for k in self.keys if k != "month"])

    # -- summary and plots -------------------------------------------------------------
    def summary(self) -> Summary:
        """Adequacy, factors, loadings, variance explained, index weights and the ranking."""
        fs = self.factors.summary()
        coef = pd.DataFrame({"index points per SD": self.coefficients})
        latest = self.ranks(service=None) if "service" not in self.scores or \
            self.scores["service"].nunique() == 1 else self.scores[self._select(service=None, month=None)]
        show = latest.sort_values("index", ascending=False)
        show = pd.concat([show.head(10), show.tail(5)]).drop_duplicates()
        cols = [*self.keys, "index", "rank"]
        notes = list(fs.notes) + [
            f"observation unit: one row per {' × '.join(self.keys)} ({self.factors.n_obs} rows); "
            f"ranks within each {self.rank_within}" + (" and month" if self.rank_within != "month" else ""),
            "index = factor scores weighted by each factor's share of explained variance, "
            "rescaled to 0-100 over all rows; higher is healthier",
        ]
        if self.lower_is_better:
            notes.append(f"reversed before analysis (lower is better): {list(self.lower_is_better)}")
        tables = (*fs.tables, ("index weights", self.factors.variance[["explained"]].rename(
            columns={"explained": "weight"})), ("indicator coefficients", coef),
            ("index (top 10, bottom 5)", show[cols].reset_index(drop=True)))
        return Summary("Service health score (健康度评估)", tables, tuple(notes))

    def plot(self, ax=None, *, kind: Literal["index", "scree", "loadings", "contributions"] = "index"):
        """One of the four plots: ranked index bars (default), scree, loadings, contributions.

        ``kind="contributions"`` shows the lowest-ranked unit of the latest month.
        """
        check_choice(kind, "kind", ("index", "scree", "loadings", "contributions"))
        if kind == "scree":
            return self.factors.plot_scree(ax)
        if kind == "loadings":
            return self.factors.plot_loadings(ax)
        if kind == "index":
            return self.plot_index(ax)
        worst = self.scores[self._select(service=None, month=None)].sort_values("index").iloc[0]
        return self.plot_contributions(worst[self.by], service=worst.get("service"), ax=ax)

    def plot_index(self, ax=None, *, service: str | None = None, month: str | None = None, top: int = 40):
        """Horizontal bars of the index, ranked, for one month (and service)."""
        d = self.scores[self._select(service=service, month=month)].sort_values("index").tail(top)
        multi = "service" in d and d["service"].nunique() > 1
        labels = d[self.by].astype(str) + (" / " + d["service"].astype(str) if multi else "")
        ax = get_ax(ax, figsize=(7, 0.28 * len(d) + 1.5))
        ax.barh(labels, d["index"], color="tab:blue")
        ax.set_xlim(0, 100)
        ax.set_xlabel("health index (0-100)")
        what = f"{service} " if service else ""
        ax.set_title(f"Health index {what}{d['month'].iloc[0] if 'month' in d else ''}".strip())
        return ax

    def plot_contributions(self, region: str, *, service: str | None = None, month: str | None = None, ax=None):
        """Bars of each indicator's contribution to ``region``'s index gap against its peers."""
        w = self.weak_indicators(region, service=service, month=month)
        ax = get_ax(ax)
        colors = np.where(w["contribution"] < 0, "tab:red", "tab:green")
        ax.barh(w.index, w["contribution"], color=colors)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel("index points against the peer mean")
        ax.set_title(f"Short plank (短板): {region}" + (f" / {service}" if service else ""))
        return ax


def _rank_change_table(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    m = a[[*keys, "rank", "index"]].merge(b[[*keys, "rank", "index"]], on=keys, suffixes=("_from", "_to"))
    m["change"] = m["rank_from"] - m["rank_to"]
    cols = [*keys, "rank_from", "rank_to", "change", "index_from", "index_to"]
    return m[cols].sort_values("change", ascending=False, kind="stable").reset_index(drop=True)


def compare(before: HealthResult, after: HealthResult) -> pd.DataFrame:
    """Rank changes between two separately fitted results (each at its latest month).

    Returns
    -------
    DataFrame
        As :meth:`HealthResult.rank_changes`.
    """
    keys = [k for k in before.keys if k != "month"]
    if keys != [k for k in after.keys if k != "month"]:
        raise parameter_error("after", expected=f"a result keyed by {keys}", found=list(after.keys))
    a = before.scores[before._select(service=None, month=None)]
    b = after.scores[after._select(service=None, month=None)]
    return _rank_change_table(a, b, keys)


def score(
    kpis: pd.DataFrame,
    *,
    indicators: Sequence[str] | None = None,
    by: str = "region",
    service: str | Sequence[str] | None = None,
    month: str | Sequence[str] | None = None,
    n_factors: int | Literal["parallel", "parallel_pca", "kaiser"] | None = None,
    rotation: Rotation = "varimax",
    method: Method = "minres",
    lower_is_better: Sequence[str] = (),
    rank_within: RankWithin = "service",
    n_iter: int = 100,
    seed: int = 0,
) -> HealthResult:
    """Composite service health index by factor analysis (case Y1, 健康度评估).

    Steps: standardise the indicators (after reversing the ``lower_is_better`` ones) over
    all rows; factor-analyse them (:func:`factor_analysis`: KMO, Bartlett, parallel
    analysis, extraction, rotation); orient each factor so that its loadings sum to >= 0
    (higher = healthier); score every row (regression scores); weight the factor scores
    by each factor's share of the explained variance; rescale that composite to 0–100
    over all rows; rank within ``rank_within`` groups.

    Parameters
    ----------
    kpis : DataFrame
        The ``kpis`` table (region, service, month and indicator columns) or any frame
        with a ``by`` column and numeric indicator columns (operators define their own
        KPIs); ``service`` and ``month`` columns are used when present.
    indicators : list of str, optional
        Indicator columns; default :data:`DEFAULT_INDICATORS` present in ``kpis``.
    by : str, default "region"
        The region column (e.g. ``"prefecture"`` if the frame has one).
    service, month : str or list of str, optional
        Keep only these services / months (default all: pooled for the factor analysis).
    n_factors : int, "parallel", "parallel_pca", "kaiser" or None
        See :func:`factor_analysis` (None = parallel analysis of the factor eigenvalues).
    rotation, method : see :func:`factor_analysis`.
    lower_is_better : list of str, default ()
        Indicators where lower is healthier (e.g. complaints); negated first.
    rank_within : {"service", "region", "month"}, default "service"
        Rank regions within each service and month; services within each region and
        month; or all rows of a month.
    n_iter, seed : parallel analysis settings.

    Returns
    -------
    HealthResult
        ``.scores`` columns: key columns, ``F1..Fk``, ``composite``, ``index`` (0–100),
        ``rank`` (1 = healthiest).

    Raises
    ------
    SchemaError
        Missing ``by`` column or indicator, non-numeric or non-finite indicator,
        duplicate keys, fewer rows than indicators, fewer than 3 usable indicators.
    ParameterError
        Unknown service or month filter, bad option.
    """
    check_frame(kpis, table="kpis")
    if not isinstance(by, str) or by not in kpis.columns:
        raise schema_error(table="kpis", column=str(by), expected=f"a region column {by!r}",
                           found=f"columns {list(kpis.columns)[:12]}",
                           fix="pass by='region' (the contract's key) or the name of your region column")
    check_choice(rank_within, "rank_within", ("service", "region", "month"))
    contract = [s.name for s in schema.COLUMNS["kpis"]]
    if all(c in kpis.columns for c in contract):
        schema.validate(kpis, "kpis", check_keys=False)
    if indicators is None:
        indicators = [c for c in DEFAULT_INDICATORS if c in kpis.columns]
        if not indicators:
            raise schema_error(table="kpis", column=None, expected=f"indicator columns {list(DEFAULT_INDICATORS)}",
                               found="none of them", fix="name your indicators with indicators=[...]")
    indicators = list(indicators)
    if isinstance(lower_is_better, str):
        lower_is_better = [lower_is_better]
    for c in lower_is_better:
        if c not in indicators:
            raise parameter_error("lower_is_better", expected=f"a subset of indicators {indicators}", found=c)
    if rank_within == "service" and "service" not in kpis.columns:
        rank_within = "month"
    keys = [by] + [c for c in ("service", "month") if c in kpis.columns and c != by]
    df = kpis
    for col, val in (("service", service), ("month", month)):
        if val is None:
            continue
        if col not in df.columns:
            raise parameter_error(col, expected=f"None (kpis has no {col!r} column)", found=val)
        wanted = [val] if isinstance(val, str) else list(val)
        have = set(df[col].unique())
        missing = [v for v in wanted if v not in have]
        if missing:
            raise parameter_error(col, expected=f"values of column {col!r}, e.g. {sorted(have)[:8]}",
                                  found=missing if len(missing) > 1 else missing[0])
        df = df[df[col].isin(wanted)]
    check_numeric(df, indicators, table="kpis")
    dup = df.duplicated(subset=keys, keep=False).to_numpy()
    if dup.any():
        rows = df.loc[dup, keys].head(5).to_dict("records")
        raise schema_error(table="kpis", column=", ".join(keys), expected=f"one row per {keys}",
                           found=f"{int(dup.sum())} rows sharing a key", rows=rows,
                           fix="aggregate to one row per key or filter service/month")
    df = df.reset_index(drop=True)
    x = df[indicators].astype(float).copy()
    for c in lower_is_better:
        x[c] = -x[c]
    fa = factor_analysis(x, n_factors=n_factors, method=method, rotation=rotation,
                         n_iter=n_iter, seed=seed)
    used = fa.indicators
    z = (x[used] - fa.center) / fa.scale
    f = pd.DataFrame(z.to_numpy() @ fa.score_weights.to_numpy(), columns=fa.loadings.columns)
    w = fa.weights.to_numpy()
    composite = f.to_numpy() @ w
    lo, hi = float(composite.min()), float(composite.max())
    span = hi - lo if hi > lo else 1.0
    index = 100.0 * (composite - lo) / span
    coef = pd.Series(fa.score_weights.to_numpy() @ w * 100.0 / span, index=pd.Index(used, name="indicator"),
                     name="coefficient")
    scores = pd.concat([df[keys], f], axis=1)
    scores["composite"] = composite
    scores["index"] = index
    group = {"service": [c for c in ("service", "month") if c in keys],
             "region": [c for c in (by, "month") if c in keys],
             "month": [c for c in ("month",) if c in keys]}[rank_within]
    if group:
        scores["rank"] = scores.groupby(group, observed=True)["index"].rank(ascending=False, method="min").astype(int)
    else:
        scores["rank"] = scores["index"].rank(ascending=False, method="min").astype(int)
    if not np.isfinite(index).all():  # pragma: no cover - guarded by the checks above
        raise ConvergenceError("the health index is not finite; check the indicators for extreme values")
    return HealthResult(
        factors=fa, scores=scores, z=z.reset_index(drop=True), coefficients=coef,
        intercept=float(-lo * 100.0 / span), keys=tuple(keys), by=by, rank_within=rank_within,
        lower_is_better=tuple(lower_is_better), raw=df[used].reset_index(drop=True),
    )
