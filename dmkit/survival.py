"""Retention of subscribers (客户保有): Kaplan-Meier curves and Cox models (lifelines).

* :func:`durations` builds one row per subscription — duration (in months by default, or
  days, weeks, years: ``unit=``) and an event flag, censored at the end of the data month —
  from the ``subscriptions`` table. The unit is kept in the frame's
  ``attrs["duration_unit"]`` and every result says it.
* :func:`covariates` adds the covariates the simulator plants hazard ratios on
  (``campaign``, ``age_under_25``, ``brand_mzone``, ``complaints``, ...).
* :func:`retention` gives Kaplan-Meier curves per group, the median, retention at
  given times (1/3/6/12 months by default) with confidence intervals and a log-rank test;
  columns are named by the durations' unit (``retention_3m``, ``retention_90d``).
* :func:`cox` fits a Cox proportional-hazards model: hazard ratios with CIs, the
  proportional-hazards test, a readable summary.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_choice, check_frame, check_numeric, check_scalar
from dmkit.contract.labels import in_labels
from dmkit.contract.months import month_end
from dmkit.contract.province import ProvinceData
from dmkit.errors import ConvergenceError, parameter_error, schema_error

__all__ = ["durations", "covariates", "retention", "RetentionResult", "cox", "CoxResult",
           "DAYS_PER_MONTH", "UNIT_DAYS", "DEFAULT_TIMES", "DURATION_COLUMNS"]

DAYS_PER_MONTH = 30.4375
"""Average days in a month: durations in months are in months of this length."""

Unit = Literal["days", "weeks", "months", "years"]
UNIT_DAYS: dict[str, float] = {"days": 1.0, "weeks": 7.0, "months": DAYS_PER_MONTH, "years": 365.25}
"""Days in one unit of duration (a month is :data:`DAYS_PER_MONTH`, a year 365.25 days)."""
_SUFFIX = {"days": "d", "weeks": "w", "months": "m", "years": "y"}
DEFAULT_TIMES: dict[str, tuple[float, ...]] = {
    "days": (30, 90, 180, 365), "weeks": (4, 13, 26, 52), "months": (1, 3, 6, 12), "years": (0.5, 1, 2, 3)}
"""The times :func:`retention` reports by default, in each unit."""
UNIT_ATTR = "duration_unit"
"""Key of ``DataFrame.attrs`` / ``Series.attrs`` where :func:`durations` records the unit."""


def _unit_of(data: object, unit: str | None, *, param: str = "unit") -> str:
    """The durations' unit: ``unit`` if given (checked against what ``data`` records), else
    the unit recorded in ``data.attrs`` by :func:`durations`, else months."""
    recorded = getattr(data, "attrs", {}).get(UNIT_ATTR) if hasattr(data, "attrs") else None
    if unit is None:
        return recorded or "months"
    check_choice(unit, param, tuple(UNIT_DAYS))
    if recorded is not None and recorded != unit:
        raise parameter_error(param, expected=f"the unit the durations are in ({recorded!r}, recorded by "
                              "survival.durations)", found=unit,
                              fix=f"pass {param}={recorded!r}, or rebuild the durations with unit={unit!r}")
    return unit


DURATION_COLUMNS: tuple[str, ...] = ("user_id", "service", "start", "end", "channel", "source")
"""The ``subscriptions`` columns :func:`durations` reads from a province (and :func:`covariates` uses)."""


def durations(subscriptions: pd.DataFrame | ProvinceData, *, month: str, service: str | None = None,
              unit: Unit = "months") -> pd.DataFrame:
    """Duration and event per subscription, censored at the end of ``month``.

    Parameters
    ----------
    subscriptions : DataFrame or ProvinceData
        The ``subscriptions`` table, or a province: then only :data:`DURATION_COLUMNS` are
        read, and with ``service`` the ``service`` column first and each other column alone,
        cut to that service's rows at once (the same frame as from
        ``pdata.read("subscriptions", columns=DURATION_COLUMNS)``, without holding every
        service's rows: at 3,000,000 users CRBT is about a tenth of 25.7 million subscriptions).
    month : str
        The data month 'YYYY-MM'; subscriptions still active at its end (or ending
        later) are censored there; subscriptions starting after it are dropped.
    service : str, optional
        Keep one service.
    unit : {"months", "days", "weeks", "years"}, default "months"
        Unit of ``duration`` (a month is :data:`DAYS_PER_MONTH` days, a year 365.25).

    Returns
    -------
    DataFrame
        The subscriptions' columns plus ``duration`` (in ``unit``, float >= 0) and ``event``
        (1 = unsubscribed by the end of ``month``, 0 = censored). ``attrs["duration_unit"]``
        records the unit; :func:`retention` and :func:`cox` read it from there.
    """
    check_choice(unit, "unit", tuple(UNIT_DAYS))
    if isinstance(subscriptions, ProvinceData):
        subscriptions = _read_subscriptions(subscriptions, service)
    elif not isinstance(subscriptions, pd.DataFrame):
        raise parameter_error("subscriptions", expected="the subscriptions table (a DataFrame) or a ProvinceData",
                              found=type(subscriptions).__name__)
    schema.validate(subscriptions, "subscriptions", check_keys=False)
    end = month_end(month)
    s = subscriptions
    if service is not None:
        s = s[s["service"] == service]
    s = s[s["start"] < end]
    if len(s) == 0:
        raise schema_error(table="subscriptions", column="service" if service else "start",
                           expected=f"subscriptions{' of ' + repr(service) if service else ''} started by {month}",
                           found="none")
    ended = s["end"].notna() & (s["end"] < end)
    stop = s["end"].where(ended, end)
    out = s.copy()
    out["duration"] = (stop - s["start"]).dt.total_seconds().to_numpy() / 86400.0 / UNIT_DAYS[unit]
    out["event"] = ended.astype(np.int8).to_numpy()
    out.attrs[UNIT_ATTR] = unit
    return out


def _read_subscriptions(pdata: ProvinceData, service: str | None) -> pd.DataFrame:
    """:data:`DURATION_COLUMNS` of the province's subscriptions (of ``service``'s rows only when given)."""
    if service is None:
        return pdata.read("subscriptions", columns=list(DURATION_COLUMNS))
    return service_rows(pdata, service, DURATION_COLUMNS)


def service_rows(pdata: ProvinceData, service: str | Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` of the province's subscriptions of ``service``, without the other services' rows.

    The narrow columns (ids and codes: all but the timestamps) are read in one call with
    ``service``, then each timestamp column alone, each cut to the service's rows at once: the
    same frame (values, dtypes, order, fresh ``RangeIndex``) as
    ``pdata.read("subscriptions", columns=columns)`` filtered to ``service``, without holding
    every row's timestamps (8 bytes a column and row). With no row of ``service``, the columns
    whole (for the callers' checks and messages).

    Parameters
    ----------
    pdata : ProvinceData
    service : str or sequence of str
        One service, or several (the rows of any of them).
    columns : sequence of str
        Columns of the ``subscriptions`` table, ``service`` among them.

    Notes
    -----
    Measured at 3,000,000 users (Guangdong 2008-12, 25.7 million subscriptions, CRBT's
    durations): reading every column alone doubled the cell's time against the one
    six-column read (10.6 vs 5.5 s); the narrow columns together and the two timestamps
    alone keep the number of reads to three.
    """
    cols = list(columns)
    if "service" not in cols:
        raise parameter_error("columns", expected="subscriptions columns including 'service'", found=cols)
    kinds = {spec.name: spec.kind for spec in schema.COLUMNS["subscriptions"]}
    narrow = [c for c in cols if kinds.get(c) != "datetime"]
    first = pdata.read("subscriptions", columns=narrow)
    keep = np.flatnonzero(in_labels(first["service"], [service] if isinstance(service, str) else list(service)))
    if len(keep) == 0:
        return pdata.read("subscriptions", columns=cols)
    part = {c: first[c].take(keep).reset_index(drop=True) for c in narrow}
    del first
    for c in cols:
        if c not in part:
            part[c] = pdata.read("subscriptions", columns=[c])[c].take(keep).reset_index(drop=True)
    return pd.DataFrame({c: part.pop(c) for c in cols})


