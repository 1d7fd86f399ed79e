"""Micro lifecycle (微观生命周期), cases Y2 and Y3: product stages, customer states, strategies.

Three tools:

* :func:`product_stage` — introduction (导入期) / growth (提升期) / maturity (成熟期) /
  decline (衰退期) of a service from its monthly users (or penetration) series, by a
  documented growth rule (:data:`STAGE_RULE`), with the evidence. :func:`active_users`
  builds the series from the ``subscriptions`` table.
* :func:`customer_states` — each user's Y3 state for one service (heavy 重度, light 轻度,
  silent 沉默, pre-churn 预流失, returned 回家, permanently churned 永久流失, potential 潜在,
  non-potential 非潜在) from the three yes/no tests of the deck (activity, growth,
  loyalty), thresholds as parameters, placed by the combination table
  :data:`STATE_TABLE` (data: ``lifecycle_states.yaml``); :func:`state_matrix` counts the
  users per combination; :func:`transitions` between two months.
* :func:`strategy` — the Y2 product × customer lifecycle matrix as data
  (:data:`STRATEGY_MATRIX`, an editable table; :data:`DECK_STRATEGY_MATRIX`, the deck's
  16 cells as it lays them out) and each user's strategy, with a heatmap.

Example
-------
>>> import dmkit as dm
>>> series = dm.lifecycle.active_users(pdata.subscriptions, month="2009-06", n_months=24)
>>> stages = dm.lifecycle.product_stage(series)            # one row per service
>>> states = dm.lifecycle.customer_states(pdata.usage, pdata.subscriptions, service="crbt",
...                                       month="2009-06")
>>> plan = dm.lifecycle.strategy(stages, states)           # users per cell and strategies
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_choice, check_scalar
from dmkit.contract.labels import label_codes, present_labels
from dmkit.errors import parameter_error, schema_error

__all__ = [
    "ACTIVITY_COLUMNS",
    "CUSTOMER_STAGE",
    "DECK_STRATEGY_MATRIX",
    "DECK_STRATEGY_MATRIX_ZH",
    "PRODUCT_STAGES",
    "STAGE_RULE",
    "STATES",
    "STATE_NAMES",
    "STATE_TABLE",
    "STATE_TESTS",
    "STRATEGY_MATRIX",
    "CustomerStatesResult",
    "ProductStageResult",
    "StrategyResult",
    "TransitionResult",
    "active_users",
    "assign_states",
    "customer_states",
    "product_stage",
    "state_matrix",
    "strategy",
    "transitions",
]

Stage = Literal["introduction", "growth", "maturity", "decline"]
PRODUCT_STAGES: tuple[str, ...] = ("introduction", "growth", "maturity", "decline")
STAGE_NAMES: dict[str, str] = {"introduction": "导入期", "growth": "提升期", "maturity": "成熟期",
                               "decline": "衰退期"}

STAGE_RULE = pd.DataFrame(
    {
        "condition": [
            "growth <= -decline_below",
            "-decline_below < growth < growth_above",
            "growth_above <= growth < introduction_above",
            "growth >= introduction_above, or the series starts at 0 inside the window (launch)",
        ],
        "reading": [
            "users shrink by more than decline_below a month",
            "users flat or creeping (at most growth_above a month): the curve's plateau",
            "steady strong growth: the steep middle of the S curve",
            "very fast relative growth from a small base: the start of the S curve",
        ],
    },
    index=pd.Index(["decline", "maturity", "growth", "introduction"], name="stage"),
)
"""The product-stage rule. ``growth`` is the least-squares slope of log(users) per month
over the last ``window`` months (0.02 = +2 % a month). On a logistic (S) curve the relative
growth rate is r (1 - P/K): near r at introduction, falling through the growth phase, near
0 at maturity, negative in decline. Defaults: decline_below = 0.005, growth_above = 0.02,
introduction_above = 0.08."""

# ======================================================================================
# Product stage
# ======================================================================================


_USAGE_COLUMNS = frozenset(c.name for c in schema.COLUMNS["usage"])

_CHUNK_ROWS = 4_000_000
"""Rows of ``subscriptions`` binned at a time by :func:`active_users`."""


def active_users(
    subscriptions: pd.DataFrame, *, month: str, n_months: int = 24, services: Sequence[str] | None = None
) -> pd.DataFrame:
    """Active subscribers of each service at the end of each month (the product's user curve).

    Parameters
    ----------
    subscriptions : DataFrame
        The ``subscriptions`` table.
    month : str
        Last month, ``"YYYY-MM"``.
    n_months : int, default 24
        Months ending at ``month``.
    services : list of str, optional
        Default: every service in the table.

    Returns
    -------
    DataFrame
        Index ``month`` (``"YYYY-MM"``, oldest first); one column per service: users with
        ``start <= month end < end`` (or ``end`` null).
    """
    # only the columns read are required: a table read with those columns passes
    schema.validate(subscriptions, "subscriptions", check_keys=False, columns=["service", "start", "end"])
    check_scalar(n_months, "n_months", kind=int, low=2)
    last = _period(month, "month")
    months = pd.period_range(end=last, periods=n_months, freq="M")
    ends = (months + 1).to_timestamp().to_numpy()  # first instant after each month
    # counts per (service, month) with one bincount each for starts and ends, instead of a
    # string comparison and two sorts over the whole table per service (35 services x 8.6M
    # rows at 1M users): started by the end e_j of month j  <=>  #(ends <= start) <= j.
    # The service through its category codes (label_codes: no factorize of the rows), the rows
    # in chunks (the int64 temporaries stay ~_CHUNK_ROWS long at any province size); a null
    # end (NaT sorts last) and a missing service fall in bins that are dropped.
    codes, names = label_codes(subscriptions["service"])
    n_codes, n_m = len(names), len(ends)
    start = subscriptions["start"].to_numpy()
    end = subscriptions["end"].to_numpy()
    ends_start, ends_end = ends.astype(start.dtype), ends.astype(end.dtype)
    width = n_m + 1
    started = np.zeros((n_codes + 1) * width, dtype=np.int64)
    ended = np.zeros_like(started)
    for lo in range(0, len(codes), _CHUNK_ROWS):
        hi = lo + _CHUNK_ROWS
        c = codes[lo:hi].astype(np.int64)
        c[c < 0] = n_codes
        c *= width
        started += np.bincount(c + np.searchsorted(ends_start, start[lo:hi], side="right"), minlength=len(started))
        ended += np.bincount(c + np.searchsorted(ends_end, end[lo:hi], side="left"), minlength=len(ended))
    started, ended = started.reshape(n_codes + 1, width), ended.reshape(n_codes + 1, width)
    if services is None:  # the services with a row (every row lands in one bin of its service)
        services = sorted({names[j] for j in np.flatnonzero(started[:n_codes].sum(axis=1))})
    services = list(services)
    active = (started.cumsum(axis=1) - ended.cumsum(axis=1))[:n_codes, :n_m]
    code_of = {n: k for k, n in enumerate(names)}
    out = {s: active[code_of[s]] if s in code_of else np.zeros(n_m, dtype=np.int64) for s in services}
    return pd.DataFrame(out, index=pd.Index(months.astype(str), name="month"))


def _period(month: object, name: str) -> pd.Period:
    try:
        return pd.Period(str(month), freq="M")
    except (ValueError, TypeError) as err:
        raise parameter_error(name, expected="a month 'YYYY-MM'", found=month) from err


@dataclass(frozen=True)
class ProductStageResult(Result):
    """Product lifecycle stages (see :func:`product_stage`).

    Attributes
    ----------
    table : DataFrame
        One row per service (index ``service``): ``stage``, ``growth`` (monthly log slope
        over the window), ``growth_recent`` and ``growth_earlier`` (the same over the last
        and the first half of the window), ``acceleration`` (recent - earlier), ``first`` and
        ``last`` value of the window, ``change`` (last / first - 1), ``n_months``, ``launched``.
    series : DataFrame
        The input series (months × services).
    thresholds : dict
        decline_below, growth_above, introduction_above, window.
    """

    table: pd.DataFrame
    series: pd.DataFrame
    thresholds: dict = field(default_factory=dict)

    @property
    def stages(self) -> pd.Series:
        """Service -> stage."""
        return self.table["stage"]

    def to_frame(self) -> pd.DataFrame:
        """The stage table."""
        return self.table.copy()

    def summary(self) -> Summary:
        """Stage per service with the evidence, and the rule."""
        counts = self.table["stage"].value_counts().reindex(list(PRODUCT_STAGES), fill_value=0)
        counts.index = [f"{s} ({STAGE_NAMES[s]})" for s in counts.index]
        t = self.thresholds
        rule = STAGE_RULE.copy()
        notes = (f"growth = slope of log(users) per month over the last {t['window']} months; "
                 f"decline_below={t['decline_below']}, growth_above={t['growth_above']}, "
                 f"introduction_above={t['introduction_above']}",)
        return Summary("Product lifecycle stage (产品生命周期)",
                       (("stages", counts.to_frame("services")), ("evidence", self.table), ("rule", rule)),
                       notes)

    def plot(self, ax=None):
        """Each service's series on a log scale (last value = 100), coloured by stage."""
        ax = get_ax(ax, figsize=(8, 5))
        colors = {"introduction": "tab:purple", "growth": "tab:green", "maturity": "tab:blue",
                  "decline": "tab:red"}
        x = np.arange(len(self.series))
        for s in self.table.index:
            y = self.series[s].to_numpy(float)
            if y[-1] <= 0:
                continue
            ax.plot(x, 100 * y / y[-1], color=colors[self.table.at[s, "stage"]], lw=1, alpha=0.7)
        for st, c in colors.items():
            ax.plot([], [], color=c, label=f"{st} ({STAGE_NAMES[st]})")
        ax.set_yscale("log")
        step = max(1, len(x) // 8)
        ax.set_xticks(x[::step], self.series.index[::step], rotation=45)
        ax.set_ylabel("users (last month = 100, log scale)")
        ax.set_title("Product lifecycle stages")
        ax.legend(fontsize=8)
        return ax


def _log_slope(y: np.ndarray) -> float:
    ok = y > 0
    if ok.sum() < 2:
        return float("nan")
    t = np.arange(len(y))[ok]
    return float(np.polyfit(t, np.log(y[ok]), 1)[0])


def product_stage(
    series: pd.Series | pd.DataFrame,
    *,
    window: int = 12,
    decline_below: float = 0.005,
    growth_above: float = 0.02,
    introduction_above: float = 0.08,
) -> ProductStageResult:
    """Product lifecycle stage of each service from its monthly users or penetration (Y2).

    The rule (:data:`STAGE_RULE`): over the last ``window`` months, ``growth`` is the slope
    of log(series) per month; decline if ``growth <= -decline_below``; maturity if below
    ``growth_above``; introduction if at least ``introduction_above`` or if the service
    launched inside the window (its series starts at 0); growth otherwise.

    Parameters
    ----------
    series : Series or DataFrame
        A Series indexed by month (one service; its name is the service) or a DataFrame
        with months as the index and one column per service (e.g. :func:`active_users`).
        Values are users or penetration, >= 0, in month order.
    window : int, default 12
        Months used (the last ones); shorter series use all their months (at least 4).
    decline_below, growth_above, introduction_above : float
        Thresholds on the monthly log growth (defaults 0.5 %, 2 %, 8 % a month).

    Returns
    -------
    ProductStageResult
        ``.table`` columns: stage, growth, growth_recent, growth_earlier, acceleration,
        first, last, change, n_months, launched.

    Raises
    ------
    SchemaError
        Non-numeric, negative or missing values; fewer than 4 months; a series that is 0
        throughout.
    ParameterError
        Thresholds out of order.
    """
    if isinstance(series, pd.Series):
        frame = series.to_frame(series.name if series.name is not None else "series")
    elif isinstance(series, pd.DataFrame):
        frame = series
    else:
        raise schema_error(table="series", column=None, expected="a pandas Series or DataFrame",
                           found=type(series).__name__)
    check_scalar(window, "window", kind=int, low=4)
    for name, v in (("decline_below", decline_below), ("growth_above", growth_above),
                    ("introduction_above", introduction_above)):
        check_scalar(v, name, low=0)
    if not growth_above < introduction_above:
        raise parameter_error("introduction_above", expected=f"a value > growth_above ({growth_above})",
                              found=introduction_above)
    if len(frame) < 4:
        raise schema_error(table="series", column=None, expected="at least 4 months",
                           found=f"{len(frame)}", fix="use a longer history (active_users(n_months=24))")
    rows = {}
    for col in frame.columns:
        s = frame[col]
        if not pd.api.types.is_numeric_dtype(s):
            raise schema_error(table="series", column=str(col), expected="numeric users or penetration",
                               found=f"dtype {s.dtype}")
        y = s.to_numpy(dtype=float)[-window:]
        if np.isnan(y).any() or (y < 0).any():
            raise schema_error(table="series", column=str(col), expected="values >= 0 without gaps",
                               found="missing or negative values", fix="fill gaps with 0 or interpolate")
        if not (y > 0).any():
            raise schema_error(table="series", column=str(col), expected="some users in the window",
                               found="0 throughout", fix="drop services not offered yet")
        n = len(y)
        half = n // 2
        g = _log_slope(y)
        g_recent, g_earlier = _log_slope(y[half:]), _log_slope(y[: n - half])
        launched = bool(y[0] == 0 and y[-1] > 0)
        if launched:
            stage = "introduction"
        elif g <= -decline_below:
            stage = "decline"
        elif g < growth_above:
            stage = "maturity"
        elif g >= introduction_above:
            stage = "introduction"
        else:
            stage = "growth"
        rows[col] = {"stage": stage, "growth": g, "growth_recent": g_recent, "growth_earlier": g_earlier,
                     "acceleration": g_recent - g_earlier, "first": y[0], "last": y[-1],
                     "change": (y[-1] / y[0] - 1) if y[0] > 0 else np.inf, "n_months": n,
                     "launched": launched}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "service"
    return ProductStageResult(table=table, series=frame,
                              thresholds={"window": window, "decline_below": decline_below,
                                          "growth_above": growth_above,
                                          "introduction_above": introduction_above})


# ======================================================================================
# Customer states (Y3)
# ======================================================================================

STATES: tuple[str, ...] = ("heavy", "light", "silent", "pre_churn", "returned", "churned",
                           "potential", "non_potential")
STATE_NAMES: dict[str, str] = {
    "heavy": "heavy (重度)", "light": "light (轻度)", "silent": "silent (沉默)",
    "pre_churn": "pre-churn (预流失)", "returned": "returned (回家)",
    "churned": "permanently churned (永久流失)", "potential": "potential (潜在)",
    "non_potential": "non-potential (非潜在)",
}

ACTIVITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "crbt": ("crbt_changes", "music_downloads"),
    "music": ("music_downloads",),
    "music_club": ("music_downloads",),
    "full_song": ("music_downloads",),
    "ringtone": ("music_downloads",),
    "sms_p2p": ("sms_p2p",),
    "mms": ("mms",),
    "monternet_sms": ("monternet_sms",),
    "monternet_mms": ("mms",),
    "wap": ("wap_visits",),
    "gprs_package": ("gprs_kb",),
}
"""``usage`` columns whose monthly sum is a service's "use" (the activity of Y3); for other
services pass ``activity_columns=``."""

_STATES_YAML = Path(__file__).with_name("lifecycle_states.yaml")
STATE_TESTS: tuple[str, ...] = ("holder", "held_before", "loyalty", "activity", "growth", "heavy_use")
"""Columns of the combination table: the deck's three tests (loyalty 忠诚度, activity 活跃度,
growth 增长度) and the facts the state names carry (holder, held_before, heavy_use)."""
_YES_NO = {"yes": True, "no": False, "-": None}


def _load_states_yaml() -> dict:
    import yaml

    return yaml.safe_load(_STATES_YAML.read_text(encoding="utf-8"))


def _state_table(spec: dict) -> pd.DataFrame:
    cols = spec["columns"]
    rows = [dict(zip(cols, r, strict=True)) for r in spec["rows"]]
    t = pd.DataFrame(rows).set_index("state")
    return t.map(lambda v: _YES_NO[str(v).strip().lower()])


STATE_TABLE: pd.DataFrame = _state_table(_load_states_yaml())
"""The Y3 combination table (彩铃健康度&用户生命周期矩阵图), from ``lifecycle_states.yaml``:
one row per state (index), columns :data:`STATE_TESTS` holding True (Yes), False (No) or
None (either). A user takes the first row all of whose given values match. The YAML keeps
the deck's 24 scraped Yes/No marks beside it (their layout is lost in the scrape)."""


def _check_state_table(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise parameter_error("table", expected="a DataFrame like dmkit.lifecycle.STATE_TABLE",
                              found=type(table).__name__)
    bad_cols = [c for c in table.columns if c not in STATE_TESTS]
    if bad_cols:
        raise parameter_error("table", expected=f"columns among {list(STATE_TESTS)}", found=bad_cols)
    bad_states = [st for st in table.index if st not in STATES]
    if bad_states:
        raise parameter_error("table", expected=f"states (index) among {list(STATES)}", found=bad_states)
    for c in table.columns:
        odd = [v for v in table[c] if v is not None and not isinstance(v, (bool, np.bool_))]
        if odd:
            raise parameter_error("table", expected=f"True, False or None in column {c!r}", found=odd[:3])
    return table


def assign_states(tests: pd.DataFrame, table: pd.DataFrame | None = None) -> pd.Series:
    """Place each user in a state from the yes/no tests by the combination table.

    Parameters
    ----------
    tests : DataFrame
        One row per user, a boolean column per column of ``table``.
    table : DataFrame, optional
        Default :data:`STATE_TABLE`. First matching row wins.

    Returns
    -------
    Series
        The state of each row (categorical over :data:`STATES`), index of ``tests``.

    Raises
    ------
    ParameterError
        A malformed table, or users that no row of the table matches.
    SchemaError
        ``tests`` lacks a column the table uses.
    """
    table = _check_state_table(STATE_TABLE if table is None else table)
    missing = [c for c in table.columns if c not in tests.columns]
    if missing:
        raise schema_error(table="tests", column=missing[0], expected=f"boolean columns {list(table.columns)}",
                           found=f"columns {list(tests.columns)}")
    out = np.full(len(tests), None, dtype=object)
    free = np.ones(len(tests), dtype=bool)
    for state, row in table.iterrows():
        hit = free.copy()
        for c, v in row.items():
            if v is not None:
                hit &= tests[c].to_numpy(dtype=bool) == bool(v)
        out[hit] = state
        free &= ~hit
    if free.any():
        first = tests.loc[free, list(table.columns)].iloc[0].to_dict()
        raise parameter_error("table", expected="a row for every combination of the tests",
                              found=f"{int(free.sum())} user(s) unmatched, e.g. {first}")
    return pd.Series(pd.Categorical(out, categories=list(STATES)), index=tests.index, name="state")


@dataclass(frozen=True)
class CustomerStatesResult(Result):
    """Customer lifecycle states of one service (see :func:`customer_states`).

    Attributes
    ----------
    states : DataFrame
        One row per user: user_id, state, holder, use (data month), use_mean (window
        mean), prior_mean (mean of the months before the data month), activity, growth,
        loyalty (the three tests, bool), months_held.
    service, month : str
    thresholds : dict
    """

    states: pd.DataFrame
    service: str
    month: str
    thresholds: dict = field(default_factory=dict)

    @property
    def counts(self) -> pd.DataFrame:
        """Users per state: ``users`` and ``share`` (of all users) and ``share_of_holders``."""
        c = self.states["state"].value_counts().reindex(list(STATES), fill_value=0)
        out = pd.DataFrame({"users": c, "share": c / max(len(self.states), 1)})
        held = self.states["holder"].sum()
        out["share_of_holders"] = np.where(out.index.isin(["heavy", "light", "silent", "pre_churn", "returned"]),
                                           c / max(held, 1), np.nan)
        out.index.name = "state"
        return out

    def to_frame(self) -> pd.DataFrame:
        """The per-user table."""
        return self.states.copy()

    def summary(self) -> Summary:
        """Users per state and the thresholds used."""
        c = self.counts.copy()
        c.index = [STATE_NAMES[s] for s in c.index]
        th = pd.DataFrame({"value": pd.Series(self.thresholds, dtype=object)})
        return Summary(f"Customer lifecycle states (客户生命周期) of {self.service}, {self.month}",
                       (("states", c), ("thresholds", th)),
                       ("tests: activity = any use in the last silent_months months; growth = data-month "
                        "use >= decline_ratio x the prior months' mean (or that mean < min_prior); loyalty "
                        "= not a recent returner (no earlier subscription ended before a current one started "
                        "within return_months); states placed by the combination table (STATE_TABLE)",))

    def plot(self, ax=None):
        """Bar chart of users per state."""
        ax = get_ax(ax)
        c = self.counts
        ax.bar([STATE_NAMES[s] for s in c.index], c["users"], color="tab:blue")
        ax.tick_params(axis="x", rotation=35)
        for label in ax.get_xticklabels():  # anchored at their tick's end, long names do not overlap
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
        ax.set_ylabel("users")
        ax.set_title(f"{self.service} customer states, {self.month}")
        return ax


def customer_states(
    usage: pd.DataFrame,
    subscriptions: pd.DataFrame,
    *,
    service: str = "crbt",
    month: str,
    activity_columns: Sequence[str] | None = None,
    window: int = 3,
    heavy: float = 3.0,
    decline_ratio: float = 0.2,
    min_prior: float = 2.0,
    silent_months: int = 3,
    return_months: int = 3,
    table: pd.DataFrame | None = None,
) -> CustomerStatesResult:
    """Each user's Y3 lifecycle state for one service in the data month.

    The three yes/no tests of the deck, on the monthly "use" (sum of ``activity_columns``):

    * activity: any use in the last ``silent_months`` months (data month included);
    * growth: use in the data month >= ``decline_ratio`` × the mean use of the
      ``window - 1`` months before it — or that prior mean is below ``min_prior`` (nothing
      to decline from);
    * loyalty: the user is not a recent returner — no earlier subscription of the service
      ended before the current one, if the current one started within the last
      ``return_months`` months (a user who left and came back lately fails it).

    The combination table :data:`STATE_TABLE` (the deck's matrix as data, with the facts
    holder, held before and heavy use beside the three tests) places each user; its
    default rows read, in this order of precedence::

        ========================  =========================================================
        holders (active subscription at the end of the data month)
        returned (回家)            loyalty fails (came back within the last ``return_months``
                                  months)
        silent (沉默)              activity fails
        pre-churn (预流失)         growth fails
        heavy (重度)               mean use over the last ``window`` months >= ``heavy``
        light (轻度)               otherwise
        non-holders
        churned (永久流失)         held the service before (all subscriptions ended)
        potential (潜在)           never held it, but activity passes (uses the service's
                                  features anyway, e.g. downloads music without CRBT)
        non-potential (非潜在)     the rest
        ========================  =========================================================

    Parameters
    ----------
    usage, subscriptions : DataFrame
        Contract tables. The population is every user in ``usage`` at ``month`` plus every
        holder of the service.
    service : str, default "crbt"
    month : str
        The data month ``"YYYY-MM"``.
    activity_columns : list of str, optional
        Default :data:`ACTIVITY_COLUMNS` [service] (CRBT: crbt_changes + music_downloads).
    window : int, default 3
        Months (ending at the data month) for the heavy/light level and the growth test.
    heavy : float, default 3.0
        Mean monthly use that makes a heavy user.
    decline_ratio : float, default 0.2
        The growth test fails when the data month's use falls below this share of the
        prior months' mean (a fall of more than 80 %).
    min_prior : float, default 2.0
        Prior mean use below which there is nothing to decline from.
    silent_months : int, default 3
    return_months : int, default 3
    table : DataFrame, optional
        The combination table (default :data:`STATE_TABLE`).

    Returns
    -------
    CustomerStatesResult
        ``.states`` columns: user_id, state (categorical over :data:`STATES`), holder,
        held_before, use, use_mean, prior_mean, activity, growth, loyalty, heavy_use,
        months_held.

    Raises
    ------
    SchemaError
        A table breaks the contract; no usage rows in the data month.
    ParameterError
        Unknown service with no ``activity_columns``; bad threshold.
    """
    from dmkit import catalog

    check_choice(service, "service", catalog.active_catalog().service_codes)  # an operator's codes too
    if activity_columns is None:
        if service not in ACTIVITY_COLUMNS:
            raise parameter_error("activity_columns", expected=f"usage columns measuring the use of {service!r} "
                                  f"(defaults exist for {sorted(ACTIVITY_COLUMNS)})", found=None)
        activity_columns = ACTIVITY_COLUMNS[service]
    activity_columns = list(activity_columns)
    for c in activity_columns:
        if c not in usage.columns or not pd.api.types.is_numeric_dtype(usage[c]):
            raise parameter_error("activity_columns", expected="numeric columns of usage", found=c)
    # only the columns read are required (a table read with those columns passes)
    schema.validate(usage, "usage", check_keys=False,
                    columns=["user_id", "month", *[c for c in activity_columns if c in _USAGE_COLUMNS]])
    schema.validate(subscriptions, "subscriptions", check_keys=False, columns=["user_id", "service", "start", "end"])
    check_scalar(window, "window", kind=int, low=2)
    check_scalar(silent_months, "silent_months", kind=int, low=1)
    check_scalar(return_months, "return_months", kind=int, low=1)
    check_scalar(heavy, "heavy", low=0, low_inclusive=False)
    check_scalar(decline_ratio, "decline_ratio", low=0, high=1)
    check_scalar(min_prior, "min_prior", low=0)
    m = _period(month, "month")
    span = max(window, silent_months)
    months = [str(p) for p in pd.period_range(end=m, periods=span, freq="M")]
    # month and service compared through their category codes (or one factorize): no string
    # copy of the 6M-row usage month or the 8.6M-row service column (1M users)
    m_code, m_labels = label_codes(usage["month"])
    slot_of = {mo: j for j, mo in enumerate(months)}
    slot = np.append(np.array([slot_of.get(lb, -1) for lb in m_labels], dtype=np.int32), -1)[m_code]
    in_month = slot == span - 1
    if not in_month.any():
        have = sorted({m_labels[c] for c in np.unique(m_code[m_code >= 0])})
        raise schema_error(table="usage", column="month", expected=f"rows for the data month {str(m)!r}",
                           found=f"months {have[:3]}...{have[-3:]}" if len(have) > 6 else f"months {have}")
    in_span = np.flatnonzero(slot >= 0)
    slot = slot[in_span]
    use_rows = np.zeros(len(in_span))
    for c in activity_columns:  # the rows in the span taken first, then cast: no float copy of the table
        v = usage[c].to_numpy()[in_span]
        use_rows += v.astype(float) if v.dtype.kind in "iub" else pd.Series(v).to_numpy(dtype=float, na_value=0.0)

    # the service's subscriptions as numpy arrays of its rows (no frame copies of the table's
    # millions of rows); per-user facts by group-bys on the population's positions
    s_code, s_labels = label_codes(subscriptions["service"])
    s_rows = np.flatnonzero(np.append(np.array([lb == service for lb in s_labels], dtype=bool), False)[s_code])
    del s_code
    s_start = subscriptions["start"].to_numpy()[s_rows]
    t_end = (m + 1).to_timestamp()
    t_end_v = np.datetime64(t_end).astype(s_start.dtype)
    began = s_rows[s_start < t_end_v]
    s_uid = subscriptions["user_id"].to_numpy()[began]
    s_start = subscriptions["start"].to_numpy()[began]
    s_end = subscriptions["end"].to_numpy()[began]
    del s_rows, began
    active = np.isnat(s_end) | (s_end >= np.datetime64(t_end).astype(s_end.dtype))

    user_id = usage["user_id"]
    population = pd.Index(user_id[in_month].unique()).union(pd.Index(pd.unique(s_uid[active])))  # hashed
    n_pop = len(population)
    # use per (user, month) summed by one bincount over the population's positions
    at = population.get_indexer(user_id.to_numpy()[in_span])
    keep = at >= 0
    arr = np.bincount(at[keep].astype(np.int64) * span + slot[keep], weights=use_rows[keep],
                      minlength=n_pop * span).reshape(n_pop, span)
    del at, keep, slot, use_rows, in_span
    win = arr[:, -window:]
    this = arr[:, -1]
    prior = win[:, :-1].mean(axis=1)
    use_mean = win.mean(axis=1)
    activity = arr[:, -silent_months:].sum(axis=1) > 0
    growth = (this >= decline_ratio * prior) | (prior < min_prior)
    pos = population.get_indexer(s_uid)
    ever = np.zeros(n_pop, dtype=bool)
    ever[pos[pos >= 0]] = True
    holder = np.zeros(n_pop, dtype=bool)
    on = active & (pos >= 0)
    holder[pos[on]] = True

    def latest(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        # per population position, the latest of ``values`` on those rows (NaT where none)
        out = np.full(n_pop, np.datetime64("NaT"), dtype=values.dtype)
        if rows.any():
            g = pd.Series(values[rows]).groupby(pos[rows]).max()
            out[g.index.to_numpy()] = g.to_numpy(dtype=values.dtype)
        return out

    start = latest(on, s_start)  # the current subscription's start
    prev_end = latest(~active & (pos >= 0), s_end)  # the last end of an ended one
    came_back = holder & ~np.isnat(prev_end) & (prev_end.astype(start.dtype) <= start)
    recent = start >= np.datetime64((m + 1 - return_months).to_timestamp()).astype(start.dtype)
    loyalty = ~(came_back & recent)
    held_days = np.floor((t_end_v - start) / np.timedelta64(1, "D"))
    states = pd.DataFrame({
        "user_id": population.to_numpy(), "state": None,
        "holder": holder, "held_before": ever & ~holder, "use": this, "use_mean": use_mean, "prior_mean": prior,
        "activity": activity, "growth": growth, "loyalty": loyalty, "heavy_use": use_mean >= heavy,
        "months_held": np.round(held_days / 30.4375, 1),
    })
    states["state"] = assign_states(states, table).array  # categorical over STATES: one byte a user
    return CustomerStatesResult(states=states, service=service, month=str(m), thresholds={
        "activity_columns": tuple(activity_columns), "window": window, "heavy": heavy,
        "decline_ratio": decline_ratio, "min_prior": min_prior, "silent_months": silent_months,
        "return_months": return_months})


def state_matrix(states: CustomerStatesResult, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The Y3 matrix with counts: each state's row of the combination table and its users.

    Parameters
    ----------
    states : CustomerStatesResult
    table : DataFrame, optional
        The combination table used (default :data:`STATE_TABLE`).

    Returns
    -------
    DataFrame
        Index state (:data:`STATES` order, English and Chinese names in ``name``); one
        column per test holding "Yes", "No" or "–" (either), then ``users``, ``share`` (of
        all users) and ``share_of_holders``; and ``mismatched``: users in the state whose
        tests do not all match the state's row (0 when the states came from this table).
    """
    if not isinstance(states, CustomerStatesResult):
        raise parameter_error("states", expected="a CustomerStatesResult", found=type(states).__name__)
    table = _check_state_table(STATE_TABLE if table is None else table)
    cells = table.map(lambda v: "–" if v is None else ("Yes" if v else "No")).reindex(list(STATES), fill_value="")
    counts = states.counts
    st = states.states
    state_of = st["state"].to_numpy()
    tests = {c: st[c].to_numpy(dtype=bool) for c in table.columns}  # once, not per state
    mism = {}
    for state, row in table.iterrows():
        sel = state_of == state
        ok = np.ones(int(sel.sum()), dtype=bool)
        for c, v in row.items():
            if v is not None:
                ok &= tests[c][sel] == bool(v)
        mism[state] = int((~ok).sum())
    out = cells.assign(users=counts["users"], share=counts["share"], share_of_holders=counts["share_of_holders"],
                       mismatched=pd.Series(mism).reindex(list(STATES)).fillna(0).astype(int))
    out.insert(0, "name", [STATE_NAMES[x] for x in out.index])
    out.index.name = "state"
    return out


@dataclass(frozen=True)
class TransitionResult(Result):
    """State transitions between two months (see :func:`transitions`).

    Attributes
    ----------
    counts : DataFrame
        Users by state in ``from_month`` (rows) and ``to_month`` (columns), users present in both.
    shares : DataFrame
        Row shares (each row sums to 1 where it has users): the transition probabilities.
    """

    counts: pd.DataFrame
    shares: pd.DataFrame
    from_month: str
    to_month: str
    service: str

    def to_frame(self) -> pd.DataFrame:
        """The row-share matrix."""
        return self.shares.copy()

    def summary(self) -> Summary:
        """Counts and shares."""
        return Summary(f"State transitions of {self.service}: {self.from_month} → {self.to_month}",
                       (("users", self.counts), ("row shares", self.shares)),
                       ("rows: state in the first month; columns: state in the second",))

    def plot(self, ax=None):
        """Heatmap of the row shares, annotated."""
        ax = get_ax(ax, figsize=(7.5, 6))
        sh = self.shares
        im = ax.imshow(sh.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(sh.shape[1]), [STATE_NAMES[s] for s in sh.columns], rotation=45, ha="right")
        ax.set_yticks(range(sh.shape[0]), [STATE_NAMES[s] for s in sh.index])
        for i in range(sh.shape[0]):
            for j in range(sh.shape[1]):
                v = sh.iat[i, j]
                if v > 0:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
        ax.figure.colorbar(im, ax=ax, fraction=0.04)
        ax.set_xlabel(self.to_month)
        ax.set_ylabel(self.from_month)
        ax.set_title(f"{self.service} state transitions")
        return ax


def _state_codes(state: pd.Series) -> np.ndarray:
    """Positions in :data:`STATES` of a state column (-1 for another value or missing)."""
    return pd.Categorical(state, categories=list(STATES)).codes.astype(np.int64)


def transitions(before: CustomerStatesResult, after: CustomerStatesResult) -> TransitionResult:
    """Transition matrix between two :func:`customer_states` results of the same service.

    Returns
    -------
    TransitionResult
        ``counts`` (users, rows = state before, columns = state after, all 8 states) and
        ``shares`` (row shares).
    """
    for name, r in (("before", before), ("after", after)):
        if not isinstance(r, CustomerStatesResult):
            raise parameter_error(name, expected="a CustomerStatesResult", found=type(r).__name__)
    if before.service != after.service:
        raise parameter_error("after", expected=f"states of {before.service!r}", found=after.service)
    # users in both, counted by one bincount of the two states' codes over STATES (no merge of
    # the two per-user tables, no crosstab of their text)
    a_ids, b_ids = before.states["user_id"].to_numpy(), after.states["user_id"].to_numpy()
    at = pd.Index(b_ids).get_indexer(a_ids)
    both = at >= 0
    n_s = len(STATES)
    fr = _state_codes(before.states["state"])[both]
    to = _state_codes(after.states["state"])[at[both]]
    ok = (fr >= 0) & (to >= 0)
    counts = pd.DataFrame(np.bincount(fr[ok] * n_s + to[ok], minlength=n_s * n_s).reshape(n_s, n_s),
                          index=list(STATES), columns=list(STATES))
    counts.index.name, counts.columns.name = before.month, after.month
    rows = counts.sum(axis=1).replace(0, np.nan)
    shares = counts.div(rows, axis=0).fillna(0.0)
    return TransitionResult(counts=counts, shares=shares, from_month=before.month, to_month=after.month,
                            service=before.service)


# ======================================================================================
# Strategy matrix (Y2)
# ======================================================================================

CUSTOMER_STAGES: tuple[str, ...] = ("acquisition", "growth", "maturity", "decline")
CUSTOMER_STAGE_NAMES = {"acquisition": "获取", "growth": "提升", "maturity": "成熟", "decline": "衰退"}

CUSTOMER_STAGE: dict[str, str] = {
    "potential": "acquisition", "non_potential": "acquisition",
    "light": "growth", "returned": "growth",
    "heavy": "maturity",
    "silent": "decline", "pre_churn": "decline", "churned": "decline",
}
"""Y3 state -> customer lifecycle stage (CL) of Y2. Edit a copy and pass it to :func:`strategy`."""

STRATEGY_MATRIX = pd.DataFrame(
    [
        ["promotion & customer identification", "trial & customer binding",
         "market capture & binding", "customer clustering"],
        ["cross-sell & trial", "precision marketing & cross-sell",
         "bundling & customer care", "precision marketing & retention"],
        ["bundles to attract", "precision marketing & cross-sell",
         "bundling & customer care", "precision marketing & retention"],
        ["recommend a substitute service", "value conversion to a substitute",
         "value conversion to a substitute", "product exit / give up the customer"],
    ],
    index=pd.Index(list(PRODUCT_STAGES), name="product_stage"),
    columns=pd.Index(list(CUSTOMER_STAGES), name="customer_stage"),
)
"""The Y2 micro-lifecycle strategy matrix: product stage (rows) × customer stage (columns).

The twelve strategies are the deck's; their placement in the cells is our reading of it
(introduction products win users by promotion, trials and binding; growth and mature
products cross-sell and bundle, retain their declining users; declining products move
users to a substitute and finally exit). It is data: copy, edit and pass ``matrix=``."""


def _deck_strategy(col: int) -> pd.DataFrame:
    cells = _load_states_yaml()["strategy_cells"]
    m = pd.DataFrame(index=pd.Index(list(PRODUCT_STAGES), name="product_stage"),
                     columns=pd.Index(list(CUSTOMER_STAGES), name="customer_stage"), dtype=object)
    for cell in cells:
        m.loc[cell[0], cell[1]] = cell[col]
    return m


DECK_STRATEGY_MATRIX: pd.DataFrame = _deck_strategy(3)
"""The Y2 PCL strategy matrix as the deck lays it out (``lifecycle_states.yaml``): its 16
cells, product stage (rows) × customer stage (columns), in English; 15 distinct strategies
(the decline product: substitute, substitute, value conversion, exit). Pass ``matrix=``."""
DECK_STRATEGY_MATRIX_ZH: pd.DataFrame = _deck_strategy(2)
"""The same cells in the deck's words."""


@dataclass(frozen=True)
class StrategyResult(Result):
    """Users assigned to Y2 strategies (see :func:`strategy`).

    Attributes
    ----------
    assignments : DataFrame
        One row per user and service: user_id, service, state, customer_stage,
        product_stage, strategy.
    cells : DataFrame
        Users per product stage × customer stage cell.
    matrix : DataFrame
        The strategy matrix used.
    """

    assignments: pd.DataFrame
    cells: pd.DataFrame
    matrix: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The per-user assignments."""
        return self.assignments.copy()

    def summary(self) -> Summary:
        """Users per strategy, users per cell, and the matrix."""
        per = self.assignments.groupby(["product_stage", "customer_stage", "strategy"], observed=True) \
            .size().rename("users").reset_index()
        return Summary("Micro lifecycle strategies (微观生命周期矩阵)",
                       (("users per strategy", per), ("users per cell", self.cells),
                        ("strategy matrix", self.matrix)))

    def plot(self, ax=None):
        """Heatmap of users per cell, each cell labelled with its strategy."""
        ax = get_ax(ax, figsize=(10, 6))
        c = self.cells.reindex(index=self.matrix.index, columns=self.matrix.columns, fill_value=0)
        im = ax.imshow(c.to_numpy(dtype=float), cmap="Oranges")
        ax.set_xticks(range(c.shape[1]), [f"{s} ({CUSTOMER_STAGE_NAMES.get(s, '')})" for s in c.columns])
        ax.set_yticks(range(c.shape[0]), [f"{s} ({STAGE_NAMES.get(s, '')})" for s in c.index])
        for i in range(c.shape[0]):
            for j in range(c.shape[1]):
                ax.text(j, i, f"{self.matrix.iat[i, j]}\n{int(c.iat[i, j]):,} users", ha="center",
                        va="center", fontsize=7, wrap=True)
        ax.figure.colorbar(im, ax=ax, fraction=0.04)
        ax.set_xlabel("customer lifecycle (客户生命周期)")
        ax.set_ylabel("product lifecycle (产品生命周期)")
        ax.set_title("Product × customer lifecycle: users per strategy")
        return ax


def _text_categories(col: pd.Series) -> pd.Series:
    """``col`` as a categorical of text categories (missing values stay missing), converting
    only the categories when it is one already."""
    if not isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype("category")
    cats = [str(c) for c in col.cat.categories]
    if len(set(cats)) < len(cats):  # two categories with one text: merge them
        return col.astype(object).where(col.isna(), col.astype(str)).astype("category")
    return col.cat.rename_categories(cats)


def strategy(
    product_stage: str | Mapping[str, str] | ProductStageResult,
    customer_state: CustomerStatesResult | pd.DataFrame,
    *,
    matrix: pd.DataFrame | None = None,
    customer_stage: Mapping[str, str] | None = None,
) -> StrategyResult:
    """Assign each user the Y2 strategy of their product × customer lifecycle cell.

    Parameters
    ----------
    product_stage : str, mapping or ProductStageResult
        The stage of the service (one of introduction, growth, maturity, decline), or a
        mapping / result giving the stage per service.
    customer_state : CustomerStatesResult or DataFrame
        Users' states: a result of :func:`customer_states`, or a frame with columns
        user_id, state and (when several services) service.
    matrix : DataFrame, optional
        Product stage × customer stage -> strategy text; default :data:`STRATEGY_MATRIX`.
    customer_stage : mapping, optional
        State -> customer stage; default :data:`CUSTOMER_STAGE`.

    Returns
    -------
    StrategyResult
        ``.assignments`` columns: user_id, service, state, customer_stage, product_stage,
        strategy (the five text columns categorical: codes per user, the text once);
        ``.cells``: users per cell.

    Raises
    ------
    ParameterError
        Unknown stage or state, a service without a product stage, or a matrix cell missing.
    """
    matrix = STRATEGY_MATRIX if matrix is None else matrix
    cmap = CUSTOMER_STAGE if customer_stage is None else dict(customer_stage)
    if isinstance(customer_state, CustomerStatesResult):
        users = customer_state.states[["user_id", "state"]].assign(service=customer_state.service)
    elif isinstance(customer_state, pd.DataFrame):
        missing = [c for c in ("user_id", "state") if c not in customer_state.columns]
        if missing:
            raise schema_error(table="customer_state", column=missing[0], expected="columns user_id, state",
                               found=f"columns {list(customer_state.columns)}")
        users = customer_state.copy()
        if "service" not in users:
            users["service"] = "service"
    else:
        raise parameter_error("customer_state", expected="a CustomerStatesResult or DataFrame",
                              found=type(customer_state).__name__)
    # text columns as categoricals: the per-user table holds codes, and every lookup below is
    # over the few categories, not the rows (at 12M users an object column per step was GBs)
    users["state"] = _text_categories(users["state"])
    users["service"] = _text_categories(users["service"])
    if isinstance(product_stage, ProductStageResult):
        stages = product_stage.stages.to_dict()
    elif isinstance(product_stage, str):
        stages = {s: product_stage for s in users["service"].unique()}
    elif isinstance(product_stage, Mapping):
        stages = dict(product_stage)
    else:
        raise parameter_error("product_stage", expected="a stage name, a mapping or a ProductStageResult",
                              found=type(product_stage).__name__)
    bad_state = sorted(present_labels(users["state"]) - set(cmap)) + (["nan"] if users["state"].isna().any() else [])
    if bad_state:
        raise parameter_error("customer_state", expected=f"states among {list(cmap)}", found=bad_state)
    no_stage = sorted(present_labels(users["service"]) - set(stages))
    if no_stage:
        raise parameter_error("product_stage", expected="a stage for every service of the users",
                              found=f"none for {no_stage}")
    bad_stage = sorted({v for v in stages.values() if v not in matrix.index})
    if bad_stage:
        raise parameter_error("product_stage", expected=f"stages among {list(matrix.index)}", found=bad_stage)
    users["customer_stage"] = _text_categories(users["state"].map(cmap))
    missing_cols = sorted(present_labels(users["customer_stage"]) - set(matrix.columns))
    if missing_cols:
        raise parameter_error("matrix", expected=f"columns for customer stages {missing_cols}",
                              found=list(matrix.columns))
    users["product_stage"] = _text_categories(users["service"].map(stages))
    # the strategy of each (product stage, customer stage) pair of categories, then per user by codes
    p_cats = list(users["product_stage"].cat.categories)
    c_cats = list(users["customer_stage"].cat.categories)
    lookup = matrix.stack()
    names = lookup.reindex(pd.MultiIndex.from_product([p_cats, c_cats])).to_numpy(dtype=object)
    strategies = pd.unique(pd.Series(names).dropna()).tolist()
    pair_code = np.array([strategies.index(v) if isinstance(v, str) else -1 for v in names], dtype=np.int64)
    pc = users["product_stage"].cat.codes.to_numpy().astype(np.int64)
    cc = users["customer_stage"].cat.codes.to_numpy().astype(np.int64)
    pair = np.where((pc >= 0) & (cc >= 0), pc * len(c_cats) + cc, -1)
    codes = np.append(pair_code, -1)[pair]
    users["strategy"] = pd.Categorical.from_codes(codes, categories=strategies)
    n_cells = np.bincount(pair[pair >= 0], minlength=len(p_cats) * len(c_cats)).reshape(len(p_cats), len(c_cats))
    cells = pd.DataFrame(n_cells, index=p_cats, columns=c_cats).reindex(
        index=matrix.index, columns=matrix.columns, fill_value=0)
    cols = ["user_id", "service", "state", "customer_stage", "product_stage", "strategy"]
    return StrategyResult(assignments=users[cols].reset_index(drop=True), cells=cells, matrix=matrix)
