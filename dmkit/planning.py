"""Planning tables of cases G1 and G2: effective revenue by rules, the KPI target table, the bottom-up build.

* :func:`effective_revenue` — G1 with both of the deck's rules as data (:data:`G1_RULES`):
  70 % of the CRBT trial package's revenue is kept, and the GPRS trial package counts at
  what its traffic costs under the new tariffs; with the discount rates of data VAS
  (14.1 %) and of new business (11.5 %). Built on :func:`dmkit.forecast.effective_revenue`.
* :func:`kpi_plan` — the 2009 KPI table: base-year actual, target, and the difficulty as
  the probability of reaching the target under the forecast's prediction interval
  (:func:`dmkit.forecast.revenue` on each KPI's monthly series).
* :func:`bottom_up` — the bottom-up revenue build: monthly-fee and usage services forecast
  apart, their holiday part shown apart, the analyst's adjustments (KPI services, the GPRS
  tariff cut, the free mailbox, promotions removed), reconciled to the top-down forecast.
* :data:`G2_KPIS`, :data:`G2_BUILD` — the deck's tables as data; :func:`published_build`
  checks the deck's own sum.

Example
-------
>>> import dmkit as dm
>>> eff = dm.planning.effective_revenue(dm.published.g1_lines(), split={"promo_crbt_trial": 1.0})
>>> users = dm.lifecycle.active_users(pdata.subscriptions, month="2008-12", n_months=36)
>>> plan = dm.planning.kpi_plan(users, year=2009)          # p_reach per KPI
>>> build = dm.planning.bottom_up(pdata.revenue, year=2009)  # .gap: bottom-up - top-down
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dmkit import forecast, schema
from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_scalar
from dmkit.errors import parameter_error, schema_error

__all__ = [
    "G1_RULES",
    "G2_BUILD",
    "G2_KPIS",
    "BottomUpResult",
    "EffectiveRulesResult",
    "KpiPlanResult",
    "bottom_up",
    "effective_revenue",
    "kpi_plan",
    "published_build",
    "reach_probability",
]

# ======================================================================================
# G1: effective revenue with the deck's two rules
# ======================================================================================

G1_RULES = pd.DataFrame(
    {
        "line": ["promo_crbt_trial", "promo_gprs_trial"],
        "rule": ["keep_share", "new_tariff"],
        "value": [0.7, np.nan],
        "tariff_line": [None, "gprs_trial_new_tariff"],
        "deck": ["彩铃体验套餐到期后约有70%的客户将继续使用彩铃: 70% of the CRBT trial package's revenue is effective",
                 "将GPRS流量和对应的新资费套餐按新资费套餐计入有效新业务收入: the GPRS trial package counts at what "
                 "its traffic costs under the new tariffs"],
    },
).set_index("line")
"""G1's two rules, one row per promotional line: ``keep_share`` (effective = value × the
line) or ``new_tariff`` (effective = the ``tariff_line`` amount: the line's traffic priced
at the new tariffs, capped at the line). Edit a copy and pass ``rules=``."""


@dataclass(frozen=True)
class EffectiveRulesResult(Result):
    """G1 effective revenue by rules (see :func:`effective_revenue`).

    Attributes
    ----------
    lines : DataFrame
        One row per promotional line: amount, rule, effective.
    shares : Series
        new_business_share, discount_rate (promotions / data VAS), new_business_discount_rate
        (promotions / new business), effective_new_business_share, effective_data_vas_share.
    base : EffectiveRevenueResult
        :func:`dmkit.forecast.effective_revenue` on the same amounts with the rules' effective total.
    """

    lines: pd.DataFrame
    shares: pd.Series
    base: forecast.EffectiveRevenueResult

    def to_frame(self) -> pd.DataFrame:
        """The shares with the deck's printed values beside them."""
        out = pd.DataFrame({"share": self.shares})
        out["published_g1_2008"] = pd.Series({**forecast.G1_PUBLISHED, "new_business_discount_rate": 0.115})
        return out

    def summary(self) -> Summary:
        """Promotional lines under their rules, and the shares."""
        return Summary("Effective revenue by rule (有效收入)",
                       (("promotional lines", self.lines), ("shares", self.to_frame())),
                       (f"effective part of the promotions: {self.lines['effective'].sum():,.4g} of "
                        f"{self.lines['amount'].sum():,.4g}",))

    def plot(self, ax=None):
        """Promotional revenue and its effective part, per line."""
        ax = get_ax(ax)
        x = np.arange(len(self.lines))
        ax.bar(x - 0.2, self.lines["amount"], 0.4, label="promotional revenue")
        ax.bar(x + 0.2, self.lines["effective"], 0.4, label="effective")
        ax.set_xticks(x, list(self.lines.index))
        ax.set_title(f"Promotions and their effective part (discount rate {self.shares['discount_rate']:.1%})")
        ax.legend()
        return ax