def covariates(frame: pd.DataFrame, users: pd.DataFrame | None = None,
               usage: pd.DataFrame | None = None, *, month: str | None = None) -> pd.DataFrame:
    """Add Cox covariates to :func:`durations` output (the covariates of ``Truth.hazard``).

    Adds ``campaign`` (1 if ``source`` is not 'organic') and ``sp_push`` (ordered through an
    SP push); with ``users``: ``age_under_25`` (age < 25), ``brand_mzone``, ``brand_gotone``,
    ``student``; with ``usage``: ``complaints`` (1 if the user lodged a complaint in
    ``month``, default the latest month of ``usage``). Of ``users`` only ``user_id``,
    ``age``, ``brand`` and ``student`` are read and checked; of ``usage`` only ``user_id``
    and ``complaints`` of that month's rows (a province's one month, e.g.
    ``pdata.read("usage", months=month, columns=["user_id", "month", "complaints"])``, is
    enough).

    Returns
    -------
    DataFrame
        ``frame`` with the new 0/1 columns.
    """
    check_frame(frame, table="durations", columns=["user_id", "source", "channel"])
    out = frame.copy()
    # compared as they are (categories compare on their codes): no string copy of the columns;
    # a missing source counts as a campaign, a missing channel as not an SP push (as before)
    out["campaign"] = (out["source"] != "organic").to_numpy().astype(np.int8)
    out["sp_push"] = (out["channel"] == "sp_push").to_numpy().astype(np.int8)
    idx = out["user_id"].to_numpy()
    if users is not None:
        # only the columns read are checked; users looked up by position (no indexed copy)
        schema.validate(users, "users", columns=["user_id", "age", "brand", "student"])
        row = pd.Index(users["user_id"].to_numpy()).get_indexer(idx)  # users' keys are unique (validated)
        found = row >= 0
        pos = np.where(found, row, 0)
        age = users["age"].to_numpy(dtype=float, na_value=np.nan)[pos]
        out["age_under_25"] = (found & (age < 25)).astype(np.int8)
        for b in ("mzone", "gotone"):
            brand = users["brand"]
            if isinstance(brand.dtype, pd.CategoricalDtype):  # compared on the codes
                k = brand.cat.categories.get_indexer([b])[0]
                hit = brand.cat.codes.to_numpy()[pos] == k if k >= 0 else np.zeros(len(idx), dtype=bool)
            else:
                hit = np.asarray(brand.to_numpy()[pos] == b, dtype=bool)
            out[f"brand_{b}"] = (found & hit).astype(np.int8)
        student = users["student"].fillna(False).astype(bool).to_numpy()[pos]
        out["student"] = (found & student).astype(np.int8)
    if usage is not None:
        if "month" not in usage.columns:
            schema.validate(usage, "usage", check_keys=False)  # names the missing column
        m = month if month is not None else str(usage["month"].max())
        at = (usage["month"] == m).to_numpy(dtype=bool)  # categories compare on their codes
        if not at.any():
            raise schema_error(table="usage", column="month", expected=f"rows for month {m!r}", found="none")
        um = pd.DataFrame({c: usage[c].to_numpy()[at] for c in ("user_id", "month", "complaints")
                           if c in usage.columns})
        schema.validate(um, "usage", check_keys=False, columns=["user_id", "month", "complaints"])
        comp = pd.Series(um["complaints"].to_numpy(), index=um["user_id"].to_numpy())
        out["complaints"] = (comp.reindex(idx).fillna(0).to_numpy() > 0).astype(np.int8)
    return out


