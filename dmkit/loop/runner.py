"""``dm.loop.run``: the monthly closed loop of deep operations (深度运营闭环).

Every month ``m`` (data month ``d = m - 1``), in this order:

1. **lifecycle states** of each offered service in ``d`` (:func:`dmkit.lifecycle.customer_states`):
   holders are not offered the service again, users who left it (``churned``) are not
   offered it back (a win-back is another campaign);
2. **target models** from the model store (the version of ``m``; in the first month a
   model of who holds the service, fitted on ``d``), scoring every user on the features of
   ``d`` (:func:`dmkit.propensity.build_features` plus ``contacts_90d``); the model policy
   only: the random and oracle policies plan without a model, so they fit, score and revise
   none (steps 2 and 6; their model columns are NaN);
3. **the offer plan** (:func:`dmkit.loop.policy.plan_month`): the policy's best offers up to
   the budget, a 10% control group, contact caps, the sensitive-number list, weekday sends
   in J3's windows; written as contact lists per channel with the holdout group;
4. **responses** from the source: simulated (:func:`dmkit.synth.respond.respond`) or the
   operator's ``contacts`` extract of ``m``;
5. **evaluation**: the funnel, uplift against control, the planning model's AUC on the
   month's exploration slice (a uniform random sample of the eligible users: unbiased for
   the population the model ranks) with a bootstrap interval, and on all its contacts,
   value, per prefecture;
6. **revision** (:func:`_revise`): three challengers — a logistic regression per service on
   the base model's log-odds, log usage, channel and fatigue, one partly shared over the
   services (:mod:`dmkit.loop.revise`), and the base score recalibrated — fitted on the
   loop's offers of the months before ``m`` and compared **out of time** on ``m``'s offers
   (the exploration offers weighted for the population they stand for); the best one is
   refitted on every offer so far and stored as the version of ``m + 1``
   (versions are kept and compared);
7. **KPIs re-scored**: the month's ``kpis`` rows projected on the health index fitted on
   the months before the loop (:func:`dmkit.health.score`), and rank changes. The scale
   stays the baseline's (0 = its least healthy unit, 100 = its healthiest): a month the
   campaigns lift beyond every unit before the loop scores above 100, on purpose (re-fitting
   the scale each month would hide the movement the loop is there to show).

State lives under ``out`` (:mod:`dmkit.loop.state`): a run resumes after its last finished
month and a month interrupted half-way is run again from the start.
"""
from __future__ import annotations

import dataclasses
import numbers
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_choice, check_scalar
from dmkit.errors import parameter_error
from dmkit.loop.policy import POLICIES, contact_channel, plan_month, precision_scale
from dmkit.loop.revise import SHARED, shared_design, stratified_holdout
from dmkit.loop.revise import design as _design
from dmkit.loop.revise import score as _score
from dmkit.loop.sources import ExtractSource, SimulatedSource
from dmkit.loop.state import LoopState, concat_tables
from dmkit.loop.store import ModelStore

__all__ = ["run", "LoopRun", "compare", "PolicyComparison", "MONTHLY_COLUMNS", "SERVICES", "PRICES",
           "ACTIVITY_COLUMNS", "write_contact_lists"]

SERVICES: tuple[str, ...] = ("newspaper", "mail_notify", "fetion")
"""The loop's offers by default (the services with J2 target models)."""
PRICES: dict[str, float] = {"newspaper": 3.0, "mail_notify": 5.0, "fetion": 2.0}
"""Monthly value (yuan) of a kept subscription, per service: the ``value`` column."""
ACTIVITY_COLUMNS: dict[str, tuple[str, ...]] = {"newspaper": ("monternet_sms",), "mail_notify": ("sms_fee",),
                                                "fetion": ("sms_p2p",)}
"""Usage columns measuring the use of each offered service (its lifecycle states)."""
MONTHLY_COLUMNS: tuple[str, ...] = ("month", "contacted", "delivered", "responded", "subscribed", "take_up",
                                    "value", "control", "control_take_up", "uplift", "model_auc",
                                    "model_auc_low", "model_auc_high", "model_auc_planted", "base_auc_planted",
                                    "observable_auc_planted", "oracle_auc_planted", "model_auc_attainable",
                                    "explore_delivered",
                                    "explore_subscribed", "model_auc_contacts", "oracle_auc", "oracle_auc_slice",
                                    "expected_take_up", "health_index")