def effective_revenue(
    amounts: Mapping[str, float] | pd.Series | pd.DataFrame,
    *,
    rules: pd.DataFrame | None = None,
    split: Mapping[str, float] | None = None,
    year: int | str | None = None,
) -> EffectiveRulesResult:
    """G1's effective revenue with the deck's two rules.

    Parameters
    ----------
    amounts : mapping, Series or DataFrame
        Amounts by line (or the ``revenue`` table, summed over ``year``): ``operating``,
        ``new_business``, ``data_vas``, ``promo`` and, per rule, the promotional line (and
        its ``tariff_line``). The deck prints only the promotions' total (4.51) and its
        effective part (0.97): give the lines, or ``split``.
    rules : DataFrame, optional
        Default :data:`G1_RULES`.
    split : mapping, optional
        For amounts that only have ``promo`` and ``promo_effective`` (the deck's print):
        the CRBT trial package's revenue ``{"promo_crbt_trial": c}``; the GPRS trial
        package is then ``promo - c`` and its new-tariff value ``promo_effective - 0.7 c``
        (the deck's 0.97 = 70 % of the CRBT trial + the GPRS traffic at new tariffs). The
        deck does not give c; every c in [0, min(promo, promo_effective / 0.7)] gives the
        same shares.
    year : int or str, optional
        Year of a revenue table (default: its last complete year).

    Returns
    -------
    EffectiveRulesResult

    Raises
    ------
    SchemaError
        A line a rule needs is missing.
    ParameterError
        A split outside its range, a rule that is neither keep_share nor new_tariff.
    """
    rules = G1_RULES if rules is None else rules
    if isinstance(amounts, pd.DataFrame):
        # forecast.effective_revenue validates the table and picks the year (the last complete one)
        year = forecast.effective_revenue(amounts, keep_rates={}, year=year).period
        sel = amounts[amounts["month"].astype(str).str[:4] == year]
        a = sel.groupby(sel["line"].astype(str))["amount"].sum()
    else:
        a = pd.Series(dict(amounts), dtype=float)
    a = a.copy()
    if split is not None:
        if "promo_crbt_trial" not in split:
            raise parameter_error("split", expected="{'promo_crbt_trial': amount}", found=dict(split))
        for need in ("promo", "promo_effective"):
            if need not in a.index:
                raise schema_error(table="amounts", column="line", expected=f"a {need!r} line to split",
                                   found=f"lines {sorted(a.index)}")
        keep = float(rules.at["promo_crbt_trial", "value"])
        c = float(split["promo_crbt_trial"])
        check_scalar(c, "split['promo_crbt_trial']", low=0, high=min(a["promo"], a["promo_effective"] / keep))
        a["promo_crbt_trial"] = c
        a["promo_gprs_trial"] = a["promo"] - c
        a["gprs_trial_new_tariff"] = a["promo_effective"] - keep * c
    rows = []
    for line, r in rules.iterrows():
        if line not in a.index:
            raise schema_error(table="amounts", column="line", expected=f"the promotional line {line!r} of the rules",
                               found=f"lines {sorted(a.index)}", fix="pass split= or add the line")
        if r["rule"] == "keep_share":
            eff = float(r["value"]) * a[line]
        elif r["rule"] == "new_tariff":
            if r["tariff_line"] not in a.index:
                raise schema_error(table="amounts", column="line",
                                   expected=f"{r['tariff_line']!r}: {line}'s traffic at the new tariffs",
                                   found=f"lines {sorted(a.index)}")
            eff = min(float(a[r["tariff_line"]]), float(a[line]))
        else:
            raise parameter_error("rules", expected="rule 'keep_share' or 'new_tariff'", found=r["rule"])
        rows.append((line, float(a[line]), r["rule"], eff))
    lines = pd.DataFrame(rows, columns=["line", "amount", "rule", "effective"]).set_index("line")
    base = forecast.effective_revenue(
        {k: float(a[k]) for k in ("operating", "new_business", "data_vas", "promo")}
        | {"promo_effective": float(lines["effective"].sum())},
        keep_rates={"promo_effective": 1.0}, year=year)
    shares = base.shares.copy()
    shares["new_business_discount_rate"] = a["promo"] / a["new_business"]
    return EffectiveRulesResult(lines=lines, shares=shares, base=base)


