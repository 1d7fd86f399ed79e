"""What the province simulator planted: the ground truth that tests check methods against.

:class:`Truth` is the contract between :mod:`dmkit.synth` and every method's tests (it
lives in :mod:`dmkit.contract` because extracts written by ``dmkit synth`` carry it too).
Small parts are saved as ``truth.json`` beside the data; per-user parts
(``user_truth``) as ``truth_users.parquet``.

Fields
------
kpi_indicators : list[str]
    The ``kpis`` columns driven by latent factors: penetration, revenue_share,
    usage_per_user, retention, activity, growth, loyalty.
kpi_loadings : DataFrame
    Index = kpi_indicators, columns = factor names (e.g. ``scale``, ``engagement``,
    ``momentum``): the planted loadings of the standardised indicators on the
    standardised factors (each indicator = loadings · factors + unique noise).
kpi_factor_scores : DataFrame
    Columns region, service, month and one column per factor: the planted factor values.
kpi_health : DataFrame
    Columns region, service, month, health: the planted composite (factors weighted by
    their share of explained variance), higher is healthier.
bundles : DataFrame
    Columns bundle (name), items (tuple of services), share (share of users who take the
    whole bundle): co-subscription bundles.
cross_sell : DataFrame
    Columns antecedent, consequent, lift: planted pairs, lift = P(B|A)/P(B) as built.
sequences : DataFrame
    Columns first, then, p_follow (share of ``first`` users who take ``then`` later),
    median_gap_days: planted time orders "A usually taken before B".
penetration : dict[str, float]
    Target share of users subscribed to each service at the data month.
sms_segments : dict[str, dict]
    The Y5 P2P SMS groups: name (low / normal / high) -> share, mean sms_p2p,
    mean sms_contacts.
sms_matrix : DataFrame
    Columns sms_bin, spend_bin, name, share: the 3×3 SMS × spend matrix of case V with the
    bins sms [0, 50), [50, 200), [200, inf) and spend [0, 50), [50, 150), [150, inf).
propensity : dict[str, dict]
    Per target service (at least ``newspaper``, ``mail_notify``, ``fetion``): ``rules``, a
    list of conjunctions, each a list of [feature, op, threshold] on ``usage`` columns of the
    data month (J2 style: [["call_days", ">", 28.5], ["monternet_sms", ">", 2.5]]);
    ``p_in`` (take-up probability inside the rule region), ``p_out`` (outside).
hazard : dict[str, dict]
    Per service with planted unsubscription hazards (at least ``crbt``): ``baseline``
    (monthly hazard), ``hazard_ratios`` {covariate: HR} where covariates are columns of a
    frame built by :func:`dmkit.survival` helpers from users/subscriptions
    (e.g. ``campaign`` = source is a campaign, ``age_under_25``, ``brand_mzone``,
    ``complaints``).
lifecycle : dict
    ``product_stage`` {service: introduction|growth|maturity|decline} used to shape each
    service's penetration over the months; ``customer_states`` thresholds used for CRBT.
campaign : dict
    The planted J3 funnel: delivery_rate, response_rate (of delivered), valid_reply_rate,
    subscription_rate (of delivered), retention (kept / subscribed), control_rate
    (take-up in the control group), campaign ids and their services and steps.
channel_rules / content_rules : list[dict]
    The Y4 preference rules as planted: each {"preference": value, "conditions": [...],
    "p": probability the preference is given when the conditions hold}.
sp_offenders : DataFrame
    Columns sp_id, kind ('chart_boosting' or 'unauthorised_ordering').
revenue : dict
    trend, seasonal amplitudes and holiday effects of the monthly revenue lines.
user_truth : DataFrame
    One row per user: user_id, sms_segment (low/normal/high), matrix_cell (V's name),
    true_channel, true_genre, and p_<service> for each propensity service.

How :mod:`dmkit.synth` fills them (additions; the fields above are unchanged)
------------------------------------------------------------------------------
"Ever held" = the user has any ``subscriptions`` row of the service; "active" = a row
with ``start`` before and ``end`` null or at/after the first instant after the data month.

* ``penetration``: the realised share of users active in each service at the data month
  (all 35 services; propensity services included, campaign take-ups of the month too).
* ``kpi_loadings``: 3 factors ``scale`` (penetration, revenue_share, usage_per_user),
  ``engagement`` (retention, activity, loyalty), ``momentum`` (growth; activity +,
  loyalty -). Factor scores are whitened (exactly uncorrelated, unit variance) over all
  rows; each column = centre + spread * indicator z, clipped only in far tails.
  ``kpi_health`` weights = each factor's share of the summed squared loadings
  (``dmkit.synth.kpis``).
* ``bundles``: extra column ``support`` = realised share of users ever holding all items;
  ``share`` = planted share of users who took the bundle together (same start instant).
* ``cross_sell``: ``lift`` is realised over ever-held services; extra column
  ``planted_lift`` (design value, or E[p | antecedent] / E[p] for the securities rows,
  whose take-up odds are multiplied by 4 per antecedent held among mobile_payment,
  gprs_package, wap).
* ``sequences``: ``p_follow`` = realised share of ``first`` holders whose earliest
  ``then`` start is after their earliest ``first`` start; ``median_gap_days`` = planted
  lognormal median (sigma 0.5); extra columns ``planted_p_follow`` (NaN/None when
  ``then`` is a propensity service: then 80% of its holders were given ``first`` earlier),
  ``share_then_after_first`` and ``realised_median_gap_days``.
* ``propensity[service]`` also has ``month`` (the data month) and ``table`` ("usage").
* ``hazard["crbt"]``: ``distribution`` "exponential", ``baseline`` 0.025 per month of
  30.4375 days, ``hazard_ratios`` {campaign 1.8, age_under_25 1.4, brand_mzone 1.3,
  complaints 2.0}, ``covariates`` {name: exact definition}, ``duration`` and ``event``
  definitions, ``campaign_ids`` (the historical CRBT trial campaigns used as sources).
* ``lifecycle["customer_states"]``: planted CRBT states (heavy / light / silent /
  pre_churn) with shares, monthly means and definitions; the state per user is
  ``user_truth.crbt_state`` ("none" for non-holders).
* ``campaign``: ``campaign_id`` and per-step specs in ``steps`` (service, days, send
  weights, delivery by day, rates) besides the top-level step-1 rates; ``target_share``,
  ``control_share``, ``score``.
* ``channel_rules`` / ``content_rules``: checked in order, first match wins; conditions
  use users columns, data-month usage columns, ``sms_p2p+mms`` and ``holds:<service>``
  (active at the data month); the last rule (no conditions) is the default.
* ``revenue``: ``lines`` {line: total_2008, level, annual_growth, seasonal_amplitude,
  holiday_effects}, ``shape`` (Jan..Dec), ``holiday_months`` {YYYY-MM: [holidays]},
  ``noise_sd``, ``formula``, ``revenue_scale``.
* ``user_truth`` extra columns: preferred_genre (realised genre preference driving the
  events), crbt_state, circle_size (= out-degree in ``edges``), complainer,
  sp_victim (ordered without consent by an SP), chart_booster.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from dmkit.contract.files import atomic_write_bytes, write_parquet_atomic

__all__ = ["Truth"]


@dataclass(frozen=True)
class Truth:
    """Planted structure of one simulated province (see the module docstring for each field)."""

    province: str
    month: str
    months: tuple[str, ...]
    n_users: int
    seed: int
    kpi_indicators: tuple[str, ...] = ()
    kpi_loadings: pd.DataFrame = field(default_factory=pd.DataFrame)
    kpi_factor_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    kpi_health: pd.DataFrame = field(default_factory=pd.DataFrame)
    bundles: pd.DataFrame = field(default_factory=pd.DataFrame)
    cross_sell: pd.DataFrame = field(default_factory=pd.DataFrame)
    sequences: pd.DataFrame = field(default_factory=pd.DataFrame)
    penetration: dict = field(default_factory=dict)
    sms_segments: dict = field(default_factory=dict)
    sms_matrix: pd.DataFrame = field(default_factory=pd.DataFrame)
    propensity: dict = field(default_factory=dict)
    hazard: dict = field(default_factory=dict)
    lifecycle: dict = field(default_factory=dict)
    campaign: dict = field(default_factory=dict)
    channel_rules: list = field(default_factory=list)
    content_rules: list = field(default_factory=list)
    sp_offenders: pd.DataFrame = field(default_factory=pd.DataFrame)
    revenue: dict = field(default_factory=dict)
    user_truth: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    # -- persistence -------------------------------------------------------------
    def to_json_dict(self) -> dict:
        """Everything but ``user_truth`` as JSON-ready values (frames as records)."""
        out = {}
        for k, v in asdict(self).items():
            if k == "user_truth":
                continue
            if isinstance(v, pd.DataFrame):
                frame = v.reset_index() if k == "kpi_loadings" else v
                out[k] = {"__frame__": json.loads(frame.to_json(orient="split", index=False))}
            elif isinstance(v, tuple):
                out[k] = list(v)
            else:
                out[k] = v
        return out

    @classmethod
    def from_json_dict(cls, d: dict, user_truth: pd.DataFrame | None = None) -> Truth:
        """Inverse of :meth:`to_json_dict`."""
        kw = {}
        for k, v in d.items():
            if isinstance(v, dict) and "__frame__" in v:
                f = v["__frame__"]
                frame = pd.DataFrame(f["data"], columns=f["columns"])
                if k == "kpi_loadings" and len(frame.columns):
                    frame = frame.set_index(frame.columns[0])
                    frame.index.name = None
                for col in ("items",):
                    if col in frame:
                        frame[col] = frame[col].map(tuple)
                kw[k] = frame
            elif k in ("months", "kpi_indicators"):
                kw[k] = tuple(v)
            else:
                kw[k] = v
        if user_truth is not None:
            kw["user_truth"] = user_truth
        return cls(**kw)

    def save(self, folder: str | Path) -> None:
        """Write ``truth.json`` and ``truth_users.parquet`` into ``folder`` atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / "truth.json",
                           json.dumps(self.to_json_dict(), indent=1, default=_json_default).encode())
        if len(self.user_truth):
            write_parquet_atomic(self.user_truth, folder / "truth_users.parquet")

    @classmethod
    def load(cls, folder: str | Path) -> Truth:
        """Read what :meth:`save` wrote."""
        folder = Path(folder)
        d = json.loads((folder / "truth.json").read_text())
        users = folder / "truth_users.parquet"
        return cls.from_json_dict(d, pd.read_parquet(users) if users.exists() else None)


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (pd.Timestamp,)):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