AUC_LEVEL = 0.95
"""Confidence level of ``model_auc_low`` / ``model_auc_high``."""
CHANNELS: tuple[str, ...] = ("sms", "wap_push", "ivr", "outbound")
_MIN_CLASS = 30


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class LoopRun(Result):
    """One run of the loop.

    Attributes
    ----------
    monthly : DataFrame
        One row per month: ``month``, ``contacted`` (offers sent), ``delivered``,
        ``responded`` (replied), ``subscribed`` (target group), ``take_up`` (subscribed /
        contacted), ``value`` (yuan a month of the kept subscriptions, :data:`PRICES`),
        ``control`` (users held out), ``control_take_up``, ``uplift`` (take_up −
        control_take_up), ``model_auc`` (the planning model's ROC AUC on the month's
        delivered offers of the exploration slice — a uniform random sample of the eligible
        users, so an unbiased estimate of the AUC on the population the model ranks; NaN for
        the random and oracle policies, which plan without a model and fit none: every column
        of the planning model — ``model_auc*``, ``base_auc_planted``, ``model_auc_contacts``
        and the precision table's ``expected_take_up`` — is NaN for them, while the columns of
        the planted truth on their own offers and population (``oracle_auc``,
        ``oracle_auc_slice``, ``observable_auc_planted``, ``oracle_auc_planted``,
        ``expected_take_up``) are measured),
        ``model_auc_low`` / ``model_auc_high`` (its 95% interval, :data:`AUC_LEVEL`: a
        bootstrap that resamples the subscribers and the others apart, BCa),
        ``model_auc_planted`` (the model's expected AUC on the whole population it ranks —
        every eligible user, one of their eligible services at random, the outcome drawn
        from the planted P(subscribe | delivered) — the quantity ``model_auc`` estimates,
        without its sampling and response noise; simulator only), ``base_auc_planted`` (the
        same for the first month's model of who holds each service, the revisions' base,
        scored on the month's features, pooled over the services as the plan compares them,
        so its uncalibrated scales count against it: the revisions help where
        ``model_auc_planted`` is above it; the two move together with the population),
        ``observable_auc_planted`` (the same for the planted P(subscribe | delivered)
        without the unobservable per-user effect: the ceiling of any model of the users'
        data on the month's population) and ``oracle_auc_planted`` (with it: the planted
        truth's own AUC, above every ranking) — the population's difficulty, which falls as
        the policy sells to the best prospects and leaves the rest; ``model_auc_attainable``
        ((``model_auc_planted`` − 0.5) / (``observable_auc_planted`` − 0.5): the share of the
        attainable lift over chance the model reaches on the month's population),
        ``explore_delivered`` / ``explore_subscribed`` (the slice's size and
        subscribers), ``model_auc_contacts`` (the AUC on all the month's delivered offers:
        mostly the top of the ranking, so it moves with how narrow the top is, not only with
        the model), ``oracle_auc`` (the ceiling on the same contacts: the AUC the planted
        P(subscribe | delivered) achieves on the same delivered offers and outcomes as
        ``model_auc_contacts``; simulator only), ``oracle_auc_slice`` (the same on the rows
        and outcomes of ``model_auc``: the gap ``oracle_auc_slice - model_auc`` is the model's
        distance to the best ranking on its own slice), ``expected_take_up`` (planted mean P(subscribe) of the offers;
        NaN with real extracts), ``health_index`` (mean health index of the offered
        services over the regions, in index points of the baseline: the index fitted on the
        months before the loop, where 0 is the least healthy and 100 the healthiest
        region × service × month unit of those months; each later month is projected on that
        fixed scale, so the months stay comparable, and a month healthier than every unit
        before the loop scores above 100 — the campaigns raise penetration and growth of the
        offered services beyond their history: at 100,000 users (Guangdong, seed 7) the first
        month adds 18.0 index points through growth and 2.9 through penetration to the
        offered services' rows on average, and 15 of their 63 region rows pass 100; see
        :func:`_health_rows`).
    by_prefecture : DataFrame
        ``month, prefecture, contacted, subscribed, take_up, control, control_take_up,
        uplift, health_index`` (mean index of the offered services), ``health_rank`` (1 =
        healthiest prefecture) and ``health_rank_change`` (places gained since the month before).
    precision_scale : DataFrame
        ``month`` + :func:`dmkit.loop.policy.precision_scale` of each month's ranking.
    versions : DataFrame
        The model store's versions (:meth:`ModelStore.versions`).
    timings : DataFrame
        ``month, seconds, cpu_seconds`` (user + system CPU time of the process, all threads),
        ``peak_rss_mib`` (process peak so far), ``started``, ``ended`` (Unix times) of the
        months run by this call.
    config : dict
    out : Path
    pending : str or None
        With real extracts: the month planned whose responses have not arrived yet.
    """

    monthly: pd.DataFrame
    by_prefecture: pd.DataFrame
    precision_scale: pd.DataFrame
    versions: pd.DataFrame
    timings: pd.DataFrame
    config: dict
    out: Path
    pending: str | None = None

    @property
    def policy(self) -> str:
        return self.config["policy"]

    @property
    def cumulative_take_up(self) -> float:
        """All subscriptions over all offers sent."""
        c = self.monthly["contacted"].sum()
        return float(self.monthly["subscribed"].sum() / c) if c else float("nan")

    def to_frame(self) -> pd.DataFrame:
        """The monthly table."""
        return self.monthly

    def summary(self) -> Summary:
        """The monthly table and the model versions."""
        notes = [f"policy {self.policy}: cumulative take-up {self.cumulative_take_up:.2%} over "
                 f"{int(self.monthly['contacted'].sum()):,} offers"]
        if self.pending:
            notes.append(f"{self.pending} is planned; its responses have not arrived")
        return Summary(f"Operations loop (深度运营闭环), {self.config['province']}, policy {self.policy}",
                       (("monthly", self.monthly.set_index("month")),
                        ("model versions", self.versions)), tuple(notes))

    def plot(self, ax=None, *, kind: Literal["take_up", "uplift", "model_auc", "health_index"] = "take_up"):
        """One monthly curve; ``model_auc`` with its 95% interval (a band) and the planted
        population AUC (dashed) where known."""
        check_choice(kind, "kind", ["take_up", "uplift", "model_auc", "health_index"])
        ax = get_ax(ax)
        _curve(ax, self.monthly, kind, self.policy)
        ax.set_xlabel("month")
        ax.set_ylabel(kind)
        ax.set_title(f"{kind} by month")
        ax.legend()
        return ax


@dataclass(frozen=True)
class PolicyComparison(Result):
    """Several runs side by side (:func:`compare`).

    Attributes
    ----------
    monthly : DataFrame
        The runs' monthly tables stacked, with a ``policy`` column.
    totals : DataFrame
        Index policy: ``contacted``, ``subscribed``, ``cumulative_take_up``, ``value``,
        ``vs_random`` (cumulative take-up / random's), ``vs_oracle`` (/ oracle's).
    """

    monthly: pd.DataFrame
    totals: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.totals

    def summary(self) -> Summary:
        return Summary("Policies side by side", (("totals", self.totals),
                                                 ("take-up by month", self.monthly.pivot(
                                                     index="month", columns="policy", values="take_up"))))

    def plot(self, ax=None, *, kind: str = "take_up"):
        """One curve per policy of a monthly column; ``model_auc``: the exploration slice's
        AUC with its 95% interval (band) and the planted population AUC (dashed), for the
        policies that measure it (the random and oracle policies fit no model)."""
        ax = get_ax(ax)
        for p, g in self.monthly.groupby("policy", sort=False):
            if kind != "model_auc" or g["model_auc"].notna().any():
                _curve(ax, g, kind, p)
        ax.set_xlabel("month")
        ax.set_ylabel(kind)
        ax.set_title(f"{kind}: policies side by side")
        ax.legend()
        return ax


def _curve(ax, monthly: pd.DataFrame, kind: str, label: str) -> None:
    """A monthly curve; for ``model_auc`` the slice's estimate with its interval as a band
    and the planted population AUC dashed in the same colour."""
    x = monthly["month"].astype(str).to_numpy()
    (line,) = ax.plot(x, monthly[kind].to_numpy(float), marker="o",
                      label=f"{label}: exploration slice (95% interval)" if kind == "model_auc" else label)
    if kind != "model_auc":
        return
    ax.fill_between(x, monthly["model_auc_low"].to_numpy(float), monthly["model_auc_high"].to_numpy(float),
                    color=line.get_color(), alpha=0.15, linewidth=0)
    if monthly["model_auc_planted"].notna().any():
        ax.plot(x, monthly["model_auc_planted"].to_numpy(float), linestyle="--", color=line.get_color(),
                label=f"{label}: whole population (planted)")


def compare(runs: Sequence[LoopRun]) -> PolicyComparison:
    """Stack the runs' monthly tables and compare their cumulative take-up."""
    if not runs:
        raise parameter_error("runs", expected="at least one LoopRun", found=runs)
    monthly = pd.concat([r.monthly.assign(policy=r.policy) for r in runs], ignore_index=True)
    tot = monthly.groupby("policy", sort=False)[["contacted", "subscribed", "value"]].sum()
    tot.insert(2, "cumulative_take_up", tot["subscribed"] / tot["contacted"])
    for ref in ("random", "oracle"):
        tot[f"vs_{ref}"] = (tot["cumulative_take_up"] / tot.loc[ref, "cumulative_take_up"]
                            if ref in tot.index else np.nan)
    return PolicyComparison(monthly=monthly, totals=tot)


# --------------------------------------------------------------------------- helpers
def _months(start: str, n: int) -> list[str]:
    p = pd.Period(start, "M")
    return [str(p + i) for i in range(n)]


