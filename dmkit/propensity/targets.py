"""Inputs from the data contract in one call: :func:`build_features` (usage of a month, optionally
users' attributes), :func:`service_target` (subscribed at the month's end),
:func:`churn_target` ("unsubscribes within N months", G3) and :func:`fit_churn`.

Part of :mod:`dmkit.propensity`.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit._validation import check_scalar
from dmkit.contract.months import check_month, month_end
from dmkit.contract.province import ProvinceData
from dmkit.errors import DataNotFoundError, parameter_error, schema_error
from dmkit.propensity.scoring import DEFAULT_SAMPLE_SIZE, ModelKind, ScoringModel, fit
from dmkit.survival import service_rows

__all__ = [
    "build_features",
    "churn_target",
    "fit_churn",
    "service_target",
    "USAGE_FEATURES",
]


USAGE_FEATURES: tuple[str, ...] = (
    "arpu", "voice_minutes", "call_days", "local_incoming_calls", "sms_p2p", "sms_contacts",
    "sms_fee", "monternet_sms", "mms", "gprs_kb", "wap_visits", "recharges", "complaints",
    "crbt_changes", "music_downloads",
)
"""The numeric ``usage`` columns :func:`build_features` uses by default."""


_USER_ATTRIBUTES: tuple[str, ...] = ("age", "tenure_months", "student", "term_mms", "term_wap", "term_java",
                                     "term_fetion")
"""The ``users`` columns :func:`build_features` adds (besides the one-hot ``brand_*``)."""


def build_features(usage: pd.DataFrame | ProvinceData, users: pd.DataFrame | ProvinceData | None = None, *,
                   month: str, columns: tuple[str, ...] = USAGE_FEATURES) -> pd.DataFrame:
    """The feature matrix X of ``month``: usage columns, plus users' attributes when given.

    Parameters
    ----------
    usage : DataFrame or ProvinceData
        The ``usage`` table (validated), or a province (``dm.io.load_province``): then only
        ``user_id``, ``month`` and ``columns`` of ``month``'s rows are read
        (``pdata.read("usage", months=month, columns=...)``; from a lazily loaded province,
        the simulator cache, that is Parquet projection and row-group pushdown: one month of
        fifteen columns instead of the six months of ``pdata.usage``). Same X either way.
    users : DataFrame or ProvinceData, optional
        The ``users`` table, or a province (only ``user_id``, ``brand`` and the attributes
        are read); adds ``age``, ``tenure_months``, ``student``, the ``term_*``
        flags and one-hot ``brand_<name>`` columns (J2 used behaviour only: leave it out
        to reproduce that).
    month : str
        'YYYY-MM'.
    columns : tuple of str
        Usage columns to keep.

    Returns
    -------
    DataFrame
        Index ``user_id``; float/int/bool columns only, in the dtypes of the tables (the
        simulator's and :mod:`dmkit.io`'s lean int16/int32/float32 stay as they are).

    Notes
    -----
    Only the rows of ``month`` and the columns X is made of (``user_id``, ``month``,
    ``columns``; of ``users`` the attributes added) are checked against the contract: validating
    a six-month panel was most of the cost at 1,000,000 users (12.7 s of 16.5 s measured).
    Nothing of the other months is copied: the month's rows are found on the ``month``
    categories' codes (no string comparison of the panel's rows) and only the kept columns
    are taken; ``brand`` is compared through its codes as well.
    """
    check_month(month)
    if isinstance(usage, ProvinceData):
        usage = _read_usage(usage, month, columns)
    if isinstance(users, ProvinceData):
        users = users.read("users", columns=["user_id", *_USER_ATTRIBUTES, "brand"])
    if not isinstance(usage, pd.DataFrame):
        raise parameter_error("usage", expected="the usage table (a DataFrame) or a ProvinceData",
                              found=type(usage).__name__)
    if users is not None and not isinstance(users, pd.DataFrame):
        raise parameter_error("users", expected="the users table (a DataFrame), a ProvinceData or None",
                              found=type(users).__name__)
    if "month" not in usage.columns:
        schema.validate(usage, "usage", check_keys=False)  # names the missing column
    bad = [c for c in columns if c not in usage.columns]
    if bad:
        raise parameter_error("columns", expected="columns of the usage table", found=bad)
    rows = np.flatnonzero(_equals(usage["month"], month))
    if len(rows) == 0:
        months = sorted(usage["month"].unique())
        raise schema_error(table="usage", column="month", expected=f"rows for month {month!r}",
                           found=f"months {months[:3]}...{months[-3:]}" if len(months) > 6 else f"months {months}")
    everyone = len(rows) == len(usage)
    contract = {spec.name for spec in schema.COLUMNS["usage"]}
    kept = list(dict.fromkeys(["user_id", "month", *columns]))
    u = pd.DataFrame({c: usage[c].array if everyone else usage[c].array.take(rows) for c in kept},
                     copy=False)  # the month's rows of the kept columns only
    schema.validate(u, "usage", check_keys=False, columns=[c for c in kept if c in contract])
    index = pd.Index(u["user_id"].to_numpy(), name="user_id")
    X = pd.DataFrame({c: u[c].to_numpy() for c in columns}, index=index)
    del u
    if users is not None:
        attrs = _USER_ATTRIBUTES
        schema.validate(users, "users", columns=["user_id", *attrs, "brand"])
        row = pd.Index(users["user_id"].to_numpy()).get_indexer(index)  # users' keys are unique (validated)
        if (row < 0).any():
            raise schema_error(table="users", column="user_id", expected="a users row for every usage user",
                               found=f"{int((row < 0).sum())} usage users missing from the users table",
                               rows=list(index[row < 0][:5]))
        for c in attrs:
            X[c] = users[c].to_numpy()[row]
        for b in ("gotone", "mzone", "easyown"):
            X[f"brand_{b}"] = _equals(users["brand"], b, row)
    return X


def _read_usage(pdata: ProvinceData, month: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """``month``'s rows of ``user_id``, ``month`` and ``columns`` of the province's usage."""
    bad = [c for c in columns if not isinstance(c, str)]
    if bad:
        raise parameter_error("columns", expected="column names of the usage table", found=bad)
    try:
        return pdata.read("usage", months=month, columns=["user_id", "month", *columns])
    except DataNotFoundError as err:
        raise schema_error(table="usage", column="month", expected=f"rows for month {month!r}",
                           found="none") from err


def _equals(s: pd.Series, value: str, rows: np.ndarray | None = None) -> np.ndarray:
    """``s == value`` as a bool array (of ``s``'s rows ``rows`` when given); a categorical
    column is compared through its integer codes, not its values."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy()
        if rows is not None:
            codes = codes[rows]
        k = s.cat.categories.get_indexer([value])[0]
        return codes == k if k >= 0 else np.zeros(len(codes), dtype=bool)
    vals = s.to_numpy()
    if rows is not None:
        vals = vals[rows]
    return np.asarray(vals == value, dtype=bool)


def service_target(subscriptions: pd.DataFrame | ProvinceData, index: pd.Index, *, service: str,
                   month: str) -> pd.Series:
    """1 if the user holds ``service`` at the end of ``month`` (started before, not ended), else 0.

    Parameters
    ----------
    subscriptions : DataFrame or ProvinceData
        The ``subscriptions`` table, or a province: then its ``service`` column is read, and
        ``user_id``, ``start`` and ``end`` one at a time, each cut to ``service``'s rows at
        once (the same Series as from the four-column frame, without holding it).
    index : Index
        The user ids to label (e.g. ``X.index`` of :func:`build_features`); users without
        a subscription get 0.
    service : str
    month : str
        'YYYY-MM'.

    Returns
    -------
    Series
        int8 on ``index`` (user ids), name ``service``.

    Notes
    -----
    Only the subscriptions of ``service`` are checked against the contract, and of them only
    the columns read: ``user_id``, ``service``, ``start`` and ``end``. A province's projected
    read of those four (``pdata.read("subscriptions", columns=["user_id", "service", "start",
    "end"])``) is enough (at 1,000,000 users, 8.6 million subscriptions, reading the whole
    table raised the process's peak RSS by 0.43 GiB); from the province itself, one column at
    a time, less again (at 3,000,000 users, 25.7 million subscriptions, the four-column read
    raised the peak by 1.1 GiB).
    """
    end = month_end(month)
    if isinstance(subscriptions, ProvinceData):
        subscriptions = service_rows(subscriptions, service, _TARGET_COLUMNS)
    elif not isinstance(subscriptions, pd.DataFrame):
        raise parameter_error("subscriptions", expected="the subscriptions table (a DataFrame) or a ProvinceData",
                              found=type(subscriptions).__name__)
    s = _of_service(subscriptions, service)
    active = s[(s["start"] < end) & (s["end"].isna() | (s["end"] >= end))]
    y = pd.Series(np.isin(np.asarray(index), active["user_id"].to_numpy()).astype(np.int8),
                  index=index, name=service)
    return y


def churn_target(subscriptions: pd.DataFrame, *, service: str, as_of: str, horizon: int = 3) -> pd.Series:
    """G3's churn-warning target: among holders of ``service`` at the end of ``as_of``, 1 if
    they unsubscribe within ``horizon`` months after, else 0.

    Returns
    -------
    Series
        int8 indexed by user_id (holders only), name ``churn_<horizon>m``.
    """
    check_scalar(horizon, "horizon", kind=int, low=1, high=36)
    t0 = month_end(as_of, "as_of")
    t1 = month_end((pd.Period(as_of, "M") + horizon).strftime("%Y-%m"))
    s = _of_service(subscriptions, service)
    data_end = subscriptions[["start", "end"]].max().max()
    if pd.notna(data_end) and data_end < t1 - pd.Timedelta(days=1):
        warnings.warn(f"the data end at {data_end:%Y-%m-%d}, before the {horizon}-month horizon after "
                      f"{as_of}: late churn is missed; use an earlier as_of", stacklevel=2)
    held = s[(s["start"] < t0) & (s["end"].isna() | (s["end"] >= t0))]
    if len(held) == 0:
        raise schema_error(table="subscriptions", column="service",
                           expected=f"holders of {service!r} at the end of {as_of}", found="none")
    churned = held["end"].notna() & (held["end"] < t1)
    y = churned.groupby(held["user_id"].to_numpy()).max().astype(np.int8)
    y.index.name = "user_id"
    y.name = f"churn_{horizon}m"
    return y


_TARGET_COLUMNS: tuple[str, ...] = ("user_id", "service", "start", "end")
"""The ``subscriptions`` columns the targets read (a projected read of these is enough)."""


def _of_service(subscriptions: pd.DataFrame, service: str) -> pd.DataFrame:
    """The subscriptions of ``service``, their columns the targets read checked against the
    contract (the other services and columns are not)."""
    if "service" not in subscriptions.columns:
        schema.validate(subscriptions, "subscriptions", check_keys=False,
                        columns=_TARGET_COLUMNS)  # names the missing column
    s = subscriptions.loc[(subscriptions["service"] == service).to_numpy()]
    schema.validate(s if len(s) else subscriptions, "subscriptions", check_keys=False, columns=_TARGET_COLUMNS)
    return s


def fit_churn(usage: pd.DataFrame | ProvinceData, subscriptions: pd.DataFrame,
              users: pd.DataFrame | ProvinceData | None = None, *,
              service: str, as_of: str, horizon: int = 3, model: ModelKind = "hgb",
              test_size: float = 0.3, seed: int = 0, n_threads: int | None = None,
              sample_size: int | None = DEFAULT_SAMPLE_SIZE) -> ScoringModel:
    """Churn-warning model: features of ``as_of`` -> unsubscribes ``service`` within ``horizon`` months.

    Same API as :func:`fit` (the returned model scores P(churn)), ``sample_size`` included:
    the model learns from a stratified sample of at most that many holders' training rows.
    ``usage`` and ``users`` as in :func:`build_features` (a ProvinceData: only ``as_of``'s
    usage rows and the columns used are read).
    """
    y = churn_target(subscriptions, service=service, as_of=as_of, horizon=horizon)
    X = build_features(usage, users, month=as_of)
    common = X.index.intersection(y.index)
    return fit(X.loc[common], y.loc[common], model=model, test_size=test_size, seed=seed,
               n_threads=n_threads, sample_size=sample_size)