# ======================================================================================
# G2: KPI targets and their difficulty
# ======================================================================================

G2_KPIS = pd.DataFrame(
    [
        ("music_downloads", "中央音乐平台下载次数", "music", "sum", 792.00, 1321.50, "reachable, hard"),
        ("crbt_download_users", "彩铃下载用户数", "crbt", "mean", 123.00, 159.20, "reachable"),
        ("fetion_pc_active", "月均飞信客户端活跃用户数", "fetion_client", "mean", 20.70, 33.20, "reachable"),
        ("fetion_phone_active", "月均飞信手机客户端活跃用户数", "fetion", "mean", 4.42, 9.80, "reachable"),
        ("newspaper_paying", "月均手机报付费用户数", "newspaper", "mean", 76.00, 71.80, "reachable"),
        ("securities_users", "月均手机证券用户数", "securities", "mean", 3.00, 6.40, "reachable"),
        ("mailbox_active", "手机邮箱活跃用户数", "mailbox", "mean", 45.00, 20.00, "reachable"),
        ("mobile_payment_users", "手机支付用户数", "mobile_payment", "mean", 2.50, 29.80, "definition to be agreed"),
        ("queries_12580", "12580查询次数", None, "sum", 200.00, 288.83, "reachable"),
        ("game_together_paying", "一起玩吧点卡月均消费用户数", "game_together", "mean", 11.0, 16.4, "reachable"),
        ("game_together_purchases", "一起玩吧点卡月均消费次数", None, "mean", np.nan, 24.6, "reachable"),
    ],
    columns=["kpi", "kpi_zh", "series", "aggregate", "actual_2008", "target_2009", "deck_difficulty"],
).set_index("kpi")
"""G2's KPI table (2008 actual, 2009 target, as printed, mostly 10k users or 10k times) and
the monthly series each is read from (``series``: a column of ``series`` in
:func:`kpi_plan`; for the simulator, the service whose active users stand for the KPI;
None: no series). ``aggregate``: how the year's months make the KPI (sum or mean)."""

DIFFICULTY_BANDS: tuple[tuple[float, str], ...] = ((0.8, "reachable"), (0.5, "reachable, hard"),
                                                   (0.0, "at risk"))
"""p_reach >= 0.8: reachable (可完成); >= 0.5: reachable, hard (可完成,有难度); else at risk."""