def _rng(seed: int, month: str, purpose: int) -> np.random.Generator:
    ym = int(month[:4]) * 12 + int(month[5:7])
    return np.random.default_rng(np.random.SeedSequence([int(seed), ym, purpose]))


def _contacts_90d(contacts: pd.DataFrame, month: str, n: int) -> np.ndarray:
    t0 = pd.Period(month, "M").start_time
    t_from = (pd.Period(month, "M") - 3).start_time
    s = contacts["sent_at"]
    ok = (s >= t_from) & (s < t0) & (contacts["group"].astype(str) == "target")
    uid = contacts.loc[ok.to_numpy(), "user_id"].to_numpy()
    uid = uid[(uid >= 0) & (uid < n)]
    return np.bincount(uid, minlength=n).astype(np.int32)


def _features(world, month: str, channels: tuple[str, ...]) -> pd.DataFrame:
    """Usage and users features of the data month, ``contacts_90d`` (offers sent in the three
    months before) and ``channel_<c>`` (the channel the user would be contacted on)."""
    import dmkit as dm

    d = str(pd.Period(month, "M") - 1)
    X = dm.propensity.build_features(world.usage, world.users, month=d)
    n = int(world.users["user_id"].max()) + 1
    X["contacts_90d"] = _contacts_90d(world.contacts, month, n)[X.index.to_numpy()]
    ch = contact_channel(world.users.set_index("user_id")["preferred_channel"].reindex(X.index), channels)
    for c in channels[1:]:
        X[f"channel_{c}"] = ch == c
    return X.astype({c: np.float32 for c in X.columns if X[c].dtype == np.float64})


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(y) == 0 or y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, s))


def _auc_interval(y: np.ndarray, s: np.ndarray, rng: np.random.Generator, *, level: float = AUC_LEVEL,
                  n_resamples: int = 2000) -> tuple[float, float]:
    """Bootstrap interval of the ROC AUC (:func:`scipy.stats.bootstrap`, BCa; percentile
    when BCa degenerates): subscribers and the others resampled apart, so every resample
    has both classes. NaN with fewer than two of either class."""
    import warnings

    from scipy import stats

    y = np.asarray(y, dtype=bool)
    pos, neg = np.asarray(s, float)[y], np.asarray(s, float)[~y]
    if len(pos) < 2 or len(neg) < 2:
        return float("nan"), float("nan")

    def auc(a, b, axis=-1):
        r = stats.rankdata(np.concatenate([a, b], axis=-1), axis=-1)
        n1, n0 = a.shape[-1], b.shape[-1]
        return (r[..., :n1].sum(axis=-1) - n1 * (n1 + 1) / 2) / (n1 * n0)

    kw = {"statistic": auc, "vectorized": True, "paired": False, "n_resamples": n_resamples,
          "confidence_level": level, "batch": 250}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            ci = stats.bootstrap((pos, neg), method="BCa", rng=rng, **kw).confidence_interval
        except (Warning, ValueError):
            ci = None
    if ci is None or not np.isfinite([ci.low, ci.high]).all():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ci = stats.bootstrap((pos, neg), method="percentile", rng=rng, **kw).confidence_interval
    return float(ci.low), float(ci.high)