def _check_surv(d: np.ndarray, e: np.ndarray, *, table: str, dcol: str, ecol: str) -> None:
    if len(d) != len(e):
        raise parameter_error("events", expected=f"{len(d)} values (as many as durations)", found=f"{len(e)} values")
    if len(d) == 0:
        raise schema_error(table=table, column=dcol, expected="at least one row", found="none")
    if not np.isfinite(d).all():
        raise schema_error(table=table, column=dcol, expected="finite durations",
                           found=f"{int((~np.isfinite(d)).sum())} NaN or infinite")
    if (d < 0).any():
        bad = np.flatnonzero(d < 0)
        raise schema_error(table=table, column=dcol, expected="durations >= 0",
                           found=f"{len(bad)} negative durations, e.g. {d[bad[:3]].tolist()}",
                           rows=bad[:5].tolist(), fix="check that end >= start and the censoring date")
    vals = set(np.unique(e[~pd.isna(e)]).tolist()) if len(e) else set()
    if pd.isna(e).any() or not vals <= {0, 1}:
        raise schema_error(table=table, column=ecol, expected="events coded 0/1 (1 = unsubscribed)",
                           found=f"values {sorted(map(str, vals))[:6]}" + (" and missing" if pd.isna(e).any() else ""))


# --------------------------------------------------------------------------- Kaplan-Meier
@dataclass(frozen=True)
class RetentionResult(Result):
    """Kaplan-Meier retention per group.

    Attributes
    ----------
    table : DataFrame
        One row per group: ``group``, ``n``, ``events``, ``median`` (in ``unit``; inf if
        never reached), ``median_low``, ``median_high``, and for each t in ``times``:
        ``retention_<t><u>``, ``retention_<t><u>_low``, ``retention_<t><u>_high``, where
        ``<u>`` is the unit's letter: ``m`` months, ``d`` days, ``w`` weeks, ``y`` years
        (``retention_3m``, ``retention_90d``).
    logrank : DataFrame or None
        With two or more groups: one row, ``statistic``, ``df``, ``p_value`` (multivariate
        log-rank test).
    curves : dict
        Group -> DataFrame indexed by ``timeline`` (0 and every distinct duration of the group):
        ``at_risk``, ``events``, ``survival``, ``low``, ``high`` (the Kaplan-Meier estimate
        and its exponential-Greenwood bounds, computed from the counts per duration with
        lifelines' formulas; lifelines itself is not needed).
    times : tuple of float
        The reported times, in ``unit``.
    unit : str
        Unit of the durations, the median and ``times``.
    """

    table: pd.DataFrame
    logrank: pd.DataFrame | None
    curves: dict
    times: tuple[float, ...]
    unit: str = "months"

    def column(self, t: float) -> str:
        """Name of the retention column at time ``t`` (in ``unit``), e.g. ``"retention_90d"``."""
        return f"retention_{t:g}{_SUFFIX[self.unit]}"

    def to_frame(self) -> pd.DataFrame:
        """The per-group table."""
        return self.table

    def summary(self) -> Summary:
        """Per-group table and the log-rank test."""
        tabs = [("Kaplan-Meier retention", self.table.set_index("group"))]
        notes = [f"durations, median and times in {self.unit}"]
        if self.logrank is not None:
            tabs.append(("log-rank test", self.logrank))
            notes.append(f"log-rank p = {self.logrank['p_value'].iloc[0]:.3g}")
        return Summary("Retention (客户保有)", tuple(tabs), tuple(notes))

    def plot(self, ax=None, *, points: int = 400):
        """Kaplan-Meier curves with confidence bands, drawn as steps at ``points`` times.

        Each curve is read (its last value at or before each time) at ``points`` evenly
        spaced times from 0 to its longest duration, so the figure costs the same for a
        thousand or ten million subscriptions.
        """
        check_scalar(points, "points", kind=int, low=2)
        ax = get_ax(ax)
        for g, c in self.curves.items():
            tl = c.index.to_numpy()
            grid = np.linspace(0.0, tl[-1], points)
            at = np.searchsorted(tl, grid, side="right") - 1
            line, = ax.step(grid, c["survival"].to_numpy()[at], where="post", label=str(g))
            ax.fill_between(grid, c["low"].to_numpy()[at], c["high"].to_numpy()[at], step="post",
                            alpha=0.25, color=line.get_color(), linewidth=0)
        ax.legend()
        ax.set_xlabel(f"{self.unit} since subscription")
        ax.set_ylabel("share still subscribed")
        ax.set_ylim(0, 1.02)
        ax.set_title("Retention (Kaplan-Meier)")
        return ax