def reach_probability(forecast_frame: pd.DataFrame, target: float, *, level: float,
                      aggregate: str = "mean") -> float:
    """Probability that the year's KPI (sum or mean of the forecast months) reaches ``target``.

    Each month's forecast is log-normal: median ``forecast`` and the ``level`` interval
    ``lower``..``upper`` give its log mean and sd. The months' errors are taken as fully
    dependent (one common standard-normal draw z: a level or trend error moves every month
    the same way), so the year's value is increasing in z and the probability is
    ``1 - Phi(z*)`` with z* solving sum_m exp(mu_m + sigma_m z*) = target (x months for a
    mean). This is the widest of the interval's readings; independent months would give a
    narrower year.

    Parameters
    ----------
    forecast_frame : DataFrame
        Columns ``forecast``, ``lower``, ``upper`` (a :class:`~dmkit.forecast.ForecastResult`'s
        ``forecast`` rows of the year).
    target : float
    level : float
        The interval's level.
    aggregate : {"mean", "sum"}

    Returns
    -------
    float
    """
    from scipy.optimize import brentq
    from scipy.stats import norm

    if aggregate not in ("mean", "sum"):
        raise parameter_error("aggregate", expected="'mean' or 'sum'", found=aggregate)
    check_scalar(target, "target", low=0, low_inclusive=False)
    mu = np.log(forecast_frame["forecast"].to_numpy(float))
    zq = norm.ppf(0.5 + level / 2)
    sigma = (np.log(forecast_frame["upper"].to_numpy(float)) - np.log(forecast_frame["lower"].to_numpy(float))) / (2 * zq)
    goal = target * (len(mu) if aggregate == "mean" else 1)

    def f(z: float) -> float:
        return float(np.exp(mu + sigma * z).sum() - goal)

    if f(-12) >= 0:
        return 1.0
    if f(12) <= 0:
        return 0.0
    return float(norm.sf(brentq(f, -12, 12)))


