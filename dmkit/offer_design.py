"""Offer design from a campaign's cells (case M's feedback stage, 回馈): what, how many, when, which channel.

A campaign that sends different offers to comparable users — one campaign code per
treatment cell, ``<campaign>|<level>|<level>|...`` — tells, per segment, which content,
how many items, which time and which channel sell best. :func:`fit` reads the cells from
the ``contacts`` table, fits one logistic response model per segment on the delivered
offers (treatment coding: the first level of each factor is the baseline), and returns
the model's key weights before (the prior) and after the feedback, with each segment's
best cell (推荐内容, 推荐数量, 推荐时间, 推荐渠道).

Example
-------
>>> seg = dm.offer_design.m_segments(pdata, month="2009-06")  # reads only the columns it uses
>>> camp = dm.synth.music_campaign.music_campaign(pdata, seg, seed=7)
>>> res = dm.offer_design.fit(camp.contacts, camp.segments, levels=dm.synth.music_campaign.LEVELS)
>>> res.plan          # per segment: content, items, slot, channel, predicted take-up
>>> res.weights       # before / after / se / change per segment and term
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit._results import Result, Summary, get_ax
from dmkit.contract.labels import in_labels
from dmkit.contract.months import check_month, month_end
from dmkit.contract.province import ProvinceData
from dmkit.errors import ConvergenceError, DataNotFoundError, parameter_error, schema_error

__all__ = ["FACTORS", "M_SEGMENTS", "OfferDesignResult", "fit", "m_segments", "parse_cells"]

FACTORS: tuple[str, ...] = ("channel", "content", "items", "slot")
"""Default factor names of the cell code ``<campaign>|channel|content|items|slot``."""

M_SEGMENTS: tuple[str, ...] = ("loyal", "familiar", "activation", "inclined", "other")
"""The categories of :func:`m_segments`, in this order."""


def m_segments(usage: pd.DataFrame | ProvinceData, subscriptions: pd.DataFrame | ProvinceData | None = None, *,
               month: str, service: str = "music", prospect_service: str = "crbt") -> pd.Series:
    """Case M's four marketing segments of every user in ``usage`` at ``month`` (others: ``"other"``).

    loyal: holds ``service`` at the end of the month and downloaded more than the median of
    the holders who downloaded; familiar: downloaded, up to that median; activation:
    downloaded nothing;
    inclined: holds ``prospect_service`` but not ``service``.

    Parameters
    ----------
    usage : DataFrame or ProvinceData
        The ``usage`` table (``user_id``, ``month`` and ``music_downloads`` are read), or a
        province: then only those three columns of ``month``'s rows are read
        (``pdata.read("usage", months=month, columns=...)``).
    subscriptions : DataFrame or ProvinceData, optional
        The ``subscriptions`` table (``user_id``, ``service``, ``start``, ``end`` are read), or
        a province; default: ``usage`` when it is a province. From a province the four columns
        are read one at a time and only the rows of ``service`` and ``prospect_service`` are
        kept of each (a province's subscriptions are ~8.6 rows a user: at 12,000,000 users
        one column at a time instead of all four at once).
    month : str
        'YYYY-MM'.
    service, prospect_service : str
        The service held by the first three segments, and the one that makes a non-holder
        "inclined".

    Returns
    -------
    Series
        Index user_id (``usage``'s month rows, in their order), name ``segment``, categorical
        with the categories ``"loyal"``, ``"familiar"``, ``"activation"``, ``"inclined"``,
        ``"other"`` (:data:`M_SEGMENTS`).

    Raises
    ------
    ParameterError
        ``month`` not in ``usage``; a province for ``usage`` or ``subscriptions`` that is
        not one, or no ``subscriptions`` with a usage frame.
    SchemaError
        A column read breaks the contract.

    Notes
    -----
    Only the columns read are checked against the contract: ``user_id`` and
    ``music_downloads`` of ``month``'s usage rows, ``user_id``, ``service``, ``start`` and
    ``end`` of the subscriptions of the two services. The group-bys are numpy on integer
    codes: holders by a boolean lookup (``np.isin``), no string per row.
    """
    check_month(month)
    if subscriptions is None:
        if not isinstance(usage, ProvinceData):
            raise parameter_error("subscriptions", expected="the subscriptions table or a ProvinceData",
                                  found=None, fix="pass pdata.subscriptions, or the province for both")
        subscriptions = usage
    uid, dl = _month_downloads(usage, month)
    sub_uid, sub_svc, active = _active_subscriptions(subscriptions, month, (service, prospect_service))
    hold = np.isin(uid, sub_uid[active & (sub_svc == 0)])
    prospect = np.isin(uid, sub_uid[active & (sub_svc == 1)])
    del sub_uid, sub_svc, active
    med = np.median(dl[hold & (dl > 0)]) if (hold & (dl > 0)).any() else np.inf
    codes = np.select([hold & (dl > med), hold & (dl > 0), hold, prospect], [0, 1, 2, 3], default=4).astype(np.int8)
    seg = pd.Categorical.from_codes(codes, categories=list(M_SEGMENTS))
    return pd.Series(seg, index=pd.Index(uid, name="user_id"), name="segment")


def _month_downloads(usage: pd.DataFrame | ProvinceData, month: str) -> tuple[np.ndarray, np.ndarray]:
    """user_id and music_downloads of ``month``'s usage rows (checked against the contract)."""
    cols = ["user_id", "month", "music_downloads"]
    if isinstance(usage, ProvinceData):
        try:
            usage = usage.read("usage", months=month, columns=cols)
        except DataNotFoundError as err:
            raise parameter_error("month", expected="a month of the usage table", found=month) from err
    elif not isinstance(usage, pd.DataFrame):
        raise parameter_error("usage", expected="the usage table (a DataFrame) or a ProvinceData",
                              found=type(usage).__name__)
    if "month" not in usage.columns:
        schema.validate(usage, "usage", check_keys=False)  # names the missing column
    at = in_labels(usage["month"], [month])  # on the month's codes: no string copy of the column
    if not at.any():
        raise parameter_error("month", expected="a month of the usage table", found=month)
    rows = pd.DataFrame({c: usage[c].to_numpy()[at] for c in cols if c in usage.columns})
    schema.validate(rows, "usage", check_keys=False, columns=cols)
    return rows["user_id"].to_numpy(), rows["music_downloads"].to_numpy()


def _active_subscriptions(subscriptions: pd.DataFrame | ProvinceData, month: str,
                          services: tuple[str, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of the subscriptions to ``services``: user_id, the service's position in ``services``
    and whether the subscription runs at the end of ``month``."""
    cols = ["user_id", "service", "start", "end"]
    if isinstance(subscriptions, ProvinceData):
        pdata = subscriptions
        svc = pdata.read("subscriptions", columns=["service"])["service"]
        keep = np.flatnonzero(in_labels(svc, services))
        part = {"service": svc.take(keep).to_numpy() if not isinstance(svc.dtype, pd.CategoricalDtype)
                else pd.Categorical.from_codes(svc.cat.codes.to_numpy()[keep], dtype=svc.dtype)}
        del svc
        for c in ("user_id", "start", "end"):  # one column at a time, each cut to the two services' rows
            part[c] = pdata.read("subscriptions", columns=[c])[c].to_numpy()[keep]
        subscriptions = pd.DataFrame({c: part.pop(c) for c in cols})
    elif isinstance(subscriptions, pd.DataFrame):
        missing = [c for c in cols if c not in subscriptions.columns]
        if missing:
            schema.validate(subscriptions, "subscriptions", check_keys=False, columns=cols)  # names them
        keep = np.flatnonzero(in_labels(subscriptions["service"], services))
        subscriptions = pd.DataFrame({c: subscriptions[c].to_numpy()[keep] for c in cols})
    else:
        raise parameter_error("subscriptions", expected="the subscriptions table (a DataFrame) or a ProvinceData",
                              found=type(subscriptions).__name__)
    if len(subscriptions):
        schema.validate(subscriptions, "subscriptions", check_keys=False, columns=cols)
    t_end = np.datetime64(month_end(month), "ns")
    end = subscriptions["end"].to_numpy(dtype="datetime64[ns]")
    active = (subscriptions["start"].to_numpy(dtype="datetime64[ns]") < t_end) & (np.isnat(end) | (end >= t_end))
    svc = np.where(in_labels(subscriptions["service"], [services[0]]), 0, 1).astype(np.int8)
    return subscriptions["user_id"].to_numpy(), svc, active


def parse_cells(contacts: pd.DataFrame, *, factors: Sequence[str] = FACTORS, campaign: str | None = None) -> pd.DataFrame:
    """The offer of each contact, read from its cell code.

    Parameters
    ----------
    contacts : DataFrame
        The ``contacts`` table; rows whose campaign_id has ``len(factors)`` ``|``-separated
        levels after the campaign name are read, target group only.
    factors : sequence of str
        Names of the levels, in the code's order.
    campaign : str, optional
        Keep only cells of this campaign (the part before the first ``|``).

    Returns
    -------
    DataFrame
        user_id, campaign, one column per factor (numbers where every level is a number),
        delivered, took (subscribed).

    Raises
    ------
    SchemaError
        No contact has a cell code with that many levels.
    """
    schema.validate(contacts, "contacts", check_keys=False)
    factors = list(factors)
    # string work on the distinct codes only (a campaign has few cells, hundreds of thousands
    # of contacts): each row takes its code's parts by its factorized code
    codes, uniq = pd.factorize(contacts["campaign_id"], use_na_sentinel=True)
    names = pd.Series(pd.Index(uniq).astype(str), dtype=object)
    if (codes < 0).any():  # a null id reads as the string 'nan', as astype(str) gives it
        codes = np.where(codes < 0, len(names), codes)
        names = pd.concat([names, pd.Series(["nan"], dtype=object)], ignore_index=True)
    cell = (names.str.count(r"\|") == len(factors)).to_numpy()
    if campaign is not None:
        cell &= (names.str.split("|", n=1).str[0] == campaign).to_numpy()
    ok = cell[codes] & (contacts["group"] == "target").to_numpy(dtype=bool)
    if not ok.any():
        raise schema_error(table="contacts", column="campaign_id",
                           expected=f"cell codes '<campaign>|{'|'.join(factors)}'" +
                                    (f" of campaign {campaign!r}" if campaign else ""),
                           found=f"codes like {sorted(names.iloc[np.unique(codes)])[:3]}")
    rows = codes[ok]
    used = np.unique(rows)  # the codes of the kept rows
    p = names.iloc[used].str.split("|", expand=True, regex=False).set_axis(used)
    pos = np.searchsorted(used, rows)  # each kept row's position among the used codes
    c = contacts[ok]
    out = pd.DataFrame({"user_id": c["user_id"].to_numpy(), "campaign": p[0].to_numpy()[pos]})
    for i, f in enumerate(factors, start=1):
        v = p[i]
        num = pd.to_numeric(v, errors="coerce")
        out[f] = (num.to_numpy() if num.notna().all() else v.to_numpy())[pos]
    out["delivered"] = c["delivered"].to_numpy(dtype=bool)
    out["took"] = c["subscribed_at"].notna().to_numpy()
    return out


@dataclass(frozen=True)
class OfferDesignResult(Result):
    """Per-segment response models of a cell campaign (see :func:`fit`).

    Attributes
    ----------
    weights : DataFrame
        Index (segment, term); columns before (prior), after (estimate), se, change.
    plan : DataFrame
        Index segment: the best cell's levels (one column per factor), p_after (its
        predicted take-up), observed (take-up of the delivered offers in that cell), n,
        and the prior's best cell as ``<factor>_before`` columns.
    cells : DataFrame
        Observed take-up per segment and cell: n (delivered), took, rate.
    levels : dict
    """

    weights: pd.DataFrame
    plan: pd.DataFrame
    cells: pd.DataFrame
    levels: dict

    def to_frame(self) -> pd.DataFrame:
        """The plan."""
        return self.plan.copy()

    def summary(self) -> Summary:
        """Plan per segment and the key weights before and after the feedback."""
        return Summary("Offer design per segment (推荐内容, 数量, 时间, 渠道)",
                       (("plan", self.plan), ("key weights (log-odds)", self.weights)),
                       ("weights: effect of each level against the baseline (first level) on the log-odds "
                        "of take-up, per segment; before = the prior, after = fitted on the delivered offers",))

    def plot(self, ax=None):
        """Key weights before and after the feedback, per segment and term."""
        ax = get_ax(ax, figsize=(10, 4.5))
        w = self.weights.drop(index="const", level="term", errors="ignore")
        x = np.arange(len(w))
        ax.bar(x - 0.2, w["before"], 0.4, label="before (prior)", color="lightgrey")
        ax.bar(x + 0.2, w["after"], 0.4, yerr=1.96 * w["se"], label="after feedback", color="tab:blue")
        ax.set_xticks(x, [f"{s}: {t}" for s, t in w.index], rotation=90, fontsize=7)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_ylabel("log-odds weight")
        ax.set_title("Key weights of the response model, before and after the campaign")
        ax.legend(fontsize=8)
        return ax


def _terms(levels: Mapping[str, Sequence]) -> list[str]:
    return [f"{f}={v}" for f, lv in levels.items() for v in list(lv)[1:]]


def _logit_counts(x: np.ndarray, took: np.ndarray, n: np.ndarray, *, maxiter: int = 200,
                  tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray, bool]:
    """Logistic regression on grouped counts (``took`` of ``n`` per row of ``x``) by Newton's
    method: the maximum-likelihood weights of a logit on the individual offers, their
    standard errors (inverse information) and whether the steps converged."""
    beta = np.zeros(x.shape[1])
    converged = False
    for _ in range(maxiter):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        info = x.T @ (x * (n * p * (1 - p))[:, None])
        step = np.linalg.solve(info, x.T @ (took - n * p))
        beta = beta + step
        if not np.isfinite(beta).all():
            break
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    p = 1.0 / (1.0 + np.exp(-(x @ beta)))
    info = x.T @ (x * (n * p * (1 - p))[:, None])
    return beta, np.sqrt(np.diag(np.linalg.inv(info))), converged


def _design(df: pd.DataFrame, levels: Mapping[str, Sequence]) -> pd.DataFrame:
    x = pd.DataFrame({"const": 1.0}, index=df.index)
    for f, lv in levels.items():
        for v in list(lv)[1:]:
            x[f"{f}={v}"] = (df[f] == v).astype(float)
    return x


def fit(
    contacts: pd.DataFrame,
    segments: pd.Series,
    *,
    factors: Sequence[str] = FACTORS,
    levels: Mapping[str, Sequence] | None = None,
    prior: Mapping[str, Mapping[str, float]] | None = None,
    campaign: str | None = None,
) -> OfferDesignResult:
    """Fit one logistic response model per segment on a cell campaign and plan the best offer.

    Parameters
    ----------
    contacts : DataFrame
        The ``contacts`` table with cell codes (see :func:`parse_cells`).
    segments : Series
        Segment of each user (index user_id); contacts of users without one are dropped.
    factors : sequence of str
        The cell code's level names.
    levels : mapping, optional
        Factor -> its levels, the baseline first (default: each factor's sorted levels).
    prior : mapping, optional
        Segment -> {term: weight} before the feedback (default: every weight 0 — before any
        response every cell is judged alike). Terms are ``"<factor>=<level>"``.
    campaign : str, optional

    Returns
    -------
    OfferDesignResult

    Raises
    ------
    SchemaError
        No cell codes; a segment without delivered offers in some level.
    ParameterError
        ``levels`` that leave out a level seen in the data, or name unknown factors.
    ConvergenceError
        A segment's model does not converge (e.g. a level with no take-up at all).
    """
    d = parse_cells(contacts, factors=factors, campaign=campaign)
    if not isinstance(segments, pd.Series):
        raise parameter_error("segments", expected="a Series of segments indexed by user_id",
                              found=type(segments).__name__)
    d["segment"] = segments.reindex(d["user_id"]).to_numpy()
    d = d[d["segment"].notna() & d["delivered"]]
    if levels is None:
        levels = {f: sorted(d[f].unique()) for f in factors}
    levels = {f: list(v) for f, v in levels.items()}
    unknown = [f for f in levels if f not in factors]
    if unknown:
        raise parameter_error("levels", expected=f"factors among {list(factors)}", found=unknown)
    for f in factors:
        extra = sorted(set(d[f].unique()) - set(levels[f]), key=str)
        if extra:
            raise parameter_error("levels", expected=f"every level of {f!r} seen in the cells",
                                  found=f"{levels[f]}; the data also has {extra}")
    terms = _terms(levels)
    rows, plans, cell_rows = [], [], []
    grid = pd.DataFrame(list(product(*levels.values())), columns=list(levels))
    for seg, g in d.groupby("segment", sort=True):
        for f in factors:
            missing = [v for v in levels[f] if not (g[f] == v).any()]
            if missing:
                raise schema_error(table="contacts", column="campaign_id",
                                   expected=f"delivered offers of every {f} level in segment {seg!r}",
                                   found=f"none with {missing}")
        # the design is a function of the cell alone: the logistic model is fitted on the
        # cells' counts (the same likelihood as a logit on the contacts)
        cr = g.groupby(list(factors), observed=True, sort=True)["took"].agg(["size", "sum"]).rename(
            columns={"size": "n", "sum": "took"}).reset_index()
        X = _design(cr, levels)
        n_cell, took_cell = cr["n"].to_numpy(float), cr["took"].to_numpy(float)
        try:
            params, bse, converged = _logit_counts(X.to_numpy(), took_cell, n_cell)
        except (np.linalg.LinAlgError, ValueError) as err:
            raise ConvergenceError(f"segment {seg!r}: the response model did not fit ({err}); merge levels or "
                                   "segments with few take-ups") from err
        if not np.isfinite(params).all() or not converged:
            raise ConvergenceError(f"segment {seg!r}: the response model did not converge; a level may have no "
                                   "take-up at all: merge it with another")
        params, bse = pd.Series(params, index=X.columns), pd.Series(bse, index=X.columns)
        before = dict((prior or {}).get(seg, {}))
        for t in ["const", *terms]:
            b = float(before.get(t, 0.0)) if t != "const" else float("nan")
            rows.append((seg, t, b, float(params[t]), float(bse[t])))
        xg = _design(grid, levels)
        p_after = 1.0 / (1.0 + np.exp(-(xg.to_numpy() @ params.to_numpy())))
        w_before = np.array([float(before.get(t, 0.0)) for t in terms])
        score_before = xg[terms].to_numpy() @ w_before
        best, best_b = int(np.argmax(p_after)), int(np.argmax(score_before))
        cell = grid.iloc[best]
        sel = np.ones(len(g), dtype=bool)
        for f in factors:
            sel &= (g[f] == cell[f]).to_numpy()
        plans.append({"segment": seg, **cell.to_dict(), "p_after": float(p_after[best]),
                      "observed": float(g.loc[sel, "took"].mean()) if sel.any() else float("nan"),
                      "n": int(sel.sum()), **{f"{f}_before": grid.iloc[best_b][f] for f in factors}})
        cell_rows.append(cr.assign(segment=seg, rate=cr["took"] / cr["n"]))
    weights = pd.DataFrame(rows, columns=["segment", "term", "before", "after", "se"]).set_index(["segment", "term"])
    weights["change"] = weights["after"] - weights["before"]
    plan = pd.DataFrame(plans).set_index("segment")
    cells = pd.concat(cell_rows, ignore_index=True).set_index(["segment", *factors])
    return OfferDesignResult(weights=weights, plan=plan, cells=cells, levels=levels)