def retention(
    durations: Sequence[float] | pd.Series | np.ndarray,
    events: Sequence[int] | pd.Series | np.ndarray,
    groups: Sequence | pd.Series | np.ndarray | None = None,
    *,
    times: tuple[float, ...] | None = None,
    unit: Unit | None = None,
    alpha: float = 0.05,
) -> RetentionResult:
    """Kaplan-Meier retention per group, with the median, retention at ``times`` and a log-rank test.

    Parameters
    ----------
    durations : array-like of float
        Time subscribed (>= 0) in ``unit``, e.g. ``durations(subscriptions, month=...)["duration"]``.
    events : array-like of 0/1
        1 = unsubscribed, 0 = censored (still subscribed at the data month's end).
    groups : array-like, optional
        Group label per row (e.g. source: organic / campaign).
    times : tuple of float, optional
        Times (in ``unit``) at which to report retention; default :data:`DEFAULT_TIMES` of
        the unit (1/3/6/12 months, 30/90/180/365 days, ...). Beyond the longest follow-up
        the value is the last estimate (lifelines' convention) — check ``n`` at risk.
    unit : {"months", "days", "weeks", "years"}, optional
        Unit of ``durations``; it names the columns (``retention_3m``, ``retention_90d``).
        Default: the unit :func:`durations` recorded in ``durations.attrs``, else months.
        A unit that contradicts the recorded one raises ParameterError.
    alpha : float, default 0.05

    Returns
    -------
    RetentionResult

    Raises
    ------
    SchemaError
        Negative or missing durations; events not 0/1.
    ParameterError
        An unknown unit, or one that contradicts the durations' recorded unit.
    """
    from scipy.special import ndtri

    unit = _unit_of(durations, unit)
    times = DEFAULT_TIMES[unit] if times is None else tuple(times)
    d = np.asarray(durations, dtype=float)
    e_raw = np.asarray(events)
    _check_surv(d, e_raw, table="durations", dcol="durations", ecol="events")
    e = e_raw.astype(np.int64)
    check_scalar(alpha, "alpha", kind=float, low=0, high=0.5, low_inclusive=False)
    if groups is None:
        codes, labels = np.zeros(len(d), dtype=np.int64), ["all"]
    else:
        g = groups.to_numpy() if isinstance(groups, pd.Series) else np.asarray(groups)
        if len(g) != len(d):
            raise parameter_error("groups", expected=f"{len(d)} labels", found=f"{len(g)} labels")
        codes, uniq = pd.factorize(g)
        if (codes < 0).any():  # missing labels: a group of their own, as before
            codes = np.where(codes < 0, len(uniq), codes)
            uniq = np.r_[np.asarray(uniq, dtype=object), [np.nan]]
        labels = list(uniq)
        try:
            order = sorted(range(len(labels)), key=lambda i: labels[i])
        except TypeError:
            order = list(range(len(labels)))
        remap = np.empty(len(labels), dtype=np.int64)
        remap[order] = np.arange(len(labels))
        codes, labels = remap[codes], [labels[i] for i in order]
    z = float(ndtri(1 - alpha / 2))
    rows, curves = [], {}
    by = np.argsort(codes, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(labels)))]
    for i, lab in enumerate(labels):
        sel = by[bounds[i]:bounds[i + 1]]
        c = _km_curve(d[sel], e[sel], z)
        curves[lab] = c
        tl, sv = c.index.to_numpy(), c["survival"].to_numpy()
        row = {"group": lab, "n": len(sel), "events": int(e[sel].sum()), "median": _first_at_or_below(tl, sv),
               "median_low": _first_at_or_below(tl, c["low"].to_numpy()),
               "median_high": _first_at_or_below(tl, c["high"].to_numpy())}
        for t in times:
            idx = max(int(np.searchsorted(tl, t, side="right")) - 1, 0)
            key = f"retention_{t:g}{_SUFFIX[unit]}"
            row[key], row[f"{key}_low"], row[f"{key}_high"] = (float(sv[idx]), float(c["low"].iloc[idx]),
                                                                float(c["high"].iloc[idx]))
        rows.append(row)
    lr = None
    if len(labels) > 1:
        stat, df_, p = _logrank(d, e, codes, len(labels))
        lr = pd.DataFrame([{"statistic": stat, "df": df_, "p_value": p}])
    return RetentionResult(table=pd.DataFrame(rows), logrank=lr, curves=curves, times=tuple(times), unit=unit)