def _expected_auc(s: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    """The ROC AUC of scores ``s`` expected when each row's outcome is a Bernoulli(``p``)
    draw: sum over i != j of w_i w_j p_i (1 - p_j) [s_i > s_j] (ties 1/2), over the sum of
    w_i w_j p_i (1 - p_j); ``w`` weights the rows (default 1)."""
    s, p = np.asarray(s, float), np.asarray(p, float)
    w = np.ones(len(s)) if w is None else np.asarray(w, float)
    if len(s) < 2:
        return float("nan")
    order = np.argsort(s, kind="stable")
    s, p, w = s[order], p[order], w[order]
    q = w * (1.0 - p)
    same = float((w * p * q).sum())
    p = w * p
    start = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    P, Q = np.add.reduceat(p, start), np.add.reduceat(q, start)
    below = np.cumsum(Q) - Q
    den = float(p.sum() * q.sum()) - same
    return float(((P * (below + 0.5 * Q)).sum() - 0.5 * same) / den) if den > 0 else float("nan")


def _health_baseline(kpis: pd.DataFrame):
    import dmkit as dm

    return dm.health.score(kpis, by="region")


def _health_rows(h, kpis: pd.DataFrame) -> pd.DataFrame:
    """Project kpis rows on a fitted health index: index = intercept + Σ coef · z.

    The baseline's own rows come back with their index (0 to 100: min-max over the
    baseline); other rows keep the baseline's centre, scale and span, so they may fall
    outside 0–100 (above 100: healthier than every baseline unit)."""
    fa = h.factors
    used = list(fa.indicators)
    z = (kpis[used].astype(float) - fa.center[used]) / fa.scale[used]
    idx = h.intercept + z.to_numpy() @ h.coefficients.reindex(used).to_numpy()
    out = kpis[["region", "service", "month"]].copy()
    out["region"] = out["region"].astype(str)
    out["service"] = out["service"].astype(str)
    out["month"] = out["month"].astype(str)
    out["index"] = idx
    return out


def write_contact_lists(plan: pd.DataFrame, folder: str | Path, *, month: str) -> list[Path]:
    """The campaign systems' files: one CSV per channel (``user_id, service, channel, date,
    window_start, window_end``) of the target group, and ``holdout.csv`` (the control group,
    not to be contacted)."""
    from dmkit.io import atomic_write_bytes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    p = pd.Period(month, "M")
    days = pd.to_timedelta(plan["day"].to_numpy(dtype=np.int64) - 1, unit="D")
    df = plan.assign(date=(p.start_time + days).strftime("%Y-%m-%d"))
    cols = ["user_id", "service", "channel", "date", "window_start", "window_end"]
    written = []
    tgt = df[df["group"] == "target"]
    for ch, g in tgt.groupby("channel", sort=True):
        path = folder / f"{ch}.csv"
        atomic_write_bytes(path, g[cols].to_csv(index=False).encode())
        written.append(path)
    path = folder / "holdout.csv"
    atomic_write_bytes(path, df[df["group"] == "control"][["user_id", "service"]].to_csv(index=False).encode())
    written.append(path)
    return written


# --------------------------------------------------------------------------- the loop
@dataclass
class _Ctx:
    province: str
    policy: str
    seed: int
    budget: int
    control_share: float
    explore: float
    max_contacts_90d: int
    channels: tuple[str, ...]
    services: tuple[str, ...]
    model: str
    max_train_rows: int
    planner: str
    n_threads: int | None
    source: object
    state: LoopState
    store: ModelStore
    health: object = None
    excluded: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _check(province, start, months, n_users, policy, seed, budget, control_share, explore,
           max_contacts_90d, services, max_train_rows) -> None:
    if not isinstance(province, str) or not province:
        raise parameter_error("province", expected="a province name, e.g. 'guangdong'", found=province)
    if not isinstance(start, str) or len(start) != 7 or start[4] != "-":
        raise parameter_error("start", expected="a month 'YYYY-MM'", found=start)
    try:
        pd.Period(start, "M")
    except ValueError as err:
        raise parameter_error("start", expected="a month 'YYYY-MM'", found=start) from err
    check_scalar(months, "months", kind=int, low=1, high=120)
    check_scalar(n_users, "n_users", kind=int, low=100)
    check_choice(policy, "policy", POLICIES)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise parameter_error("seed", expected="an integer >= 0", found=seed)
    check_scalar(budget, "budget", kind=int, low=10, allow_none=True)
    check_scalar(control_share, "control_share", kind=float, low=0.0, high=0.5)
    check_scalar(explore, "explore", kind=float, low=0.0, high=0.5)
    check_scalar(max_contacts_90d, "max_contacts_90d", kind=int, low=1)
    check_scalar(max_train_rows, "max_train_rows", kind=int, low=1000)
    for s in services:
        if s not in PRICES:
            raise parameter_error("services", expected=f"services among {list(PRICES)}", found=s)


def run(*, province: str, start: str, months: int, n_users: int = 100_000,
        policy: Literal["model", "random", "oracle"] = "model", seed: int = 7, out: str | Path,
        data: str | Path = "synth", budget: int | None = None, control_share: float = 0.1,
        explore: float = 0.05, max_contacts_90d: int = 2, channels: tuple[str, ...] = CHANNELS,
        services: tuple[str, ...] = SERVICES, model: Literal["hgb", "logit", "tree"] = "hgb",
        max_train_rows: int = 100_000, exclude=None, mapping=None, cache_dir: str | Path | None = None,
        source=None, planner: Literal["auto", "greedy", "offers"] = "greedy", n_threads: int | None = None,
        resume: bool = True, progress: bool = False) -> LoopRun:
    """Run the monthly loop plan → contact → respond → revise for ``months`` months from ``start``.

    Parameters
    ----------
    province : str
        Province profile (simulator) or partition (extracts).
    start : str
        First month of offers, 'YYYY-MM'; the world starts at the month before.
    months : int
        Months to run (1–120).
    n_users : int, default 100,000
        Simulated subscribers (simulator only).
    policy : {"model", "random", "oracle"}
        Whom to contact (:mod:`dmkit.loop.policy`); "oracle" needs the simulator.
    seed : int, default 7
        Seed of the world, the responses, the plans and the models.
    out : path
        The run's folder (state, model store, contact lists, ``loop.json``). An existing
        folder of the same run is resumed; of another run, refused.
    data : "synth" or path, default "synth"
        The simulator, or a folder of extracts (:class:`dmkit.loop.sources.ExtractSource`).
    budget : int, optional
        Users chosen per month (target + control); default 5% of the users.
    control_share : float, default 0.1
        Held-out share of the chosen users.
    explore : float, default 0.05
        The model policy's exploration slice: this share of the budget is drawn uniformly at
        random from all the eligible users (each offered one of their eligible services at
        random) before the top of the ranking fills the rest. ``model_auc`` is measured on
        the slice (an unbiased sample of the population the model ranks) and the revision
        learns from it. A larger slice narrows the AUC's interval but costs take-up (its
        offers sell at about the random policy's rate). The other policies do not explore
        (the random policy's offers are all such draws).
    max_contacts_90d : int, default 2
        No user gets more offers than this in three months.
    channels : tuple of str
        Contact channels of the plan (first = default).
    services : tuple of str
        Offered services (default :data:`SERVICES`).
    model : {"hgb", "logit", "tree"}, default "hgb"
    max_train_rows : int, default 100,000
        Users sampled (uniformly, seeded) to fit the first month's holders model (the base
        model every revision reads); 70% of them train it, 30% are held out. Its fit is most of
        the first month's CPU time at province scale. Measured at 200,000 users, 3 months
        (seed 7): 100,000 rows against all 200,000 — the first month's CPU 22.1 -> 16.0 s, the
        base model's planted population AUC 0.682 / 0.665 / 0.596 -> 0.684 / 0.667 / 0.596,
        the revised model's 0.682 / 0.709 / 0.708 -> 0.684 / 0.744 / 0.702, take-up over the
        3 months 29.31% -> 30.03%. At 300,000 users, 2 months, 200,000 / 150,000 / 100,000
        rows: base planted AUC 0.688 / 0.684 / 0.686 (month 1), take-up 33.32% / 33.48% /
        32.29%, month-1 CPU 23.8 / 21.1 / 15.7 s: the base model's quality does not move with
        the sample in this range; the take-up's ~1 point moves are the plans' and responses'
        draws downstream of a different model (one run each, not averaged over seeds).
    exclude : path or sequence of int, optional
        Sensitive numbers never contacted (extracts; the simulator plants its own 2%).
    mapping : optional
        Column mapping of the extracts.
    cache_dir : path, optional
        The simulator cache of the data facade.
    source : object, optional
        A source (see :mod:`dmkit.loop.sources`) used instead of ``data``.
    planner : {"greedy", "offers", "auto"}, default "greedy"
        Choose the month's offers greedily or with ``dm.offers.optimize``; "auto": the
        optimiser when ``dmkit.offers`` is installed, the greedy plan otherwise. With the
        loop's constraints (a contact cap, one offer per user) the greedy plan is optimal:
        both gave the same plans (6,000 users, 3 months; 100,000 users, one month), the
        optimiser 70.8 s a month against 0.36 s at 100,000 users, so it is not the default.
    n_threads : int, optional
        Thread cap of the model fits and scoring (see :class:`dmkit.propensity.ScoringModel`).
    resume : bool, default True
        Continue the run found in ``out``; False removes its state first and starts over.
    progress : bool, default False
        A progress bar over the months.

    Returns
    -------
    LoopRun

    Raises
    ------
    ParameterError
        A bad option; ``out`` holds another run; policy "oracle" without the simulator.
    """
    _check(province, start, months, n_users, policy, seed, budget, control_share, explore,
           max_contacts_90d, services, max_train_rows)
    check_choice(planner, "planner", ["auto", "greedy", "offers"])
    if planner == "auto":
        import importlib.util

        planner = "offers" if importlib.util.find_spec("dmkit.offers") is not None else "greedy"
    if source is None:
        if isinstance(data, str) and data == "synth":
            source = SimulatedSource(province, n_users=n_users, seed=seed, cache_dir=cache_dir)
        else:
            source = ExtractSource(data, province=province, mapping=mapping, exclude=exclude)
    if policy == "oracle" and not getattr(source, "simulated", False):
        raise parameter_error("policy", expected="'model' or 'random' with real extracts (no planted truth)",
                              found=policy)
    budget = budget if budget is not None else max(10, int(round(0.05 * n_users)))
    config = {"province": province, "start": start, "months": months, "n_users": n_users, "policy": policy,
              "seed": int(seed), "data": str(data), "budget": budget, "control_share": control_share,
              "explore": explore if policy == "model" else 0.0, "max_contacts_90d": max_contacts_90d,
              "channels": list(channels), "services": list(services), "model": model,
              "max_train_rows": max_train_rows, "planner": planner}
    state = LoopState(out)
    if not isinstance(resume, bool):
        raise parameter_error("resume", expected="True or False", found=resume)
    if not resume:
        state.clear()
    state.check_config(config)
    ctx = _Ctx(province=province, policy=policy, seed=int(seed), budget=budget, control_share=control_share,
               explore=config["explore"], max_contacts_90d=max_contacts_90d, channels=tuple(channels),
               services=tuple(services), model=model, max_train_rows=max_train_rows, planner=planner,
               n_threads=n_threads, source=source, state=state, store=ModelStore(state.models))
    world = source.initial(start)
    ctx.excluded = np.asarray(source.excluded(world), dtype=np.int64)
    ctx.health = _health_baseline(world.kpis)
    rows, prefs, scales, timings = [], [], [], []
    pending = None
    month_list = _months(start, months)
    if progress:
        from tqdm.auto import tqdm

        month_list = tqdm(month_list, desc=f"loop {province} {policy}", unit="month")
    for month in month_list:
        if state.done(month):
            world = _replay(world, state, month)
        else:
            t0, started, cpu0 = time.perf_counter(), time.time(), _cpu_seconds()
            world, ok = _month(ctx, world, month)
            if not ok:
                pending = month
                break
            timings.append({"month": month, "seconds": time.perf_counter() - t0, "cpu_seconds": _cpu_seconds() - cpu0,
                            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                            "started": started, "ended": time.time()})
        rows.append(state.row(month)["monthly"])
        prefs.append(state.read(month, "by_prefecture"))
        scales.append(state.read(month, "precision_scale"))
    monthly = pd.DataFrame(rows, columns=list(MONTHLY_COLUMNS))
    state.write_summary(config, monthly)
    return LoopRun(monthly=monthly,
                   by_prefecture=pd.concat(prefs, ignore_index=True) if prefs else pd.DataFrame(),
                   precision_scale=pd.concat(scales, ignore_index=True) if scales else pd.DataFrame(),
                   versions=ctx.store.versions(province=province), timings=pd.DataFrame(
                       timings, columns=["month", "seconds", "cpu_seconds", "peak_rss_mib", "started", "ended"]),
                   config=config, out=Path(out), pending=pending)


def _cpu_seconds() -> float:
    """CPU time of this process so far (user + system, all threads): beside the wall time, what
    a month costs on a machine shared with other jobs."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _apply(world, contacts, usage, kpis, subscriptions, full: bool):
    return dataclasses.replace(
        world,
        contacts=concat_tables(world.contacts, contacts),
        usage=concat_tables(world.usage, usage),
        kpis=concat_tables(world.kpis, kpis),
        subscriptions=subscriptions if full else concat_tables(world.subscriptions, subscriptions),
    )


def _replay(world, state: LoopState, month: str):
    r = state.row(month)
    return _apply(world, state.read(month, "contacts"), state.read(month, "usage"), state.read(month, "kpis"),
                  state.read(month, "subscriptions"), r["subscriptions_full"])


def _month(ctx: _Ctx, world, month: str):
    import dmkit as dm

    state, store = ctx.state, ctx.store
    state.begin(month)
    d = str(pd.Period(month, "M") - 1)
    X = _features(world, month, ctx.channels)
    users = X.index
    feats = list(X.columns)

    # 1. lifecycle states -> eligibility
    elig = {}
    for s in ctx.services:
        st = dm.lifecycle.customer_states(world.usage, world.subscriptions, service=s, month=d,
                                          activity_columns=list(ACTIVITY_COLUMNS[s])).states
        st = st.set_index("user_id").reindex(users)
        elig[s] = (~st["holder"].fillna(False).to_numpy(dtype=bool)
                   & (st["state"].astype(object).to_numpy() != "churned"))
    ok_user = X["contacts_90d"].to_numpy() < ctx.max_contacts_90d
    ok_user &= ~np.isin(users.to_numpy(), ctx.excluded)
    eligible = pd.DataFrame({s: elig[s] & ok_user for s in ctx.services}, index=users)

    # 2. target models (store) and scores; a revised model also reads its base model's score.
    # Only the model policy plans with them: the random and oracle policies fit, score and revise
    # none (their model columns are NaN), which was most of their CPU time
    models, model_scores, base_scores = {}, {}, {}
    rng_fit = _rng(ctx.seed, month, 3)
    uses_model = ctx.policy == "model"
    for s in ctx.services if uses_model else ():
        try:
            rec = store.record(province=ctx.province, service=s, month=month)
        except dm.errors.DataNotFoundError:
            m = _fit_holders(world, X, s, d, ctx, rng_fit)
            rec = store.save(m, province=ctx.province, service=s, month=month, data_month=d, kind="holders",
                             metrics={"n_train": len(m.y_test_) / m.test_size}, base=month)
        base = store.load(province=ctx.province, service=s, month=rec["base"])
        # only the users eligible for s are scored (NaN elsewhere): the plan, the precision
        # table and the planted AUCs read the eligible pairs only, and scoring every user with
        # the base model (a calibrated ensemble) was most of a month's CPU at province scale
        rows_s = np.flatnonzero(eligible[s].to_numpy())
        Xe = X.iloc[rows_s]
        b = np.full(len(X), np.nan)
        b[rows_s] = base.predict_proba(Xe[list(base.feature_names_in_)])[:, 1] if len(rows_s) else []
        base_scores[s] = b
        if rec["kind"] == "holders":
            # the version is the base model itself (the first month, or too few responses to
            # revise it): its scores are the base scores, not a second load and prediction
            models[s], model_scores[s] = base, base_scores[s]
            continue
        m = store.load(province=ctx.province, service=s, month=month)
        models[s] = m
        sc = np.full(len(X), np.nan)
        sc[rows_s] = _score(m, Xe, b[rows_s], s) if len(rows_s) else []
        model_scores[s] = sc
    if not uses_model:
        model_scores = base_scores = {s: np.full(len(users), np.nan) for s in ctx.services}
    M = pd.DataFrame(model_scores, index=users)
    true = true_obs = None
    if getattr(ctx.source, "simulated", False):
        true, true_obs = (ctx.source.true_probability(world, month, services=list(ctx.services), heterogeneity=h)
                          [[f"p_{s}" for s in ctx.services]].set_axis(list(ctx.services), axis=1).reindex(users)
                          for h in (True, False))
    rng_plan = _rng(ctx.seed, month, 1)
    if ctx.policy == "model":
        P = M
    elif ctx.policy == "oracle":
        P = true
    else:
        P = pd.DataFrame(rng_plan.random((len(users), len(ctx.services))), index=users, columns=list(ctx.services))

    # 3. plan
    pref = world.users.set_index("user_id")["preferred_channel"]
    # scores of models of who holds a service are not on one scale: equal shares until the
    # responses have calibrated every service's model to take-up
    uncalibrated = uses_model and any(store.record(province=ctx.province, service=s, month=month)["kind"]
                                      == "holders" for s in ctx.services)
    plan = plan_month(P, eligible=eligible, budget=ctx.budget, month=month, rng=rng_plan, preferred=pref,
                      channels=ctx.channels, control_share=ctx.control_share, explore=ctx.explore,
                      planner=ctx.planner, equal_shares=ctx.policy == "model" and uncalibrated)
    if ctx.policy == "random":
        plan["explore"] = True  # every offer of the random policy is a uniform draw
        plan["weight"] = 1.0
    pos = users.get_indexer(plan["user_id"])
    col = pd.Index(list(ctx.services)).get_indexer(plan["service"])
    plan["score_model"] = M.to_numpy()[pos, col]
    plan["base_score"] = pd.DataFrame(base_scores, index=users).to_numpy()[pos, col]
    if true is not None:
        plan["p_true"] = true.to_numpy()[pos, col]
    Pv = np.where(eligible.to_numpy(), P.to_numpy(dtype=float), -np.inf)
    best = np.argmax(Pv, axis=1)
    has = np.isfinite(Pv[np.arange(len(Pv)), best])
    ps = precision_scale(Pv[has, best[has]], M.to_numpy()[has, best[has]],
                         true.to_numpy()[has, best[has]] if true is not None else None)
    state.write(month, "precision_scale", ps.assign(month=month))
    state.write(month, "plan", plan)
    write_contact_lists(plan, state.month_dir(month) / "contact_lists", month=month)

    # 4. responses
    plan_cols = ["user_id", "service", "channel", "group", "day", "window_start", "window_end"]
    rows = ctx.source.respond(world, plan[plan_cols], month)
    if rows is None:
        return world, False
    c = rows.contacts
    state.write(month, "contacts", c)
    state.write(month, "usage", rows.usage)
    state.write(month, "kpis", rows.kpis)
    state.write(month, "subscriptions", rows.subscriptions)
    if rows.truth is not None:
        state.write(month, "truth", rows.truth)

    # 5. evaluation
    q = _delivered(ctx, true, X, pref) if true is not None else None
    row, by_pref, training = _evaluate(ctx, world, month, c, plan, rows, X, q)
    if true is not None:
        row["observable_auc_planted"] = _population_auc(_delivered(ctx, true_obs, X, pref), q, eligible)
        row["oracle_auc_planted"] = _population_auc(q, q, eligible)
    if true is not None and uses_model:
        row["model_auc_planted"] = _population_auc(M, q, eligible)
        row["base_auc_planted"] = _population_auc(pd.DataFrame(base_scores, index=users)[list(M.columns)], q,
                                                  eligible)
        row["model_auc_attainable"] = (row["model_auc_planted"] - 0.5) / (row["observable_auc_planted"] - 0.5)
    training = training[training["base_score"].notna()]
    state.write(month, "training", training)
    world = _apply(world, c, rows.usage, rows.kpis, rows.subscriptions, rows.subscriptions_full)
    km = world.kpis["month"].astype(str)
    h = _health_rows(ctx.health, world.kpis[(km == month) | (km == d)])
    h = h[h["service"].isin(ctx.services)]
    row["health_index"] = float(h.loc[h["month"] == month, "index"].mean())
    hp = h.groupby(["month", "region"])["index"].mean().unstack("month")
    rank = hp.rank(ascending=False, method="min")
    by_pref["health_index"] = hp[month].reindex(by_pref["prefecture"]).to_numpy()
    by_pref["health_rank"] = rank[month].reindex(by_pref["prefecture"]).to_numpy()
    by_pref["health_rank_change"] = (rank[d] - rank[month]).reindex(by_pref["prefecture"]).to_numpy()
    state.write(month, "by_prefecture", by_pref.assign(month=month))

    # 6. revision -> the version of next month
    nxt = str(pd.Period(month, "M") + 1)
    if uses_model:
        done = [m for m in _months_before(ctx, month) if state.done(m)]
        past = [state.read(m, "training") for m in done]
        allt = pd.concat(past + [training], ignore_index=True) if past else training
        shared = _Shared(ctx, allt, feats, month)
        for s in ctx.services:
            rec = store.record(province=ctx.province, service=s, month=month)
            _revise(ctx, models[s], rec, allt[allt["service"] == s], s, month, nxt, feats, plan, c, shared)
    state.finish(month, {"monthly": row, "subscriptions_full": bool(rows.subscriptions_full)})
    return world, True


def _delivered(ctx: _Ctx, true: pd.DataFrame, X: pd.DataFrame, pref: pd.Series) -> pd.DataFrame:
    """The planted P(subscribe | delivered) of every user and service this month (channel, fatigue)."""
    ch = contact_channel(pref.reindex(true.index), ctx.channels)
    return ctx.source.delivered_probability(true, ch, X["contacts_90d"].to_numpy())


def _population_auc(M: pd.DataFrame, q: pd.DataFrame, eligible: pd.DataFrame) -> float:
    """The expected AUC of scores ``M`` on the whole population the plan ranks, from the planted
    truth: every eligible (user, service) pair, each user weighing 1 over their eligible
    services (the exploration slice's draw), outcomes Bernoulli(``q`` = planted P(subscribe |
    delivered))."""
    q = q[list(M.columns)]
    E = eligible[list(M.columns)].to_numpy(dtype=bool)
    n_s = E.sum(axis=1)
    w = np.repeat(1.0 / np.maximum(n_s, 1), E.shape[1]).reshape(E.shape)
    return _expected_auc(M.to_numpy(float)[E], q.to_numpy(float)[E], w[E])


def _months_before(ctx: _Ctx, month: str) -> list[str]:
    folder = ctx.state.out / "months"
    return sorted(p.name for p in folder.glob("*") if p.is_dir() and p.name < month)


def _fit_holders(world, X, s, d, ctx: _Ctx, rng) -> object:
    import dmkit as dm

    idx = np.arange(len(X))
    if len(X) > ctx.max_train_rows:
        idx = np.sort(rng.choice(len(X), size=ctx.max_train_rows, replace=False))
    # who holds a service says nothing of contacts: the contact features are for the revisions
    Xs = X.iloc[idx][[c for c in X.columns if c != "contacts_90d" and not c.startswith("channel_")]]
    y = dm.propensity.service_target(world.subscriptions, Xs.index, service=s, month=d)
    return dm.propensity.fit(Xs, y, model=ctx.model, seed=ctx.seed, n_threads=ctx.n_threads)


def _evaluate(ctx: _Ctx, world, month, c, plan, rows, X, q: pd.DataFrame | None = None):
    target = (c["group"].astype(str) == "target").to_numpy()
    sent = c["sent_at"].notna().to_numpy() & target
    deliv = c["delivered"].to_numpy(dtype=bool) & target
    replied = c["replied_at"].notna().to_numpy() & target
    sub = c["subscribed_at"].notna().to_numpy()
    kept = sub & c["unsubscribed_at"].isna().to_numpy()
    ctrl = ~target
    svc = c["service"].astype(str).to_numpy()
    price = np.array([PRICES.get(s, 0.0) for s in svc]) if len(svc) else np.zeros(0)
    key = pd.MultiIndex.from_arrays([plan["user_id"].to_numpy(), plan["service"].to_numpy()])
    ckey = pd.MultiIndex.from_arrays([c["user_id"].to_numpy().astype(np.int64), svc])
    at = key.get_indexer(ckey)
    score = np.where(at >= 0, plan["score_model"].to_numpy()[np.maximum(at, 0)], np.nan)
    m_auc = deliv & np.isfinite(score)  # no score: a policy without a model (random, oracle)
    sliced = deliv & (at >= 0) & plan["explore"].to_numpy(dtype=bool)[np.maximum(at, 0)]
    explored = m_auc & sliced
    auc_low, auc_high = _auc_interval(sub[explored], score[explored], _rng(ctx.seed, month, 4))
    contacted = int(sent.sum())
    n_ctrl = int(ctrl.sum())
    take = float(sub[target].sum() / contacted) if contacted else float("nan")
    c_take = float(sub[ctrl].sum() / n_ctrl) if n_ctrl else float("nan")
    expected = float("nan")
    if rows.truth is not None:
        tr = rows.truth
        tt = (tr["group"] == "target").to_numpy()
        expected = float(tr.loc[tt, "p_effective"].mean()) if tt.any() else float("nan")
    row = {"month": month, "contacted": contacted, "delivered": int(deliv.sum()), "responded": int(replied.sum()),
           "subscribed": int(sub[target].sum()), "take_up": take,
           "value": float((kept & target) @ price) if len(price) else 0.0, "control": n_ctrl,
           "control_take_up": c_take, "uplift": take - c_take, "model_auc": _auc(sub[explored], score[explored]),
           "model_auc_low": auc_low, "model_auc_high": auc_high, "model_auc_planted": float("nan"),
           "base_auc_planted": float("nan"), "observable_auc_planted": float("nan"),
           "oracle_auc_planted": float("nan"), "model_auc_attainable": float("nan"),
           "explore_delivered": int(explored.sum()), "explore_subscribed": int(sub[explored].sum()),
           "model_auc_contacts": _auc(sub[m_auc], score[m_auc]), "oracle_auc": float("nan"),
           "oracle_auc_slice": float("nan"),
           "expected_take_up": expected, "health_index": float("nan")}
    if q is not None:  # the ceiling on the same contacts: the planted P(subscribe | delivered) as the score
        r = q.index.get_indexer(c["user_id"].to_numpy().astype(np.int64))
        k = pd.Index(q.columns).get_indexer(svc)
        known = (r >= 0) & (k >= 0)
        qv = np.where(known, q.to_numpy(float)[np.maximum(r, 0), np.maximum(k, 0)], np.nan)
        row["oracle_auc"] = _auc(sub[deliv & known], qv[deliv & known])  # with a model: its rows
        row["oracle_auc_slice"] = _auc(sub[sliced & known], qv[sliced & known])
    pref = world.users.set_index("user_id")["prefecture"].astype(str)
    f = pd.DataFrame({"prefecture": pref.reindex(c["user_id"].to_numpy()).to_numpy(), "t": target & sent,
                      "ctrl": ctrl, "sub_t": sub & target, "sub_c": sub & ctrl})
    g = f.groupby("prefecture").sum()
    by = pd.DataFrame({"prefecture": g.index.astype(str), "contacted": g["t"].to_numpy(),
                       "subscribed": g["sub_t"].to_numpy(), "control": g["ctrl"].to_numpy()})
    by["take_up"] = by["subscribed"] / by["contacted"].where(by["contacted"] > 0)
    by["control_take_up"] = g["sub_c"].to_numpy() / by["control"].where(by["control"] > 0)
    by["uplift"] = by["take_up"] - by["control_take_up"]
    # learning data: the delivered offers with their features of the data month
    dl = np.flatnonzero(deliv)
    uid = c["user_id"].to_numpy()[dl].astype(np.int64)
    have = X.index.get_indexer(uid)
    dl, have = dl[have >= 0], have[have >= 0]
    training = X.iloc[have].reset_index()
    training["service"] = svc[dl]
    at_dl = at[dl]
    training["base_score"] = np.where(at_dl >= 0, plan["base_score"].to_numpy()[np.maximum(at_dl, 0)], np.nan)
    training["weight"] = np.where(at_dl >= 0, plan["weight"].to_numpy()[np.maximum(at_dl, 0)], 1.0)
    training["y"] = sub[dl].astype(np.int8)
    training["month"] = month
    return row, by, training


def _weighted_auc(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(y) == 0 or y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, p, sample_weight=w))


def _balanced_weights(T: pd.DataFrame) -> np.ndarray:
    """Weights of the training offers for the held-out comparison: each exploration offer
    stands for the eligible users it was drawn from (its inverse inclusion probability),
    scaled so the exploration offers weigh as much in all as the top's offers: the
    comparison values the ranking of the population (who enters the top) as much as the
    ranking within the top (where the budget goes), and the few exploration offers do not
    drown it in their noise."""
    w = T["weight"].fillna(1.0).to_numpy(float) if "weight" in T.columns else np.ones(len(T))
    ex = w > 1.0
    if ex.any() and (~ex).any():
        w = np.where(ex, w / w[ex].sum() * (~ex).sum(), 1.0)
    return w


def _logit(ctx: _Ctx, X: pd.DataFrame, y: np.ndarray):
    """A revision's logistic regression (uncalibrated, unweighted classes, every row)."""
    import dmkit as dm

    return dm.propensity.fit(X, y, model="logit", seed=ctx.seed, n_threads=ctx.n_threads, test_size=None,
                             calibrate=False, class_weight=None)


