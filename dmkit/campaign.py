"""Campaign evaluation and SP monitoring (cases J3, G4, M).

* :func:`funnel` — sent → delivered → replied → valid replies → subscribed →
  unsubscribed → kept, per day and overall, with J3's rates.
* :func:`score_contacts` — a model's score of each contacted user (only they are scored).
* :func:`uplift` — target versus control group: rates, absolute and relative uplift
  with confidence intervals and a test; uplift by score decile and the Qini
  coefficient (scikit-uplift) when a model score is attached.
* :func:`compare` — G4's table of covered / succeeded / rate against a baseline rate.
* :func:`monitor_sps` — M's monitoring: SPs that boost charts (bursts of repeated
  downloads from few users) or order services without consent (SP-pushed orders,
  quick unsubscriptions, complaints), with the evidence per SP.

Two views of a funnel by day
----------------------------
J3's daily table counts each event **on the date it happens**: the "subscribed"
column of 10 June (no sends that day) holds replies to the offers of 6–9 June. That is
``by="event_date"`` (the default). ``by="send_date"`` groups the same events by the
day the offer was sent (send cohorts): each cohort's eventual replies, subscriptions
and unsubscriptions, which is the view to compare time windows or send days.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_choice, check_frame, check_scalar
from dmkit.contract.months import check_month
from dmkit.errors import parameter_error, schema_error
from dmkit.qini import qini_coefficient, uplift_at_k

__all__ = [
    "check_contacts",
    "FUNNEL_EVENTS",
    "funnel",
    "funnel_rates",
    "FunnelResult",
    "score_contacts",
    "uplift",
    "UpliftResult",
    "compare",
    "CompareResult",
    "monitor_sps",
    "SPMonitorResult",
]


# --------------------------------------------------------------------------- contacts
def check_contacts(contacts: pd.DataFrame) -> pd.DataFrame:
    """Validate a contact log: the data contract, then the order of events.

    Raises
    ------
    SchemaError
        Contract violations; a reply or subscription before the send; an
        unsubscription before the subscription or without one.
    """
    schema.validate(contacts, "contacts")
    sent = contacts["sent_at"]
    checks = (
        ("subscribed_at", contacts["subscribed_at"] < sent, "subscribed_at >= sent_at",
         "subscriptions before sends"),
        ("replied_at", contacts["replied_at"] < sent, "replied_at >= sent_at", "replies before sends"),
        ("unsubscribed_at", contacts["unsubscribed_at"] < contacts["subscribed_at"],
         "unsubscribed_at >= subscribed_at", "unsubscriptions before subscriptions"),
        ("unsubscribed_at", contacts["unsubscribed_at"].notna() & contacts["subscribed_at"].isna(),
         "an unsubscription only after a subscription", "unsubscriptions without a subscription"),
    )
    for col, bad, expected, what in checks:
        bad = bad.to_numpy()
        if bad.any():
            pos = np.flatnonzero(bad)
            rows = contacts.iloc[pos[:5]][["campaign_id", "user_id", "step"]].to_dict("records")
            raise schema_error(table="contacts", column=col, expected=expected,
                               found=f"{len(pos)} {what}", rows=rows,
                               fix="check the time zone and the join of the reply log to the send log")
    return contacts


def _select(contacts: pd.DataFrame, campaign_id: str | None, step: int | None) -> pd.DataFrame:
    c = contacts
    if campaign_id is not None:
        c = c[c["campaign_id"] == campaign_id]
    if step is not None:
        c = c[c["step"] == step]
    if len(c) == 0:
        raise parameter_error("campaign_id", expected="a campaign (and step) present in contacts",
                              found=(campaign_id, step),
                              fix=f"choose among {sorted(contacts['campaign_id'].astype(str).unique())[:8]}")
    return c


# --------------------------------------------------------------------------- funnel
FUNNEL_EVENTS: dict[str, tuple[str, str | None]] = {
    "sent": ("sent_at", None),
    "delivered": ("sent_at", "delivered"),
    "replied": ("replied_at", None),
    "valid_replies": ("replied_at", "reply_valid"),
    "subscribed": ("subscribed_at", None),
    "unsubscribed": ("unsubscribed_at", None),
}
"""Funnel stage -> (timestamp column of ``contacts`` that dates it, boolean column that must
also hold, or None). A stage counts the target rows whose timestamp is set (and whose
condition holds). Other engines (Spark SQL) build the same counts from this table and
finish with :func:`funnel_rates`."""
_COUNTS = tuple(FUNNEL_EVENTS)


def funnel_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """Add ``kept`` (if missing) and the funnel's rates to a frame of the six stage counts.

    Columns added: ``kept`` = subscribed − unsubscribed, ``delivery_rate``,
    ``response_rate``, ``valid_reply_rate``, ``subscription_rate``, ``retention`` (see
    :class:`FunnelResult`); a zero denominator gives NaN. Returns a new frame.
    """
    check_frame(counts, table="counts", columns=list(_COUNTS), min_rows=0)
    df = counts.copy()
    if "kept" not in df:
        df["kept"] = df["subscribed"] - df["unsubscribed"]
    return _add_rates(df)


def _add_rates(df: pd.DataFrame) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        df["delivery_rate"] = df["delivered"] / df["sent"].where(df["sent"] > 0)
        df["response_rate"] = df["replied"] / df["delivered"].where(df["delivered"] > 0)
        df["valid_reply_rate"] = df["valid_replies"] / df["replied"].where(df["replied"] > 0)
        df["subscription_rate"] = df["subscribed"] / df["delivered"].where(df["delivered"] > 0)
        df["retention"] = df["kept"] / df["subscribed"].where(df["subscribed"] > 0)
    return df


@dataclass(frozen=True)
class FunnelResult(Result):
    """A campaign funnel per day and overall (J3).

    Attributes
    ----------
    daily : DataFrame
        One row per campaign_id, step and date. Columns: ``campaign_id``, ``step``,
        ``date``, ``sent``, ``delivered``, ``replied``, ``valid_replies``, ``subscribed``,
        ``unsubscribed``, and — for ``by="event_date"`` — ``kept_cumulative``
        (running subscribed − unsubscribed); for ``by="send_date"`` — ``kept`` (the
        cohort's subscribers still subscribed) and the cohort's rates.
    overall : DataFrame
        One row per campaign_id and step: the six counts, ``kept`` (subscribed −
        unsubscribed), ``delivery_rate`` (delivered / sent), ``response_rate`` (replied /
        delivered), ``valid_reply_rate`` (valid / replied), ``subscription_rate``
        (subscribed / delivered), ``retention`` (kept / subscribed).
    by : str
        "event_date" or "send_date".
    """

    daily: pd.DataFrame
    overall: pd.DataFrame
    by: str

    def to_frame(self) -> pd.DataFrame:
        """The daily table."""
        return self.daily

    def summary(self) -> Summary:
        """Daily and overall tables."""
        return Summary(f"Campaign funnel by {self.by.replace('_', ' ')} (营销活动效果)",
                       (("daily", self.daily.set_index(["campaign_id", "step", "date"])),
                        ("overall", self.overall.set_index(["campaign_id", "step"]))),
                       ("rates of replies and subscriptions are of delivered messages; "
                        "retention = kept / subscribed",))

    def plot(self, ax=None):
        """Subscribed and unsubscribed per day (bars) and subscribers kept (line), on a date axis.

        Days without events keep their place on the axis (a gap, not a skipped category);
        one legend for both axes sits below the plot, clear of the bars.
        """
        import matplotlib.dates as mdates

        ax = get_ax(ax)
        d = self.daily.groupby("date")[["subscribed", "unsubscribed"]].sum()
        days = pd.DatetimeIndex(pd.to_datetime(d.index)).normalize()
        half = pd.Timedelta(hours=4.8)  # bars 0.4 day wide, side by side around the day
        ax.bar(days - half, d["subscribed"], 0.4, label="subscribed")
        ax.bar(days + half, d["unsubscribed"], 0.4, label="unsubscribed")
        ax.set_ylabel("users")
        kept = (d["subscribed"] - d["unsubscribed"]).cumsum() if self.by == "event_date" \
            else (d["subscribed"] - d["unsubscribed"])
        ax2 = ax.twinx()
        ax2.plot(days, kept.to_numpy(), "k.-", label="kept (cumulative)" if self.by == "event_date" else "kept")
        ax2.set_ylabel("kept")
        ax2.set_ylim(bottom=0)
        locator = mdates.AutoDateLocator(minticks=3, maxticks=12)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
        ax.set_title(f"Funnel by {self.by.replace('_', ' ')}")
        return ax


def _check_sent(target: pd.DataFrame) -> None:
    """Refuse target rows with a reply, subscription or delivery but no ``sent_at``.

    A funnel stage is a subset of the one before: such a row would count as replied or
    subscribed but not sent (a response rate above 100 % in a small campaign). Control
    rows are not sent by design and are not checked here.
    """
    unsent = target["sent_at"].isna()
    for col, what in (("subscribed_at", "subscriptions"), ("replied_at", "replies"),
                      ("delivered", "deliveries")):
        bad = (unsent & (target[col].fillna(False).astype(bool) if col == "delivered"
                         else target[col].notna())).to_numpy()
        if bad.any():
            pos = np.flatnonzero(bad)
            rows = target.iloc[pos[:5]][["campaign_id", "user_id", "step"]].to_dict("records")
            raise schema_error(
                table="contacts", column=col, expected=f"target rows with {col} set only when sent_at is set",
                found=f"{len(pos)} {what} of target rows without sent_at", rows=rows,
                fix="a target that was never sent cannot respond to the offer: set its sent_at from the "
                    "send log, or drop the unsent rows (contacts[contacts['sent_at'].notna()]) to count "
                    "only the offers sent; to measure what unsent users did anyway, make them control rows")


def funnel(
    contacts: pd.DataFrame,
    *,
    campaign_id: str | None = None,
    step: int | None = None,
    by: Literal["event_date", "send_date"] = "event_date",
    as_of: str | pd.Timestamp | None = None,
) -> FunnelResult:
    """Sent → delivered → replied → valid → subscribed → unsubscribed → kept, per day and overall.

    Parameters
    ----------
    contacts : DataFrame
        The ``contacts`` table; only ``group == "target"`` rows enter the funnel (control
        rows are for :func:`uplift`).
    campaign_id, step : optional
        Restrict to one campaign and/or step; otherwise one funnel per (campaign_id, step).
    by : {"event_date", "send_date"}, default "event_date"
        Count each event on the day it happened (J3's table), or by the day its offer was
        sent (send cohorts). ``sent`` and ``delivered`` are counted on the send day in both.
    as_of : timestamp, optional
        Ignore replies, subscriptions and unsubscriptions after this moment (J3 reported
        retention "three days after the tournament opened").

    Returns
    -------
    FunnelResult
        ``daily`` and ``overall`` tables (columns in :class:`FunnelResult`).

    Raises
    ------
    SchemaError
        Contract violations; subscriptions or replies before sends; unsubscriptions
        before subscriptions; a target row with a subscription, reply or delivery but no
        ``sent_at`` (it would count as subscribed but not sent: set its send time or drop
        the unsent rows first).
    """
    check_contacts(contacts)
    check_choice(by, "by", ["event_date", "send_date"])
    c = _select(contacts, campaign_id, step)
    c = c[c["group"] == "target"]
    if len(c) == 0:
        raise schema_error(table="contacts", column="group", expected="rows of the target group",
                           found="only control rows")
    _check_sent(c)
    rep, sub, uns = c["replied_at"], c["subscribed_at"], c["unsubscribed_at"]
    if as_of is not None:
        t = pd.Timestamp(as_of)
        rep, sub, uns = rep.where(rep <= t), sub.where(sub <= t), uns.where(uns <= t)
    keys = ["campaign_id", "step"]
    base = c[keys].reset_index(drop=True)
    stamps = {"sent_at": c["sent_at"], "replied_at": rep, "subscribed_at": sub, "unsubscribed_at": uns}
    events = {name: stamps[col] if cond is None else stamps[col].where(c[cond])
              for name, (col, cond) in FUNNEL_EVENTS.items()}
    if by == "send_date":
        day = c["sent_at"].dt.floor("D").reset_index(drop=True)
        frame = base.assign(date=day)
        for name, ts in events.items():
            frame[name] = ts.notna().to_numpy()
        daily = frame.groupby(keys + ["date"], observed=True)[list(_COUNTS)].sum().reset_index()
        daily["kept"] = daily["subscribed"] - daily["unsubscribed"]
        daily = _add_rates(daily)
    else:
        parts = []
        for name, ts in events.items():
            ok = ts.notna().to_numpy()
            f = base[ok].assign(date=ts[ok].dt.floor("D").to_numpy())
            parts.append(f.groupby(keys + ["date"], observed=True).size().rename(name))
        daily = pd.concat(parts, axis=1).fillna(0).astype(np.int64).sort_index().reset_index()
        daily["kept_cumulative"] = (daily["subscribed"] - daily["unsubscribed"]).groupby(
            [daily[k] for k in keys], observed=True).cumsum()
    for k in _COUNTS:
        daily[k] = daily[k].astype(np.int64)
    tot = base.assign(**{n: ts.notna().to_numpy() for n, ts in events.items()})
    overall = tot.groupby(keys, observed=True)[list(_COUNTS)].sum().astype(np.int64).reset_index()
    overall["kept"] = overall["subscribed"] - overall["unsubscribed"]
    overall = _add_rates(overall)
    return FunnelResult(daily=daily, overall=overall, by=by)


# --------------------------------------------------------------------------- scores
def score_contacts(contacts: pd.DataFrame, model, features: pd.DataFrame, *, name: str = "score",
                   fill: float = 0.0) -> pd.DataFrame:
    """``contacts`` with a model's score of each contacted user, for :func:`uplift`'s ``score=``.

    Only the distinct users of ``contacts`` are scored — ``model.target_proba`` on their
    rows of ``features`` (scored in chunks) — not every user the features hold: the values
    are those of ``model.target_proba(features).reindex(contacts["user_id"]).fillna(fill)``.
    Measured at 1,000,000 users (Guangdong 2008-12, the news-type model of
    ``notebooks/jiangsu_campaign.ipynb``): 400,000 distinct contacted users (544,372
    contacts) scored instead of 1,000,000.

    Parameters
    ----------
    contacts : DataFrame
        A contact log with ``user_id`` (e.g. the ``contacts`` table).
    model : fitted model with ``target_proba(X)``
        E.g. a :class:`dmkit.propensity.ScoringModel`; ``target_proba`` returns P(target) as
        a Series on X's index.
    features : DataFrame
        The model's features on a unique ``user_id`` index (:func:`dmkit.propensity.build_features`).
    name : str, default "score"
        The new column (replaces a column of that name).
    fill : float, default 0.0
        Score of the contacted users without a features row.

    Returns
    -------
    DataFrame
        A new frame: ``contacts``' columns plus ``name`` (float64), in ``contacts``' order.

    Raises
    ------
    SchemaError
        ``contacts`` without ``user_id``; ``features`` with duplicated user ids.
    ParameterError
        ``model`` without ``target_proba``.
    """
    check_frame(contacts, table="contacts", columns=["user_id"], min_rows=0)
    check_frame(features, table="features", min_rows=0)
    if not callable(getattr(model, "target_proba", None)):
        raise parameter_error("model", expected="a fitted model with target_proba(X) (a ScoringModel)",
                              found=type(model).__name__)
    if not features.index.is_unique:
        dup = features.index[features.index.duplicated()].unique()
        raise schema_error(table="features", column="user_id", expected="one features row per user",
                           found=f"{len(dup)} duplicated user ids", rows=list(dup[:5]),
                           fix="build the features of one month (build_features)")
    ids = contacts["user_id"].to_numpy()
    users, at = np.unique(ids, return_inverse=True)
    pos = features.index.get_indexer(users)
    have = pos >= 0
    score = np.full(len(users), float(fill))
    if have.any():
        score[have] = model.target_proba(features.iloc[pos[have]]).to_numpy(dtype=float)
    return contacts.assign(**{name: score[at]})


# --------------------------------------------------------------------------- uplift
@dataclass(frozen=True)
class UpliftResult(Result):
    """Target versus control (intention to treat).

    Attributes
    ----------
    overall : DataFrame
        One row. Columns: ``n_target``, ``n_control``, ``rate_target``, ``rate_control``,
        ``uplift`` (absolute, rate_target − rate_control), ``uplift_low``, ``uplift_high``
        (Newcombe CI), ``relative_uplift`` (rate_target / rate_control − 1),
        ``relative_low``, ``relative_high`` (log-ratio CI), ``statistic``, ``p_value``
        (two-sided Agresti-Caffo test of equal proportions).
    by_bin : DataFrame or None
        With a score: one row per score bin (1 = highest): ``bin``, ``n_target``,
        ``rate_target``, ``n_control``, ``rate_control``, ``uplift``.
    qini_auc : float or None
        Normalised Qini coefficient of the score (:func:`dmkit.qini.qini_coefficient`,
        equal to scikit-uplift's ``qini_auc_score``).
    uplift_at_top : float or None
        Uplift in the top bin share (:func:`dmkit.qini.uplift_at_k`, strategy "by_group").
    """

    overall: pd.DataFrame
    by_bin: pd.DataFrame | None
    qini_auc: float | None
    uplift_at_top: float | None
    alpha: float

    def to_frame(self) -> pd.DataFrame:
        """The overall row."""
        return self.overall

    def summary(self) -> Summary:
        """Overall and per-bin tables."""
        tabs = [("target vs control", self.overall)]
        if self.by_bin is not None:
            tabs.append(("by score bin", self.by_bin.set_index("bin")))
        o = self.overall.iloc[0]
        notes = [f"uplift {o['uplift']:.3%} ({1 - self.alpha:.0%} CI {o['uplift_low']:.3%} to "
                 f"{o['uplift_high']:.3%}), p = {o['p_value']:.3g}"]
        if self.qini_auc is not None:
            notes.append(f"Qini coefficient of the score {self.qini_auc:.3f}")
        return Summary("Uplift: target vs control (对照组)", tuple(tabs), tuple(notes))

    def plot(self, ax=None):
        """Rates by score bin (target vs control), or the two overall rates with CIs."""
        ax = get_ax(ax)
        if self.by_bin is not None:
            b = self.by_bin
            ax.bar(b["bin"] - 0.2, b["rate_target"], 0.4, label="target")
            ax.bar(b["bin"] + 0.2, b["rate_control"], 0.4, label="control")
            ax.set_xlabel("score bin (1 = highest)")
            ax.set_title("Take-up by score bin")
        else:
            o = self.overall.iloc[0]
            ax.bar([0, 1], [o["rate_target"], o["rate_control"]], color=["tab:blue", "tab:orange"])
            ax.set_xticks([0, 1], ["target", "control"])
            ax.set_title(f"Uplift {o['uplift']:.2%} (p = {o['p_value']:.2g})")
        ax.set_ylabel("take-up rate")
        ax.legend() if self.by_bin is not None else None
        return ax


def uplift(
    contacts: pd.DataFrame,
    *,
    campaign_id: str | None = None,
    step: int | None = None,
    outcome: Literal["subscribed", "replied"] = "subscribed",
    score: str | None = None,
    n_bins: int = 10,
    alpha: float = 0.05,
) -> UpliftResult:
    """Target vs control take-up, with uplift, CIs and a test; by score bin when ``score`` is given.

    Parameters
    ----------
    contacts : DataFrame
        The ``contacts`` table with both groups for one campaign step (choose with
        ``campaign_id`` / ``step`` when it holds several).
    outcome : {"subscribed", "replied"}
        What counts as take-up (``subscribed_at`` / ``replied_at`` set).
    score : str, optional
        Name of a column of ``contacts`` holding a model score; adds uplift by score bin
        and the Qini coefficient (scikit-uplift).
    n_bins : int, default 10
    alpha : float, default 0.05

    Returns
    -------
    UpliftResult

    Raises
    ------
    SchemaError
        Contract violations, no control group, or a score column with missing values.
    ParameterError
        Several campaigns/steps without a choice.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    check_contacts(contacts)
    check_choice(outcome, "outcome", ["subscribed", "replied"])
    check_scalar(alpha, "alpha", kind=float, low=0, high=0.5, low_inclusive=False)
    c = _select(contacts, campaign_id, step)
    pairs = c[["campaign_id", "step"]].drop_duplicates()
    if len(pairs) > 1:
        raise parameter_error("campaign_id", expected="one campaign step (pass campaign_id= and step=)",
                              found=f"{len(pairs)} campaign steps",
                              fix=f"choose among {pairs.head(6).to_dict('records')}")
    g = c["group"].astype(str).to_numpy()
    treat = (g == "target")
    if treat.all():
        raise schema_error(table="contacts", column="group", expected="target and control rows",
                           found="no control group", fix="hold out a random control group when sending")
    y = c[f"{outcome}_at"].notna().to_numpy()
    k1, n1, k0, n0 = int(y[treat].sum()), int(treat.sum()), int(y[~treat].sum()), int((~treat).sum())
    dlo, dhi = confint_proportions_2indep(k1, n1, k0, n0, method="newcomb", compare="diff", alpha=alpha)
    if k0 > 0 and k1 > 0:
        rlo, rhi = confint_proportions_2indep(k1, n1, k0, n0, method="log", compare="ratio", alpha=alpha)
    else:  # no take-up in a group: the ratio is undefined
        rlo, rhi = np.nan, np.nan
    if min(k0, k1) < 5:
        warnings.warn(f"few take-ups (target {k1}, control {k0}): the uplift's interval is wide and the "
                      "relative uplift may be undefined", stacklevel=2)
    # Agresti-Caffo: Wald on counts with one success and one failure added to each group,
    # reliable with few (or no) control take-ups where the plain Wald test is not
    # statsmodels also computes the raw ratio and odds ratio for its result object, which divide
    # by zero when a group has no take-up; the diff test used here does not read them
    with np.errstate(divide="ignore", invalid="ignore"):
        test = test_proportions_2indep(k1, n1, k0, n0, method="agresti-caffo", compare="diff")
    r1, r0 = k1 / n1, k0 / n0
    overall = pd.DataFrame([{
        "n_target": n1, "n_control": n0, "rate_target": r1, "rate_control": r0,
        "uplift": r1 - r0, "uplift_low": float(dlo), "uplift_high": float(dhi),
        "relative_uplift": r1 / r0 - 1 if r0 > 0 else np.nan,
        "relative_low": float(rlo) - 1, "relative_high": float(rhi) - 1,
        "statistic": float(test.statistic), "p_value": float(test.pvalue),
    }])
    by_bin = qini = at_top = None
    if score is not None:
        check_frame(c, table="contacts", columns=[score])
        s = c[score]
        if not pd.api.types.is_numeric_dtype(s) or s.isna().any():
            raise schema_error(table="contacts", column=score, expected="a numeric score without missing values",
                               found=f"dtype {s.dtype}, {int(s.isna().sum())} missing")
        check_scalar(n_bins, "n_bins", kind=int, low=2)
        sv = s.to_numpy(dtype=float)
        order = np.argsort(-sv, kind="stable")
        bins = np.empty(len(sv), dtype=int)
        bins[order] = np.arange(len(sv)) * n_bins // len(sv) + 1
        df = pd.DataFrame({"bin": bins, "t": treat, "y": y})
        tb = df[df["t"]].groupby("bin")["y"].agg(n_target="size", rate_target="mean")
        cb = df[~df["t"]].groupby("bin")["y"].agg(n_control="size", rate_control="mean")
        by_bin = tb.join(cb, how="outer").reset_index()
        by_bin["uplift"] = by_bin["rate_target"] - by_bin["rate_control"]
        qini = qini_coefficient(y, sv, treat)
        at_top = uplift_at_k(y, sv, treat, strategy="by_group", k=1 / n_bins)
    return UpliftResult(overall=overall, by_bin=by_bin, qini_auc=qini, uplift_at_top=at_top, alpha=alpha)


# --------------------------------------------------------------------------- compare
@dataclass(frozen=True)
class CompareResult(Result):
    """G4-style comparison of campaigns against a baseline rate.

    Attributes
    ----------
    table : DataFrame
        One row per campaign: ``campaign``, ``covered``, ``succeeded``, ``rate``,
        ``ci_low``, ``ci_high`` (Wilson), ``baseline_low``, ``baseline_high``,
        ``times_baseline`` (rate / baseline_high), ``p_value`` (one-sided exact binomial
        test of rate > baseline_high), ``p_adjusted`` (Holm), ``beats_baseline``.
    """

    table: pd.DataFrame
    alpha: float

    def to_frame(self) -> pd.DataFrame:
        """The comparison table."""
        return self.table

    def summary(self) -> Summary:
        """The table."""
        b = self.table.iloc[0]
        return Summary("Campaigns against the baseline (活动效果对比)", (("", self.table.set_index("campaign")),),
                       (f"baseline {b['baseline_low']:.1%}–{b['baseline_high']:.1%}; p-values one-sided "
                        f"against the upper baseline, Holm-adjusted",))

    def plot(self, ax=None):
        """Rates with CIs and the baseline band."""
        ax = get_ax(ax)
        t = self.table
        x = np.arange(len(t))
        ax.bar(x, t["rate"], yerr=[t["rate"] - t["ci_low"], t["ci_high"] - t["rate"]], capsize=4)
        ax.axhspan(t["baseline_low"].iloc[0], t["baseline_high"].iloc[0], color="gray", alpha=0.3,
                   label="baseline")
        ax.set_xticks(x, t["campaign"], rotation=30, ha="right")
        ax.set_ylabel("success rate")
        ax.legend()
        ax.set_title("Campaign success rates vs baseline")
        return ax


def compare(
    campaigns: pd.DataFrame,
    *,
    baseline: tuple[float, float] = (0.03, 0.05),
    alpha: float = 0.05,
) -> CompareResult:
    """Covered / succeeded / rate per campaign, with CIs and a test against a baseline rate.

    Parameters
    ----------
    campaigns : DataFrame
        Either a summary with columns ``campaign``, ``covered``, ``succeeded`` (G4's
        table), or a ``contacts`` table (covered = delivered target contacts, succeeded =
        those who subscribed, per campaign_id).
    baseline : (low, high), default (0.03, 0.05)
        The usual take-up range (G4: 3–5%); tests are against ``high``.
    alpha : float, default 0.05

    Returns
    -------
    CompareResult
    """
    from scipy.stats import binomtest
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportion_confint

    check_frame(campaigns, table="campaigns")
    if {"covered", "succeeded"} <= set(campaigns.columns):
        check_frame(campaigns, table="campaigns", columns=["campaign", "covered", "succeeded"])
        t = campaigns[["campaign", "covered", "succeeded"]].copy()
    else:
        check_contacts(campaigns)
        c = campaigns[(campaigns["group"] == "target") & campaigns["delivered"]]
        t = (c.assign(s=c["subscribed_at"].notna()).groupby("campaign_id", observed=True)
             .agg(covered=("s", "size"), succeeded=("s", "sum")).reset_index()
             .rename(columns={"campaign_id": "campaign"}))
    if len(baseline) != 2 or not 0 <= baseline[0] <= baseline[1] < 1:
        raise parameter_error("baseline", expected="(low, high) with 0 <= low <= high < 1", found=baseline)
    check_scalar(alpha, "alpha", kind=float, low=0, high=0.5, low_inclusive=False)
    cov, suc = t["covered"].to_numpy(), t["succeeded"].to_numpy()
    if (cov <= 0).any() or (suc < 0).any() or (suc > cov).any():
        bad = int(np.flatnonzero((cov <= 0) | (suc < 0) | (suc > cov))[0])
        raise schema_error(table="campaigns", column="succeeded", expected="0 <= succeeded <= covered, covered > 0",
                           found=f"covered={cov[bad]}, succeeded={suc[bad]}", rows=[t["campaign"].iloc[bad]])
    t["rate"] = suc / cov
    lo, hi = proportion_confint(suc, cov, alpha=alpha, method="wilson")
    t["ci_low"], t["ci_high"] = lo, hi
    t["baseline_low"], t["baseline_high"] = baseline
    t["times_baseline"] = t["rate"] / baseline[1]
    t["p_value"] = [binomtest(int(k), int(n), p=baseline[1], alternative="greater").pvalue
                    for k, n in zip(suc, cov, strict=True)]
    t["p_adjusted"] = multipletests(t["p_value"], method="holm")[1]
    t["beats_baseline"] = t["p_adjusted"] < alpha
    return CompareResult(table=t.reset_index(drop=True), alpha=alpha)


# --------------------------------------------------------------------------- SP monitoring
def _robust_z(x: pd.Series, *, floor: float = 0.0) -> pd.Series:
    """(x − median) / max(1.4826 · MAD, ``floor``): a robust z-score across SPs.

    The floor keeps a practically negligible deviation from looking extreme when most SPs
    share the same value (MAD = 0), e.g. no bursts at all.
    """
    x = x.astype(float)
    med = x.median()
    scale = max(1.4826 * float((x - med).abs().median()), floor)
    if not scale or not np.isfinite(scale):
        return pd.Series(0.0, index=x.index)
    return (x - med) / scale


@dataclass(frozen=True)
class SPMonitorResult(Result):
    """Per-SP indicators, robust z-scores, flags and evidence (case M).

    Attributes
    ----------
    table : DataFrame
        One row per sp_id. Download indicators: ``downloads``, ``users``,
        ``burst_share`` (share of the SP's downloads made in bursts: one user downloading
        ``burst_min`` or more of the SP's items in one day), ``max_user_day`` (most downloads
        of the SP by one user in one day), ``downloads_per_user``, ``top_user_share``
        (share made by the SP's top 5% of users), ``repeat_share`` (share repeating a
        (user, content) pair); ordering indicators: ``subscriptions``, ``sp_push_share``
        (orders through an SP push), ``quick_unsub_share`` (cancelled within
        ``quick_days``), ``complaint_share`` (subscribers complaining in the month of the
        order, when usage is given); ``z_<indicator>`` robust z-scores;
        ``chart_boosting``, ``unauthorised_ordering`` (flags) and ``evidence`` (text).
    flagged : DataFrame
        Columns ``sp_id``, ``kind``, ``evidence``: one row per flag.
    """

    table: pd.DataFrame
    flagged: pd.DataFrame
    z_threshold: float

    def to_frame(self) -> pd.DataFrame:
        """The per-SP table."""
        return self.table

    def summary(self) -> Summary:
        """Flagged SPs with their evidence, then the indicators of the flagged and top SPs."""
        cols = [c for c in self.table.columns if not c.startswith("z_") and c != "evidence"]
        return Summary("SP monitoring (SP 监控: 打榜 / 违规定制)",
                       (("flagged", self.flagged), ("indicators", self.table[cols].head(20))),
                       (f"flag = robust z-score above {self.z_threshold}: chart boosting on the burst "
                        "share; unauthorised ordering on two of SP-pushed share, quick cancellations "
                        "and complaints",))

    def plot(self, ax=None):
        """Burst share against SP-pushed share of orders; flagged SPs in red and labelled."""
        ax = get_ax(ax)
        t = self.table
        flag = t["chart_boosting"] | t["unauthorised_ordering"]
        ax.scatter(t["burst_share"], t["sp_push_share"], c=np.where(flag, "tab:red", "tab:gray"), s=18)
        for _, r in t[flag].iterrows():
            ax.annotate(str(r["sp_id"]), (r["burst_share"], r["sp_push_share"]), fontsize=7)
        ax.set_xlabel("share of downloads in bursts (chart boosting)")
        ax.set_ylabel("share of orders pushed by the SP (unauthorised ordering)")
        ax.set_title("SPs (red: flagged)")
        return ax


_SHARE_FLOOR = 0.01


def _sp_codes(sp: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of an ``sp_id`` column and their labels as strings (a null is the label
    ``"nan"``, as ``astype(str)`` names it): the group-bys below run on the codes."""
    if isinstance(sp.dtype, pd.CategoricalDtype):
        codes = sp.cat.codes.to_numpy().astype(np.int64)
        labels = sp.cat.categories.astype(str).to_numpy(dtype=object)
    else:
        codes, uniques = pd.factorize(sp, use_na_sentinel=True)
        codes = codes.astype(np.int64)
        labels = pd.Index(uniques).astype(str).to_numpy(dtype=object)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels = np.append(labels, "nan")
    # two categories with the same string label are one SP (as after astype(str))
    uniq, inverse = np.unique(labels.astype(str), return_inverse=True)
    if len(uniq) < len(labels):
        codes, labels = inverse[codes], uniq.astype(object)
    return codes, labels


def _group_sizes(first: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by (first, *others): each group's value of ``first`` and its row count,
    groups ordered by ``first``. One sort of a mixed-radix int64 key (a lexsort when the
    key would not fit in 63 bits)."""
    cols = [np.asarray(first), *(np.asarray(c) for c in others)]
    if len(cols[0]) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    key, lows, spans = _mixed_key(cols)
    if key is not None:
        key.sort()
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        stride = int(np.prod(spans[1:], dtype=np.int64)) if len(spans) > 1 else 1
        head = key[starts] // stride + lows[0]
    else:
        cols = [c.astype(np.int64, copy=False) for c in cols]
        order = np.lexsort(cols[::-1])
        s = [c[order] for c in cols]
        change = np.zeros(len(order), dtype=bool)
        change[0] = True
        for c in s:
            change[1:] |= c[1:] != c[:-1]
        starts = np.flatnonzero(change)
        head = s[0][starts]
    sizes = np.diff(np.r_[starts, len(cols[0])])
    return head, sizes


def _mixed_key(cols: list[np.ndarray]) -> tuple[np.ndarray | None, list[int], list[int]]:
    """One int64 mixed-radix key of integer columns (first column most significant), built
    in place (one int64 array, no int64 copy of each column), with each column's minimum
    and span; the key is None when it would not fit in 63 bits."""
    lows = [int(c.min()) for c in cols]
    spans = [int(c.max()) - lo + 1 for c, lo in zip(cols, lows, strict=True)]
    if float(np.prod([float(x) for x in spans])) >= 2.0 ** 62 or max(abs(lo) for lo in lows) >= 2 ** 61:
        return None, lows, spans  # (the bound on the minima keeps key * span + c - lo within int64)
    key = np.zeros(len(cols[0]), dtype=np.int64)
    for c, lo, span in zip(cols, lows, spans, strict=True):
        key *= span
        key += c  # an int8/int32 column added into the int64 key, not copied as int64
        key -= lo
    return key, lows, spans


def _nested_group_sizes(sp: np.ndarray, user: np.ndarray, day: np.ndarray
                        ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``_group_sizes(sp, user, day)`` and ``_group_sizes(sp, user)`` from one sort: the
    (sp, user, day) groups come ordered by (sp, user), so each (sp, user) group is a run of
    them (two sorts when the three-column key does not fit in 63 bits)."""
    if len(sp) == 0:
        empty = np.zeros(0, np.int64)
        return (empty, empty), (empty, empty)
    key, lows, spans = _mixed_key([np.asarray(sp), np.asarray(user), np.asarray(day)])
    if key is None:
        return _group_sizes(sp, user, day), _group_sizes(sp, user)
    key.sort()
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ud_n = np.diff(np.r_[starts, len(key)])
    pair = key[starts] // spans[2]  # (sp, user) of each (sp, user, day) group, in order
    del key
    runs = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    pu_n = np.add.reduceat(ud_n, runs)
    ud_sp = pair // spans[1] + lows[0]
    return (ud_sp, ud_n), (ud_sp[runs], pu_n)


def _download_indicators(sp: np.ndarray, n_sp: int, user: np.ndarray, day: np.ndarray,
                         content: np.ndarray, burst_min: int) -> pd.DataFrame:
    """Per SP code (0..n_sp-1): downloads, users, burst share, the most downloads by one
    user in one day, downloads per user, the top-5% users' share and the repeat share."""
    downloads = np.bincount(sp, minlength=n_sp)
    # downloads of one SP by one user in one day, and (from the same sort) by one user
    (ud_sp, ud_n), (pu_sp, pu_n) = _nested_group_sizes(sp, user, day)
    big = ud_n >= burst_min
    burst = np.bincount(ud_sp[big], weights=ud_n[big], minlength=n_sp)
    max_user_day = np.zeros(n_sp, dtype=np.int64)
    if len(ud_sp):  # the groups come ordered by SP: one maximum per run of an SP
        runs = np.flatnonzero(np.r_[True, ud_sp[1:] != ud_sp[:-1]])
        max_user_day[ud_sp[runs]] = np.maximum.reduceat(ud_n, runs)
    users = np.bincount(pu_sp, minlength=n_sp)
    k_top = np.maximum(1, np.ceil(0.05 * users))
    order = np.lexsort((-pu_n, pu_sp))  # per SP, its users by downloads, most first
    rank = np.arange(len(order)) - (np.cumsum(users) - users)[pu_sp[order]]
    top_rows = order[rank < k_top[pu_sp[order]]]
    top = np.bincount(pu_sp[top_rows], weights=pu_n[top_rows], minlength=n_sp)
    pairs = np.bincount(_group_sizes(sp, user, content)[0], minlength=n_sp)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "downloads": downloads, "users": users, "burst_share": burst / downloads,
            "max_user_day": max_user_day, "downloads_per_user": downloads / users,
            "top_user_share": top / downloads, "repeat_share": 1 - pairs / downloads})


def _month_numbers(month: pd.Series) -> np.ndarray:
    """'YYYY-MM' values as months since 1970-01 (int64)."""
    codes, uniques = pd.factorize(month.astype(str) if not isinstance(month.dtype, pd.CategoricalDtype) else month)
    nums = pd.to_datetime(pd.Index(uniques).astype(str), format="%Y-%m").to_numpy().astype("datetime64[M]").astype(np.int64)
    return nums[codes]


_SP_EVENT_COLUMNS: tuple[str, ...] = ("user_id", "ts", "content_id", "channel", "sp_id")
_SP_SUBSCRIPTION_COLUMNS: tuple[str, ...] = ("user_id", "start", "end", "channel")  # and sp_id when present
_SP_USAGE_COLUMNS: tuple[str, ...] = ("user_id", "month", "complaints")


def monitor_sps(
    events: pd.DataFrame,
    subscriptions: pd.DataFrame | None = None,
    usage: pd.DataFrame | None = None,
    *,
    month: str | None = None,
    z_threshold: float = 3.5,
    burst_min: int = 10,
    quick_days: int = 3,
    min_downloads: int = 30,
    min_subscriptions: int = 20,
) -> SPMonitorResult:
    """Flag SPs whose download or ordering patterns are anomalous among all SPs (case M).

    Chart boosting (打榜): the share of the SP's downloads made in bursts (one user, one
    day, ``burst_min`` or more of the SP's items) has a robust z-score above
    ``z_threshold``. Unauthorised ordering (违规定制): at least two of the SP-pushed share
    of its orders, the share cancelled within ``quick_days`` and the share of its
    subscribers complaining have robust z-scores above ``z_threshold`` (only the
    SP-pushed share of downloads when ``subscriptions`` carry no ``sp_id``). Robust
    z-scores use the median and MAD across SPs, so a few offenders cannot hide by
    inflating the spread; shares use a floor of one percentage point on the scale.

    Parameters
    ----------
    events : DataFrame
        The ``events`` table (downloads with sp_id).
    subscriptions : DataFrame, optional
        The ``subscriptions`` table with an extra ``sp_id`` column (null for operator
        services). Without ``sp_id`` the SP-pushed share comes from the events' channel.
    usage : DataFrame, optional
        The ``usage`` table, for complaints of each SP's subscribers.

        Only the columns read are required and checked against the contract: of
        ``events`` user_id, ts, content_id, channel and sp_id; of ``subscriptions``
        user_id, start, end, channel (and sp_id); of ``usage`` user_id, month and
        complaints (e.g. ``pdata.read("usage", columns=["user_id", "month", "complaints"])``,
        or only the rows with a complaint).
    month : str, optional
        'YYYY-MM': downloads of this month only (orders: pass a filtered table).
    z_threshold : float, default 3.5
    burst_min : int, default 10
        Downloads of one SP by one user in one day that make a burst.
    quick_days : int, default 3
        An order cancelled within this many days counts as a quick unsubscription.
    min_downloads, min_subscriptions : int
        SPs with fewer downloads / orders are not scored on those indicators.

    Returns
    -------
    SPMonitorResult
    """
    # only the columns read are checked (a province read with those columns is enough)
    schema.validate(events, "events", check_keys=False, columns=_SP_EVENT_COLUMNS)
    check_scalar(z_threshold, "z_threshold", kind=(int, float), low=0, low_inclusive=False)
    check_scalar(quick_days, "quick_days", kind=int, low=0)
    check_scalar(burst_min, "burst_min", kind=int, low=2)
    # group-bys on integer codes (numpy sorts and bincounts): no string copy of sp_id, no
    # strftime of a timestamp column (tens of millions of rows at province scale)
    ts = events["ts"].to_numpy(dtype="datetime64[ns]")
    keep = None
    if month is not None:
        check_month(month)
        keep = ts.astype("datetime64[M]") == np.datetime64(month, "M")
        if not keep.any():
            raise schema_error(table="events", column="ts", expected=f"downloads in {month}", found="none")
    sp, labels = _sp_codes(events["sp_id"])
    user = events["user_id"].to_numpy()
    content = events["content_id"].to_numpy()
    push = (events["channel"] == "sp_push").to_numpy(dtype=bool)
    if keep is not None:
        sp, user, content, push, ts = sp[keep], user[keep], content[keep], push[keep], ts[keep]
    day = ts.astype("datetime64[D]").view(np.int64)  # days since 1970 (a view: no second copy)
    del ts
    t = _download_indicators(sp, len(labels), user, day, content, burst_min)
    t["sp_push_share"] = np.bincount(sp, weights=push, minlength=len(labels)) / t["downloads"].to_numpy()
    del user, day, content, push
    seen = t["downloads"].to_numpy() > 0  # SPs with downloads, ordered by name
    t = t[seen].set_axis(pd.Index(labels[seen], name="sp_id")).sort_index()
    order_ind = ["sp_push_share"]
    ord_ok = t["downloads"] >= min_downloads
    if subscriptions is not None:
        schema.validate(subscriptions, "subscriptions", check_keys=False, columns=_SP_SUBSCRIPTION_COLUMNS)
        if "sp_id" not in subscriptions.columns:
            warnings.warn("subscriptions have no 'sp_id' column: ordering indicators use the events' "
                          "channel only; quick unsubscriptions are not checked", stacklevel=2)
        else:
            has = subscriptions["sp_id"].notna().to_numpy()
            s_sp, s_labels = _sp_codes(subscriptions["sp_id"][has])
            n_s = len(s_labels)
            start = subscriptions["start"].to_numpy(dtype="datetime64[ns]")[has]
            end = subscriptions["end"].to_numpy(dtype="datetime64[ns]")[has]
            quick = ~np.isnat(end) & ((end - start) <= np.timedelta64(quick_days, "D"))
            del end
            n_subs = np.bincount(s_sp, minlength=n_s)
            with np.errstate(invalid="ignore", divide="ignore"):
                cols = {"subscriptions": n_subs,
                        "sp_push_share": np.bincount(
                            s_sp, weights=(subscriptions["channel"] == "sp_push").to_numpy(dtype=bool)[has],
                            minlength=n_s) / n_subs,
                        "quick_unsub_share": np.bincount(s_sp, weights=quick, minlength=n_s) / n_subs}
                if usage is not None:
                    schema.validate(usage, "usage", check_keys=False, columns=_SP_USAGE_COLUMNS)
                    # the subscriber complained in the month the subscription started
                    c = (usage["complaints"] > 0).to_numpy(dtype=bool)
                    # key user * 4096 + month (months since 1970 shifted by 2048: 1800..2140)
                    comp_key = (usage["user_id"].to_numpy()[c].astype(np.int64) * 4096
                                + _month_numbers(usage["month"][c]) + 2048)
                    s_key = (subscriptions["user_id"].to_numpy()[has].astype(np.int64) * 4096
                             + start.astype("datetime64[M]").astype(np.int64) + 2048)
                    complained = np.isin(s_key, comp_key)
                    cols["complaint_share"] = np.bincount(s_sp, weights=complained, minlength=n_s) / n_subs
            del start
            g = pd.DataFrame(cols)
            g = g[n_subs > 0].set_axis(pd.Index(s_labels[n_subs > 0], name="sp_id")).sort_index()
            t = t.drop(columns=["sp_push_share"]).join(g, how="outer")
            order_ind = list(g.columns.drop("subscriptions"))
            ord_ok = t["subscriptions"].fillna(0) >= min_subscriptions
    t.index.name = "sp_id"
    dl_ok = t["downloads"].fillna(0) >= min_downloads
    dl_ind = {"burst_share": _SHARE_FLOOR, "downloads_per_user": None, "top_user_share": _SHARE_FLOOR,
              "repeat_share": _SHARE_FLOOR}
    for col, floor in dl_ind.items():
        vals = t.loc[dl_ok, col]
        fl = floor if floor is not None else 0.05 * abs(float(vals.median()))
        t[f"z_{col}"] = _robust_z(vals, floor=fl).reindex(t.index)
    for col in order_ind:
        t[f"z_{col}"] = _robust_z(t.loc[ord_ok, col], floor=_SHARE_FLOOR).reindex(t.index)
    t["chart_boosting"] = (t["z_burst_share"] > z_threshold).fillna(False).astype(bool)
    n_ord = (t[[f"z_{c}" for c in order_ind]] > z_threshold).sum(axis=1)
    t["unauthorised_ordering"] = n_ord >= min(2, len(order_ind))

    names = {"burst_share": f"downloads in bursts of {burst_min}+ per user-day",
             "downloads_per_user": "downloads per user", "top_user_share": "top-5% users' share",
             "repeat_share": "repeated downloads", "sp_push_share": "SP-pushed orders",
             "quick_unsub_share": f"cancelled within {quick_days} days",
             "complaint_share": "subscribers complaining"}

    def evidence(row) -> str:
        bits = []
        for col in [*dl_ind, *order_ind]:
            z = row[f"z_{col}"]
            if pd.notna(z) and z > z_threshold:
                v = f"{row[col]:.3g}" if col == "downloads_per_user" else f"{row[col]:.1%}"
                bits.append(f"{names[col]} {v} (z={z:.1f})")
        if row["chart_boosting"]:
            bits.append(f"max {int(row['max_user_day'])} downloads by one user in one day")
        return "; ".join(bits)

    t["evidence"] = t.apply(evidence, axis=1)
    t = t.sort_values(["chart_boosting", "unauthorised_ordering", "downloads"],
                      ascending=[False, False, False]).reset_index()
    flagged = pd.concat([
        t.loc[t["chart_boosting"], ["sp_id", "evidence"]].assign(kind="chart_boosting"),
        t.loc[t["unauthorised_ordering"], ["sp_id", "evidence"]].assign(kind="unauthorised_ordering"),
    ])[["sp_id", "kind", "evidence"]].reset_index(drop=True)
    return SPMonitorResult(table=t, flagged=flagged, z_threshold=float(z_threshold))