def _km_curve(d: np.ndarray, e: np.ndarray, z: float) -> pd.DataFrame:
    """Kaplan-Meier estimate with exponential-Greenwood bounds from the counts per distinct duration.

    Same timeline and formulas as lifelines' ``KaplanMeierFitter`` (a row at 0, the estimate
    ``exp(cumsum(log(n - d) - log(n)))``, Greenwood's variance, log(-log) bounds, missing bounds 1).
    """
    t, inv = np.unique(d, return_inverse=True)
    removed = np.bincount(inv, minlength=len(t)).astype(np.int64)
    observed = np.bincount(inv, weights=e, minlength=len(t))
    if len(t) == 0 or t[0] > 0:
        t, removed, observed = np.r_[0.0, t], np.r_[0, removed], np.r_[0.0, observed]
    at_risk = len(d) - (np.cumsum(removed) - removed)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.exp(np.cumsum(np.log(at_risk - observed) - np.log(at_risk)))
        pop = at_risk.astype(np.uint64).astype(float)
        inc = observed / (pop * (pop - observed))
        inc[np.isposinf(inc)] = 0.0
        var = np.cumsum(np.nan_to_num(inc, nan=0.0))
        v = np.log(est)
        low = np.exp(-np.exp(np.log(-v) - z * np.sqrt(var) / v))
        high = np.exp(-np.exp(np.log(-v) + z * np.sqrt(var) / v))
    low[np.isnan(low)], high[np.isnan(high)] = 1.0, 1.0
    return pd.DataFrame({"at_risk": at_risk, "events": observed.astype(np.int64), "survival": est,
                         "low": low, "high": high}, index=pd.Index(t, name="timeline"))