class _Shared:
    """The partly shared revision model (:data:`dmkit.loop.revise.SHARED`) of one month's
    revision: fitted once on every service's offers (``T``, all the loop's training rows so
    far) and read by each service's :func:`_revise`.

    Three fits, each made on first use: ``"old"`` (the months before ``month``: the
    out-of-time comparison on ``month``'s offers), ``"train"`` (outside :attr:`hold`, a
    stratified 30% of the rows by service and outcome: the first month's comparison, on the
    same held-out rows as the per-service challengers) and ``"all"`` (every row: the version
    stored when it wins). A fit with fewer than 30 subscribers or non-subscribers is None.
    """

    def __init__(self, ctx: _Ctx, T: pd.DataFrame, feats: list[str], month: str) -> None:
        self.ctx = ctx
        svc = T["service"].astype(str).to_numpy()
        self.y = T["y"].to_numpy()
        self.D = shared_design(T[feats], T["base_score"].to_numpy(), svc, ctx.services)
        self.rows = {"old": (T["month"].astype(str) != month).to_numpy(), "all": np.ones(len(T), dtype=bool)}
        self.hold = stratified_holdout(np.char.add(svc.astype(str), self.y.astype(str)), 0.3, _rng(ctx.seed, month, 5))
        self.rows["train"] = ~self.hold
        self._models: dict = {}
        self._scores: dict = {}

    def model(self, key: str):
        """The fit on the rows ``key`` (see the class docstring), or None."""
        if key not in self._models:
            r = self.rows[key]
            y = self.y[r]
            ok = min(int(y.sum()), int(len(y) - y.sum())) >= _MIN_CLASS
            self._models[key] = _logit(self.ctx, self.D[r], y) if ok else None
        return self._models[key]

    def scores(self, key: str) -> np.ndarray | None:
        """The fit ``key``'s scores of every row (NaN-free), or None."""
        if key not in self._scores:
            m = self.model(key)
            self._scores[key] = None if m is None else m.predict_proba(self.D)[:, 1]
        return self._scores[key]