@dataclass(frozen=True)
class KpiPlanResult(Result):
    """The KPI target table (see :func:`kpi_plan`).

    Attributes
    ----------
    table : DataFrame
        One row per KPI: kpi_zh, series, actual (base year, from the series), actual_2008
        and target_2009 (printed), target (in the series' units), growth_needed
        (target / actual − 1), forecast (the year's median), lower, upper, p_reach,
        difficulty, deck_difficulty, note.
    year : int
    level : float
    forecasts : dict
        KPI -> :class:`~dmkit.forecast.ForecastResult`.
    """

    table: pd.DataFrame
    year: int
    level: float
    forecasts: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The table."""
        return self.table.copy()

    def summary(self) -> Summary:
        """The table and how difficulty is read."""
        cols = ["kpi_zh", "actual_2008", "target_2009", "growth_needed", "p_reach", "difficulty", "deck_difficulty"]
        return Summary(f"KPI targets {self.year} (重点数据业务发展KPI预测)", (("KPIs", self.table[cols]),),
                       (f"p_reach: probability of reaching the target under the forecast's {self.level:.0%} "
                        "interval (months fully dependent); bands " +
                        ", ".join(f">= {b:.0%} {lab}" for b, lab in DIFFICULTY_BANDS),
                        "targets in the series' units keep the deck's target / actual ratio"))

    def plot(self, ax=None):
        """Growth needed vs probability of reaching the target, one point per KPI."""
        ax = get_ax(ax)
        t = self.table.dropna(subset=["p_reach"])
        ax.scatter(t["growth_needed"], t["p_reach"])
        for k, r in t.iterrows():
            ax.annotate(k, (r["growth_needed"], r["p_reach"]), fontsize=7)
        for b, _ in DIFFICULTY_BANDS[:-1]:
            ax.axhline(b, color="grey", ls=":", lw=0.8)
        ax.set_xlabel("growth needed (target / base-year actual - 1)")
        ax.set_ylabel("probability of reaching the target")
        ax.set_title(f"KPI targets {self.year}: difficulty")
        return ax


def _band(p: float) -> str:
    if not np.isfinite(p):
        return "no series"
    return next(lab for b, lab in DIFFICULTY_BANDS if p >= b)


def kpi_plan(
    series: pd.DataFrame,
    targets: pd.DataFrame | None = None,
    *,
    year: int = 2009,
    level: float = 0.95,
    scale: bool = True,
) -> KpiPlanResult:
    """The KPI target table with each target's difficulty as a probability.

    For each KPI with a series: the base year (``year - 1``) value from the monthly series
    (sum or mean of its months), a forecast of the target year from the months up to
    December of the base year (:func:`dmkit.forecast.revenue` with G2's method,
    ``model="regression"``: trend + month of year, no holidays, no backtest), and
    :func:`reach_probability` of the target.

    Parameters
    ----------
    series : DataFrame
        Monthly KPI series: index months ``"YYYY-MM"`` covering the base year, one column
        per ``targets.series`` name (e.g. :func:`dmkit.lifecycle.active_users`). A series
        is used from its last non-positive month on (a launch); with fewer than 24 positive
        months up to December of the base year its KPI gets no probability (a note says why).
    targets : DataFrame, optional
        Index kpi; columns series, aggregate, actual_2008, target_2009 (default
        :data:`G2_KPIS`).
    year : int, default 2009
    level : float, default 0.95
    scale : bool, default True
        Targets in the series' units = base-year actual × printed target / printed
        actual (a simulated province is not Guangzhou's size). False: the printed targets.

    Returns
    -------
    KpiPlanResult

    Raises
    ------
    SchemaError
        A series column missing, or without the 12 months of the base year.
    """
    targets = G2_KPIS if targets is None else targets
    check_scalar(year, "year", kind=int, low=1990, high=2100)
    check_scalar(level, "level", low=0.5, high=1, high_inclusive=False)
    missing = [c for c in ("series", "aggregate", "actual_2008", "target_2009") if c not in targets.columns]
    if missing:
        raise schema_error(table="targets", column=missing[0], expected="columns series, aggregate, actual_2008, "
                           "target_2009", found=f"columns {list(targets.columns)}")
    idx = pd.Index([str(pd.Period(str(m)[:7], freq="M")) for m in series.index])
    s_all = series.set_axis(idx, axis=0)
    base = str(year - 1)
    cutoff = f"{base}-12"
    rows, fcs = [], {}
    for kpi, t in targets.iterrows():
        row = {"kpi_zh": t.get("kpi_zh", ""), "series": t["series"], "actual_2008": t["actual_2008"],
               "target_2009": t["target_2009"], "deck_difficulty": t.get("deck_difficulty", "")}
        name = t["series"]
        if name is None or (isinstance(name, float) and np.isnan(name)) or not np.isfinite(t["actual_2008"]):
            rows.append({**row, "note": "no series or no base-year actual: out of reach"})
            continue
        if name not in s_all.columns:
            raise schema_error(table="series", column=str(name), expected=f"a monthly series for KPI {kpi!r}",
                               found=f"columns {list(s_all.columns)}")
        y = s_all[name].astype(float)
        y = y[y.index <= cutoff]
        base_months = y[y.index.str.startswith(base)]
        if len(base_months) != 12:
            raise schema_error(table="series", column=str(name), expected=f"the 12 months of {base}",
                               found=f"{len(base_months)} month(s)")
        zeros = np.flatnonzero(y.to_numpy() <= 0)
        y = y.iloc[zeros[-1] + 1:] if len(zeros) else y      # from the launch on: the positive months
        if len(y) < 24:
            rows.append({**row, "note": f"{len(y)} positive months up to {cutoff}: a forecast needs 24"})
            continue
        agg = t["aggregate"]
        actual = float(base_months.sum() if agg == "sum" else base_months.mean())
        target = actual * t["target_2009"] / t["actual_2008"] if scale else float(t["target_2009"])
        fc = forecast.revenue(y.rename(kpi), horizon=12, model="regression", holidays=None, backtest=0, level=level)
        fy = fc.forecast[fc.forecast.index.str.startswith(str(year))]
        p = reach_probability(fy, target, level=level, aggregate=agg)
        f = float(fy["forecast"].sum() if agg == "sum" else fy["forecast"].mean())
        lo = float(fy["lower"].sum() if agg == "sum" else fy["lower"].mean())
        hi = float(fy["upper"].sum() if agg == "sum" else fy["upper"].mean())
        fcs[kpi] = fc
        rows.append({**row, "actual": actual, "target": target, "growth_needed": target / actual - 1,
                     "forecast": f, "lower": lo, "upper": hi, "p_reach": p, "note": ""})
    table = pd.DataFrame(rows, index=pd.Index(targets.index, name="kpi"))
    for c in ("actual", "target", "growth_needed", "forecast", "lower", "upper", "p_reach"):
        if c not in table:
            table[c] = np.nan
    table["difficulty"] = [_band(p) for p in table["p_reach"].astype(float)]
    cols = ["kpi_zh", "series", "actual", "actual_2008", "target_2009", "target", "growth_needed", "forecast",
            "lower", "upper", "p_reach", "difficulty", "deck_difficulty", "note"]
    return KpiPlanResult(table=table[cols], year=year, level=level, forecasts=fcs)


# ======================================================================================
# G2: the bottom-up build
# ======================================================================================

G2_BUILD = pd.DataFrame(
    [
        ("monthly-fee services", "forecast", 24.4, "点对点短信、梦网业务、彩铃月租等 24.4亿"),
        ("KPI services", "adjustment", 1.9, "KPI业务发展将带来1.9亿收入"),
        ("holidays", "holidays", 0.5, "春节、元宵、中秋、国庆、圣诞将带来0.5亿收入"),
        ("usage services (GPRS)", "forecast", 3.5, "GPRS收入将达到3.5亿(不含捆绑), 与08年相比增长8.5%"),
        ("free mailbox", "adjustment", -0.08, "手机邮箱08年收入为0.1亿, 09年下降0.08亿"),
        ("promotions removed", "adjustment", -0.8, "不再延续GPRS体验套餐; 营销活动和KPI发展预计减收0.8亿"),
    ],
    columns=["item", "kind", "amount", "deck"],
).set_index("item")
"""G2's bottom-up build of the 2009 data VAS target (100M yuan), as printed. The deck states
the target as 29.4 and the top-down forecast as 30.4 (29.6 without promotions)."""
G2_TOP_DOWN = {"data_vas": 30.4, "data_vas_without_promo": 29.6, "target": 29.4}


def published_build() -> pd.DataFrame:
    """The deck's build summed: items, their total (29.42), the stated target (29.4) and the gaps
    to the top-down forecast (30.4 with promotions, 29.6 without)."""
    b = G2_BUILD[["kind", "amount"]].copy()
    total = float(b["amount"].sum())
    extra = pd.DataFrame({"kind": ["total", "stated target", "top-down", "top-down without promotions",
                                   "gap to top-down", "gap to top-down without promotions"],
                          "amount": [total, G2_TOP_DOWN["target"], G2_TOP_DOWN["data_vas"],
                                     G2_TOP_DOWN["data_vas_without_promo"], total - G2_TOP_DOWN["data_vas"],
                                     total - G2_TOP_DOWN["data_vas_without_promo"]]},
                         index=pd.Index(["bottom-up total", "target", "top-down", "top-down without promotions",
                                         "gap", "gap without promotions"], name="item"))
    return pd.concat([b, extra])


@dataclass(frozen=True)
class BottomUpResult(Result):
    """The bottom-up build reconciled to the top-down forecast (see :func:`bottom_up`).

    Attributes
    ----------
    build : DataFrame
        One row per item (index ``item``): kind (forecast / holidays / adjustment), amount,
        basis (how it was computed).
    bottom_up_total, top_down, top_down_without_promo, gap, gap_without_promo : float
        gap = bottom-up total − top-down (with promotions); relative_gap = gap / top-down.
    year : int
    forecasts : dict
        Line -> :class:`~dmkit.forecast.ForecastResult` (components and the top-down line).
    """

    build: pd.DataFrame
    bottom_up_total: float
    top_down: float
    top_down_without_promo: float
    gap: float
    gap_without_promo: float
    year: int
    forecasts: dict = field(default_factory=dict)

    @property
    def relative_gap(self) -> float:
        """gap / top-down."""
        return self.gap / self.top_down

    def to_frame(self) -> pd.DataFrame:
        """The build with the total, the top-down forecasts and the gaps."""
        extra = pd.DataFrame({"kind": ["total", "top-down", "top-down", "gap", "gap"],
                              "amount": [self.bottom_up_total, self.top_down, self.top_down_without_promo,
                                         self.gap, self.gap_without_promo],
                              "basis": ["sum of the items", "forecast of the top-down line",
                                        "top-down minus the promotions' forecast", "bottom-up - top-down",
                                        "bottom-up - top-down without promotions"]},
                             index=pd.Index(["bottom-up total", "top-down", "top-down without promotions",
                                             "gap", "gap without promotions"], name="item"))
        return pd.concat([self.build, extra])

    def summary(self) -> Summary:
        """The reconciliation table."""
        return Summary(f"Bottom-up build {self.year} vs the top-down forecast (数据增值业务收入指标)",
                       (("build", self.to_frame()),),
                       (f"gap {self.gap:,.4g} ({self.relative_gap:+.1%} of the top-down forecast)",))

    def plot(self, ax=None):
        """Waterfall of the build, with the top-down forecast as a line."""
        ax = get_ax(ax, figsize=(9, 4.5))
        b = self.build["amount"]
        start = np.concatenate([[0.0], np.cumsum(b.to_numpy())[:-1]])
        colors = ["tab:blue" if v >= 0 else "tab:red" for v in b]
        ax.bar(range(len(b)), b.to_numpy(), bottom=start, color=colors)
        ax.bar(len(b), self.bottom_up_total, color="tab:green")
        ax.axhline(self.top_down, color="black", ls="--", lw=1, label="top-down forecast")
        ax.axhline(self.top_down_without_promo, color="grey", ls=":", lw=1, label="top-down without promotions")
        ax.set_xticks(range(len(b) + 1), list(b.index) + ["bottom-up"], rotation=30, ha="right")
        ax.set_title(f"Bottom-up build {self.year} (gap {self.relative_gap:+.1%})")
        ax.legend(fontsize=8)
        return ax


def _line_series(revenue: pd.DataFrame, line: str, cutoff: str) -> pd.Series:
    sel = revenue[(revenue["line"].astype(str) == line) & (revenue["month"].astype(str) <= cutoff)]
    if sel.empty:
        raise schema_error(table="revenue", column="line", expected=f"the line {line!r} up to {cutoff}",
                           found=f"lines {sorted(revenue['line'].astype(str).unique())}")
    return sel.groupby(sel["month"].astype(str))["amount"].sum().rename(line)


def _year_total(fc: forecast.ForecastResult, year: int) -> float:
    f = fc.forecast
    return float(f.loc[f.index.str.startswith(str(year)), "forecast"].sum())


def _holiday_part(fc: forecast.ForecastResult, year: int) -> float:
    """The part of the year's forecast that the holiday regressors add (their months' uplift)."""
    f = fc.forecast[fc.forecast.index.str.startswith(str(year))]
    if fc.holiday_effects.empty:
        return 0.0
    reg = forecast.holiday_regressors(list(f.index), list(fc.holiday_effects.index))
    mult = np.prod([(1 + fc.holiday_effects[h]) ** reg[h].to_numpy() for h in reg.columns], axis=0)
    return float((f["forecast"].to_numpy() * (1 - 1 / mult)).sum())


def bottom_up(
    revenue: pd.DataFrame,
    *,
    year: int = 2009,
    monthly_fee: str = "vas_monthly_fee",
    usage: str = "vas_gprs",
    mailbox: str | None = "vas_mailbox",
    top_down: str = "data_vas",
    promo: str = "promo",
    kpi_services: float | None = None,
    usage_growth: float | None = 0.085,
    mailbox_kept: float | None = 0.2,
    promotions_removed: float | None = None,
    holidays: tuple[str, ...] = ("spring_festival", "mid_autumn"),
    level: float = 0.95,
) -> BottomUpResult:
    """G2's bottom-up build of a year's data VAS revenue, reconciled to the top-down forecast.

    Made with the months up to December of ``year - 1`` (a plan for the next year):

    * monthly-fee services and usage services are forecast apart
      (:func:`dmkit.forecast.revenue` on each line with G2's method, ``model="regression"``:
      trend + month of year + moving holidays, so the holidays' part can be read off);
      the holidays' part of both forecasts is its own row;
    * the usage services' forecast is replaced by the tariff-cut plan when ``usage_growth``
      is given (the deck: GPRS 2009 = 2008 × 1.085 after the tariff cut), the difference
      shown as "GPRS tariff cut";
    * adjustments: KPI services (``kpi_services``, an amount; default: the deck's 1.9 scaled
      by the province's data VAS / Guangzhou's 31.9), the free mailbox (−(1 −
      ``mailbox_kept``) × the mailbox's base-year revenue), promotions removed
      (``promotions_removed``; default: minus the promotions' base-year revenue × the deck's
      0.8 / 4.51);
    * top-down: the forecast of ``top_down`` (with promotions) and minus the forecast of
      ``promo`` (without).

    Parameters
    ----------
    revenue : DataFrame
        The ``revenue`` table, with the component lines (the simulator writes
        ``vas_monthly_fee``, ``vas_gprs``, ``vas_mailbox``).
    year : int, default 2009
    monthly_fee, usage, mailbox, top_down, promo : str
        Line names (``mailbox`` None: no free-mailbox row).
    kpi_services, promotions_removed : float, optional
        Amounts in the table's unit (see above for the defaults).
    usage_growth : float or None, default 0.085
        None: keep the usage forecast.
    mailbox_kept : float or None, default 0.2
    holidays : tuple of str
    level : float

    Returns
    -------
    BottomUpResult

    Raises
    ------
    SchemaError
        A line missing or too short (24 months up to December of the base year).
    """
    schema.validate(revenue, "revenue")
    check_scalar(year, "year", kind=int, low=1990, high=2100)
    base, cutoff = str(year - 1), f"{year - 1}-12"
    fcs: dict = {}
    series = {ln: _line_series(revenue, ln, cutoff) for ln in
              [monthly_fee, usage, top_down, promo] + ([mailbox] if mailbox else [])}
    for ln, s in series.items():
        if s.index.max() != cutoff:
            raise schema_error(table="revenue", column="month", expected=f"line {ln!r} observed up to {cutoff}",
                               found=f"last month {s.index.max()}")

    def fc_of(ln: str) -> forecast.ForecastResult:
        if ln not in fcs:
            fcs[ln] = forecast.revenue(series[ln], horizon=12, model="regression", holidays=list(holidays),
                                       backtest=0, level=level)
        return fcs[ln]

    def base_total(ln: str) -> float:
        s = series[ln]
        return float(s[s.index.str.startswith(base)].sum())

    rows = []
    hol = 0.0
    for label, ln in (("monthly-fee services", monthly_fee), ("usage services (GPRS)", usage)):
        fc = fc_of(ln)
        h = _holiday_part(fc, year)
        hol += h
        rows.append((label, "forecast", _year_total(fc, year) - h, f"forecast of {ln!r} without its holiday part"))
    rows.append(("holidays", "holidays", hol, f"holiday part of both forecasts ({', '.join(holidays)})"))
    gpr = ("usage services (GPRS)", _year_total(fc_of(usage), year))
    if usage_growth is not None:
        plan = base_total(usage) * (1 + usage_growth)
        rows.append(("GPRS tariff cut", "adjustment", plan - gpr[1],
                     f"plan {base} x {1 + usage_growth:.3f} replaces the usage forecast"))
    scale = base_total(top_down) / (forecast.G1_2008["data_vas"])
    kpi = 1.9 * scale if kpi_services is None else float(kpi_services)
    rows.append(("KPI services", "adjustment", kpi,
                 "deck's 1.9 x (data VAS / 31.9)" if kpi_services is None else "given"))
    if mailbox and mailbox_kept is not None:
        rows.append(("free mailbox", "adjustment", -(1 - mailbox_kept) * base_total(mailbox),
                     f"-{1 - mailbox_kept:.0%} of the mailbox's {base} revenue"))
    pr = -base_total(promo) * 0.8 / 4.51 if promotions_removed is None else float(promotions_removed)
    rows.append(("promotions removed", "adjustment", pr,
                 f"-{base} promotions x 0.8 / 4.51 (the deck's share)" if promotions_removed is None else "given"))
    build = pd.DataFrame(rows, columns=["item", "kind", "amount", "basis"]).set_index("item")
    total = float(build["amount"].sum())
    td = _year_total(fc_of(top_down), year)
    td_np = td - _year_total(fc_of(promo), year)
    return BottomUpResult(build=build, bottom_up_total=total, top_down=td, top_down_without_promo=td_np,
                          gap=total - td, gap_without_promo=total - td_np, year=year, forecasts=fcs)