def _first_at_or_below(times: np.ndarray, values: np.ndarray, q: float = 0.5) -> float:
    """First time the curve is <= q (lifelines' ``qth_survival_time``); inf if never."""
    if values[-1] > q:
        return float("inf")
    return float(times[np.searchsorted(-values, -q)])


def _logrank(d: np.ndarray, e: np.ndarray, codes: np.ndarray, n_groups: int) -> tuple[float, int, float]:
    """Multivariate log-rank test from counts per (distinct duration, group) (lifelines' formulas)."""
    from scipy.special import chdtrc

    t, inv = np.unique(d, return_inverse=True)
    cell = inv.astype(np.int64) * n_groups + codes
    rm = np.bincount(cell, minlength=len(t) * n_groups).reshape(len(t), n_groups).astype(float)
    obs = np.bincount(cell, weights=e, minlength=len(t) * n_groups).reshape(len(t), n_groups)
    n_ij = rm.sum(0) - (np.cumsum(rm, axis=0) - rm)
    d_i = obs.sum(1)
    n_i = n_ij.sum(1)
    z_j = obs.sum(0) - (n_ij * (d_i / n_i)[:, None]).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (n_i - d_i) / (n_i - 1)
    ratio[~np.isfinite(ratio)] = 1.0
    root = np.sqrt(ratio * d_i / n_i ** 2)
    a = np.nan_to_num(n_ij * root[:, None])
    b = np.nan_to_num(n_i * root)
    v = -(a.T @ a)
    v[np.diag_indices(n_groups)] += b @ a
    k = n_groups - 1
    u = float(z_j[:k] @ np.linalg.pinv(v[:k, :k]) @ z_j[:k])
    return u, k, float(chdtrc(k, u))