def _revise(ctx: _Ctx, champion, rec: dict, T: pd.DataFrame, s, month, nxt, feats, plan, c,
            shared: _Shared) -> None:
    """Revise the model of ``s`` from the responses; store the version of ``nxt``.

    The candidates, all learnt from delivered offers (-> subscribed):

    * ``responses_logit``: a logistic regression (uncalibrated: its probabilities are the
      take-up scale the plan compares across services; an isotonic step would tie the
      ranking) on :func:`_design` of ``s``'s offers — the base model's log-odds, the log
      usage levels, the contact channel, ``contacts_90d`` (fatigue: offers in the last three
      months);
    * ``shared_logit`` (:data:`dmkit.loop.revise.SHARED`): one logistic regression on every
      service's offers (:func:`dmkit.loop.revise.shared_design`): the base log-odds, channel
      and fatigue shared, an intercept and the usage coefficients per service. It pools the
      three services' offers (about 3,900 in the first month at 100,000 users, against about
      1,300 for one service), so the base log-odds' weight is not shrunk by the noise of one
      service's top-only offers;
    * ``recalibrated``: the base model's score alone, put on the take-up scale;
    * ``holders``: the base model itself (the first month's model of who holds ``s``),
      measured beside them (``auc_holders_next_month``) but not chosen once responses
      exist: its scores are not on the take-up scale the plan compares across services.

    **Out of time** (from the second month with responses): each candidate is fitted on the
    offers of the months before ``month`` (the shared one on every service's) and scored on
    ``s``'s offers of ``month``, which none of them saw — the situation of the next plan, a
    month later on a population the last plans changed. The challenger with the higher AUC
    on those offers wins; the AUC weighted by :func:`_balanced_weights` (the exploration
    offers standing for the eligible population, as much in all as the top's offers) is kept
    beside it but does not choose: with ~4 exploration subscribers per service and month at
    100,000 users it is noise (at 30,000 users it chose the recalibrated score twice where
    the logistic regression led by 0.03 and 0.09 of AUC on the month's offers, and the
    planted population AUC fell). The best challenger is refitted on every offer so far,
    ``month``'s included, and stored as the version of ``nxt``. In the first month with
    responses (no earlier month to learn from) the challengers are fitted on the same
    stratified 70% of the offers (by service and outcome: :attr:`_Shared.hold`) and compared
    on ``s``'s other 30% (the same AUC); the winner fitted on the 70% is stored. With fewer
    than 30 subscribers or non-subscribers of ``s`` the base model stays; a shared fit with
    fewer than 30 of either over all services is not a candidate. (Gradient-boosted trees
    on the same rows, a challenger before, rank the top they were fitted on well and the
    rest of the population poorly: at 100,000 users, planted AUC 0.633 against the logistic
    regression's 0.675 over months 2-6.)
    """
    import dmkit as dm

    store = ctx.store
    ps = plan[(plan["service"] == s) & (plan["group"] == "target")]
    cs = c[(c["service"].astype(str) == s).to_numpy() & c["delivered"].to_numpy(dtype=bool)]
    j = pd.Index(ps["user_id"]).get_indexer(cs["user_id"].to_numpy().astype(np.int64))
    ok = j >= 0
    auc_c = _auc(cs["subscribed_at"].notna().to_numpy()[ok], ps["score_model"].to_numpy()[j[ok]])
    store.add_metrics(province=ctx.province, service=s, month=month, auc_contacts=auc_c)
    y = T["y"].to_numpy()
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    keep = {"province": ctx.province, "service": s, "month": nxt, "data_month": month, "base": rec["base"]}
    metrics = {"n_train": len(y), "n_pos": pos}
    if pos < _MIN_CLASS or neg < _MIN_CLASS:
        base = store.load(province=ctx.province, service=s, month=rec["base"])  # only when it stays
        store.save(base, kind="holders", metrics=metrics, parent=rec["base"], **keep)
        return
    at = T.index.to_numpy()  # the rows of T in the shared model's rows (every service's)
    T = T.reset_index(drop=True)
    D = _design(T[feats], T["base_score"].to_numpy())
    designs = {"responses_logit": D, "recalibrated": T[["base_score"]]}

    def fit(kind, rows):
        if kind == "responses_logit":
            return _logit(ctx, D.iloc[rows], y[rows])
        return dm.propensity.fit(T[["base_score"]].iloc[rows], y[rows], model="hgb", seed=ctx.seed,
                                 n_threads=ctx.n_threads, test_size=None, calibrate=True, class_weight="auto")

    new = (T["month"].astype(str) == month).to_numpy()
    old = ~new
    yn, yo = y[new], y[old]
    out_of_time = min(yo.sum(), len(yo) - yo.sum(), yn.sum(), len(yn) - yn.sum()) >= _MIN_CLASS
    # the rows the challengers are fitted on, and those they are compared on
    key, test = ("old", new) if out_of_time else ("train", shared.hold[at])
    suffix = "_next_month" if out_of_time else ""
    rows_fit = np.flatnonzero(~test) if not out_of_time else np.flatnonzero(old)
    yt = y[test]
    w = _balanced_weights(T[test]) if out_of_time else _balanced_weights(T)[test]
    models, score = {}, {"holders": T.loc[test, "base_score"].to_numpy()}
    for kind in designs:
        models[kind] = fit(kind, rows_fit)
        score[kind] = models[kind].predict_proba(designs[kind][test])[:, 1]
    if shared.model(key) is not None:
        models[SHARED] = shared.model(key)
        score[SHARED] = shared.scores(key)[at[test]]
    for kind, p in score.items():
        name = "base" if kind == "holders" and not out_of_time else kind
        metrics[f"auc_{name}{suffix}"] = _auc(yt, p)
        metrics[f"auc_{name}{suffix}_weighted"] = _weighted_auc(yt, p, w)
    # the base model is measured beside them, not chosen: its scores are not on the take-up
    # scale, so going back to it would put the plan on equal service shares again (a win of
    # the base by 0.002 of weighted AUC on ~4 exploration subscribers did so at 100,000 users)
    best = max(models, key=lambda k: -np.inf if np.isnan(metrics[f"auc_{k}{suffix}"])
               else metrics[f"auc_{k}{suffix}"])
    metrics["selection"] = 1.0 if out_of_time else 0.0  # out of time / held-out split
    metrics["auc"] = metrics[f"auc_{best}{suffix}"]
    if best == SHARED:
        model = shared.model("all") if out_of_time else models[SHARED]
        metrics["n_train_shared"] = int(model.n_train_)
    else:
        model = fit(best, np.arange(len(T))) if out_of_time else models[best]  # every offer so far
    store.save(model, kind=best, metrics=metrics, parent=rec["base"] if best == "recalibrated" else month, **keep)