# --------------------------------------------------------------------------- Cox
@dataclass(frozen=True)
class CoxResult(Result):
    """A fitted Cox proportional-hazards model.

    Attributes
    ----------
    hazard_ratios : DataFrame
        Index covariate; columns ``hr``, ``hr_low``, ``hr_high`` (CI), ``coef``, ``se``,
        ``z``, ``p_value``.
    ph_test : DataFrame
        Index covariate; columns ``statistic``, ``p_value`` (Schoenfeld-residual test of
        proportional hazards, rank-transformed time) and ``ph_ok`` (p >= alpha).
    concordance : float
    n, events : int
    fitter : lifelines.CoxPHFitter
    unit : str
        Unit of the durations (hazard ratios do not depend on it; the fitter's baseline
        hazard and survival are per this unit).
    """

    hazard_ratios: pd.DataFrame
    ph_test: pd.DataFrame
    concordance: float
    n: int
    events: int
    alpha: float
    fitter: object
    unit: str = "months"
    n_fitted: int | None = None

    def to_frame(self) -> pd.DataFrame:
        """Hazard ratios with the PH test columns."""
        return self.hazard_ratios.join(self.ph_test.add_prefix("ph_"))

    def summary(self) -> Summary:
        """Readable hazard ratios, e.g. 'campaign: 1.80x the hazard of unsubscribing'."""
        notes = [f"{self.n} subscriptions, {self.events} unsubscriptions; concordance {self.concordance:.3f}; "
                 f"durations in {self.unit}"]
        if self.n_fitted is not None and self.n_fitted < self.n:
            notes.append(f"fitted on a stratified random sample of {self.n_fitted} of the {self.n} subscriptions "
                         f"(by event and strata; concordance and the PH test on the sample)")
        for cov, r in self.hazard_ratios.iterrows():
            notes.append(f"{cov}: hazard of unsubscribing x{r['hr']:.2f} "
                         f"({1 - self.alpha:.0%} CI {r['hr_low']:.2f}-{r['hr_high']:.2f}, p = {r['p_value']:.2g})")
        bad = self.ph_test.index[~self.ph_test["ph_ok"]].tolist()
        if bad:
            notes.append(f"proportional-hazards assumption doubtful for {bad}: consider stratifying on them")
        return Summary("Cox model of unsubscription (流失风险)",
                       (("hazard ratios", self.hazard_ratios), ("proportional-hazards test", self.ph_test)),
                       tuple(notes))

    def plot(self, ax=None):
        """Forest plot of hazard ratios with CIs (log scale)."""
        ax = get_ax(ax)
        h = self.hazard_ratios.iloc[::-1]
        y = np.arange(len(h))
        hr, lo, hi = (h[c].to_numpy(dtype=float) for c in ("hr", "hr_low", "hr_high"))
        ax.errorbar(hr, y, xerr=np.vstack([hr - lo, hi - hr]), fmt="o", capsize=3)
        ax.axvline(1.0, color="k", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yticks(y, [str(i) for i in h.index])
        ax.set_xlabel("hazard ratio (log scale)")
        ax.set_title("Cox hazard ratios")
        return ax


def cox(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    *,
    covariates: Sequence[str] | None = None,
    strata: Sequence[str] | None = None,
    penalizer: float = 0.0,
    alpha: float = 0.05,
    unit: Unit | None = None,
    sample_size: int | None = 50_000,
    seed: int = 0,
) -> CoxResult:
    """Cox proportional-hazards model with hazard ratios, CIs and the PH test (lifelines).

    Parameters
    ----------
    df : DataFrame
        One row per subscription, e.g. :func:`covariates` of :func:`durations`.
    duration_col, event_col : str
        Duration (>= 0) and event (0/1) columns.
    covariates : sequence of str, optional
        Numeric covariate columns; default every numeric column but the two above, ids
        and timestamps.
    strata : sequence of str, optional
        Columns to stratify the baseline hazard on (a fix when the PH test fails).
    penalizer : float, default 0.0
        L2 penalty (lifelines); try 0.01 when the fit does not converge.
    alpha : float, default 0.05
    unit : {"months", "days", "weeks", "years"}, optional
        Unit of ``duration_col``, kept in the result (default: the unit :func:`durations`
        recorded in ``df.attrs``, else months).
    sample_size : int or None, default 50_000
        Above this many rows the model is fitted on a stratified random sample of about
        this size (the same fraction of every event x strata cell), because lifelines'
        Newton steps and the PH test cost grows with every row (a 1M-row fit takes many
        minutes). ``None`` fits every row. The result's ``n_fitted`` and its summary say
        how many rows were fitted; ``n`` and ``events`` count the whole input.
    seed : int, default 0
        Seed of the sample.

    Returns
    -------
    CoxResult

    Raises
    ------
    SchemaError
        Missing columns, negative durations, events not 0/1, non-numeric covariates.
    ConvergenceError
        lifelines did not converge; the message lists what to try.
    """
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    check_frame(df, table="df", columns=[duration_col, event_col], min_rows=2)
    unit = _unit_of(df, unit)
    _check_surv(df[duration_col].to_numpy(dtype=float, na_value=np.nan), df[event_col].to_numpy(),
                table="df", dcol=duration_col, ecol=event_col)
    strata = list(strata or [])
    if covariates is None:
        skip = {duration_col, event_col, "user_id", *strata}
        covariates = [c for c in df.columns if c not in skip
                      and (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))]
    covariates = list(covariates)
    if not covariates:
        raise parameter_error("covariates", expected="at least one numeric covariate", found=[])
    check_numeric(df, covariates, table="df")
    check_frame(df, table="df", columns=strata)
    data = df[[duration_col, event_col, *covariates, *strata]].copy()
    data[event_col] = data[event_col].astype(int)
    for c in covariates:
        data[c] = data[c].astype(float)
    const = [c for c in covariates if data[c].nunique() < 2]
    if const:
        raise schema_error(table="df", column=const[0], expected="a covariate that varies",
                           found="a constant column", fix="drop it")
    if sample_size is not None and (isinstance(sample_size, bool) or not isinstance(sample_size, int)
                                    or sample_size < 2):
        raise parameter_error("sample_size", expected="an integer >= 2 or None", found=sample_size)
    n_all, events_all = len(data), int(data[event_col].sum())
    if sample_size is not None and n_all > sample_size:
        data = _stratified_sample(data, [event_col, *strata], sample_size, seed)
    cph = CoxPHFitter(penalizer=penalizer, alpha=alpha)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            cph.fit(data, duration_col=duration_col, event_col=event_col, strata=strata or None)
    except Exception as err:  # lifelines raises its own ConvergenceError and numpy LinAlgError
        if type(err).__name__ in ("ConvergenceError", "LinAlgError"):
            raise ConvergenceError(
                f"Cox model did not converge ({err}). Try: penalizer=0.01; drop covariates that "
                f"(almost) separate events; check for collinear covariates among {covariates}") from err
        raise
    s = cph.summary
    lo_col = [c for c in s.columns if c.startswith("exp(coef) lower")][0]
    hi_col = [c for c in s.columns if c.startswith("exp(coef) upper")][0]
    hr = pd.DataFrame({"hr": s["exp(coef)"], "hr_low": s[lo_col], "hr_high": s[hi_col],
                       "coef": s["coef"], "se": s["se(coef)"], "z": s["z"], "p_value": s["p"]})
    hr.index.name = "covariate"
    ph = proportional_hazard_test(cph, data, time_transform="rank").summary
    ph_tab = pd.DataFrame({"statistic": ph["test_statistic"].to_numpy(), "p_value": ph["p"].to_numpy()},
                          index=pd.Index([i if isinstance(i, str) else i[0] for i in ph.index], name="covariate"))
    ph_tab["ph_ok"] = ph_tab["p_value"] >= alpha
    return CoxResult(hazard_ratios=hr, ph_test=ph_tab, concordance=float(cph.concordance_index_),
                     n=n_all, events=events_all, alpha=alpha, fitter=cph, unit=unit,
                     n_fitted=len(data))


def _stratified_sample(data: pd.DataFrame, by: list[str], size: int, seed: int) -> pd.DataFrame:
    """About ``size`` rows: the same fraction of every ``by`` cell, at least one row of each."""
    frac = size / len(data)
    rng = np.random.default_rng(seed)
    keys = data.groupby(by, sort=False, observed=True).ngroup().to_numpy()
    order = rng.permutation(len(data))
    ranks = np.empty(len(data), dtype=np.int64)
    ks = keys[order]
    srt = np.argsort(ks, kind="stable")
    first = np.r_[0, np.flatnonzero(np.diff(ks[srt])) + 1]
    counts = np.diff(np.r_[first, len(ks)])
    pos = np.arange(len(ks)) - np.repeat(first, counts)
    ranks[order[srt]] = pos
    take = np.maximum(1, np.round(np.bincount(keys) * frac)).astype(np.int64)
    return data[ranks < take[keys]]
