"""``respond``: the simulator answers a contact plan (the closed loop's "respond" step).

Given who is offered which service over which channel on which day, the simulator draws
delivery, replies, valid replies, subscriptions and cancellations from each user's planted
take-up probability, and writes them as the contract's ``contacts`` rows plus the
month's new ``subscriptions``, its ``usage`` and its ``kpis`` rows. Outcomes depend on whom
the plan targets, so a better targeting model sells more, and the planted probability of
every user is known (:func:`take_up_probability`), so the best achievable plan is known.

What is planted (all in :data:`PLANTED`, copied into :attr:`Responses.planted`):

* **True take-up probability** of user *i* for service *s* in month *m* (the probability of
  subscribing when the offer reaches the handset over a neutral channel, never contacted
  before): ``logit p = logit(p_0) + beta_s * z_s + u_is`` where ``p_0`` is the J2 rule
  probability of :data:`dmkit.synth.propensity.RULES` on the usage of month *m - 1* for the
  loop's services (:data:`LOOP_SERVICES`) and the planted base rate :data:`BASE_TAKE_UP` for
  every other service of the catalog, ``z_s`` the standardised (log) level of one smooth
  driver (:data:`SMOOTH`) in month *m - 1*, and ``u_is ~ N(0, HETEROGENEITY_SD)`` a fixed
  per-user effect drawn from the world's seed (unobservable: only the oracle knows it).
* **Channel**: delivery rate :data:`DELIVERY` and a multiplier :data:`CHANNEL_EFFECT` of the
  take-up probability given delivery, for every channel of :data:`dmkit.catalog.CHANNELS`,
  the 11 channels of case G3 (:data:`dmkit.catalog.G3_CHANNELS`) and ``mms``.
* **Fatigue**: the probability is multiplied by ``FATIGUE ** k``, ``k`` = offers sent to the
  user (target group, any service) in the three months before *m*.
* **Control group** (and users not contacted): organic take-up ``CONTROL_FACTOR * p`` over
  the month; holders of the service never take it again. Organic take-up is drawn for the
  loop's services and for every other service the plan offers (each service from its own
  random stream, so it does not depend on which other services are offered); a service no
  plan row offers outside :data:`LOOP_SERVICES` gets no organic take-up in the month.
* Replies: every subscriber replied validly; delivered non-subscribers send an invalid
  reply with probability ``INVALID_REPLY * p_delivered``. Subscribers cancel within three
  days with probability ``1 - RETENTION``.

Same ``seed``, same world and same plan (in any row order) give the same responses.
"""
from __future__ import annotations

import numbers
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dmkit import catalog
from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_frame
from dmkit.contract.labels import in_labels, label_positions
from dmkit.contract.months import check_month
from dmkit.errors import parameter_error, schema_error
from dmkit.synth.calendar import DAY_NS, floor_to_microseconds, month_start, shift_month
from dmkit.synth.propensity import RULES, true_propensity

__all__ = ["respond", "take_up_probability", "take_up_columns", "Responses", "PLANTED", "SERVICES", "LOOP_SERVICES", "BASE_TAKE_UP",
           "CHANNEL_EFFECT", "DELIVERY", "campaign_id"]

LOOP_SERVICES: tuple[str, ...] = tuple(RULES)
"""The services whose planted take-up follows a J2 rule (the closed loop's offers)."""
SERVICES: tuple[str, ...] = LOOP_SERVICES + tuple(s for s in catalog.SERVICES if s not in RULES)
"""Every service with a planted take-up probability: the loop's first, then the rest of the catalog."""
CHANNEL_EFFECT: dict[str, float] = {"sms": 1.0, "wap_push": 0.8, "outbound": 1.5, "ivr": 0.6, "mms": 1.1,
                                    "web": 0.7, "wap": 0.9, "hall": 2.5, "hotline": 1.8, "ussd": 0.7,
                                    "kiosk": 0.6, "topup": 1.2, "retail": 2.0, "campus": 1.3, "sp_push": 0.5,
                                    "queue": 1.4}
"""Multiplier of the take-up probability once the offer is delivered, per contact channel."""
DELIVERY: dict[str, float] = {"sms": 0.92, "wap_push": 0.85, "outbound": 0.55, "ivr": 0.7, "mms": 0.8,
                              "web": 0.4, "wap": 0.5, "hall": 0.95, "hotline": 0.9, "ussd": 0.75,
                              "kiosk": 0.6, "topup": 0.8, "retail": 0.9, "campus": 0.7, "sp_push": 0.85,
                              "queue": 0.7}
"""Share of offers that reach the user, per channel (an outbound call: answered; web, wap: the banner seen;
hall, hotline, retail: the customer is served and hears the offer; queue: the ticket and the screen
of a hall's queue machine (排队机) while the customer waits)."""
BASE_TAKE_UP: dict[str, float] = {
    "sms_p2p": 0.06, "mms": 0.04, "crbt": 0.05, "music": 0.03, "music_club": 0.025, "full_song": 0.04,
    "ringtone": 0.035, "local_paper": 0.02, "fetion_client": 0.04, "mailbox": 0.02, "securities": 0.01,
    "wap": 0.04, "monternet_sms": 0.03, "monternet_mms": 0.02, "kjava_games": 0.025, "game_together": 0.015,
    "ivr": 0.015, "secretary": 0.03, "gprs_package": 0.05, "mobile_tv": 0.015, "mobile_video": 0.015,
    "mobile_map": 0.02, "mobile_payment": 0.01, "mobile_reading": 0.02, "weather": 0.04, "news_sms": 0.035,
    "sports_news": 0.025, "english": 0.015, "contacts_backup": 0.03, "missed_call": 0.05, "caller_id": 0.045,
    "family_plan": 0.02}
"""Planted base take-up probability ``p_0`` of the services without a J2 rule (a neutral channel)."""
SMOOTH: dict[str, tuple[str, float]] = {
    "newspaper": ("voice_minutes", 0.6), "mail_notify": ("gprs_kb", 0.6), "fetion": ("age", -0.6),
    "sms_p2p": ("sms_p2p", 0.5), "mms": ("mms", 0.6), "crbt": ("voice_minutes", 0.4), "music": ("age", -0.5),
    "music_club": ("age", -0.5), "full_song": ("age", -0.5), "ringtone": ("age", -0.5),
    "local_paper": ("voice_minutes", 0.4), "fetion_client": ("sms_p2p", 0.5), "mailbox": ("gprs_kb", 0.5),
    "securities": ("arpu", 0.6), "wap": ("wap_visits", 0.6), "monternet_sms": ("monternet_sms", 0.5),
    "monternet_mms": ("mms", 0.5), "kjava_games": ("age", -0.6), "game_together": ("age", -0.6),
    "ivr": ("voice_minutes", 0.4), "secretary": ("voice_minutes", 0.5), "gprs_package": ("gprs_kb", 0.7),
    "mobile_tv": ("gprs_kb", 0.6), "mobile_video": ("gprs_kb", 0.6), "mobile_map": ("gprs_kb", 0.6),
    "mobile_payment": ("arpu", 0.5), "mobile_reading": ("wap_visits", 0.5), "weather": ("sms_p2p", 0.4),
    "news_sms": ("sms_p2p", 0.4), "sports_news": ("sms_p2p", 0.4), "english": ("age", -0.4),
    "contacts_backup": ("sms_contacts", 0.5), "missed_call": ("local_incoming_calls", 0.5),
    "caller_id": ("local_incoming_calls", 0.4), "family_plan": ("tenure_months", 0.5)}
"""Service -> (driver column of usage or users, coefficient on its standardised level; log level except age)."""
HETEROGENEITY_SD = 0.3
FATIGUE = 0.7
CONTROL_FACTOR = 0.1
INVALID_REPLY = 0.2
RETENTION = 0.85
PLANTED: dict = {
    "services": list(SERVICES), "loop_services": list(LOOP_SERVICES), "channel_effect": CHANNEL_EFFECT,
    "delivery": DELIVERY, "base_take_up": BASE_TAKE_UP, "smooth": {k: list(v) for k, v in SMOOTH.items()},
    "heterogeneity_sd": HETEROGENEITY_SD, "fatigue": FATIGUE, "fatigue_months": 3,
    "control_factor": CONTROL_FACTOR, "invalid_reply": INVALID_REPLY, "retention": RETENTION,
    "formula": "logit p = logit(p_0) + beta * z(driver, m-1) + u, p_0 = p_rule(usage m-1) for the loop "
               "services, base_take_up otherwise; "
               "P(sub | delivered) = min(1, p * channel_effect * fatigue**k); control: control_factor * p",
}
PLAN_COLUMNS = ("user_id", "service", "channel", "group", "day", "window_start", "window_end")
_NAT = np.iinfo(np.int64).min
_HOUR_NS = 3_600 * 10**9


def campaign_id(month: str, service: str) -> str:
    """The ``contacts.campaign_id`` of the loop's offer of ``service`` in ``month``."""
    return f"LOOP-{month}-{service}"


@dataclass(frozen=True)
class Responses(Result):
    """The simulator's answer to one month's plan.

    Attributes
    ----------
    month : str
    contacts : DataFrame
        Contract ``contacts`` rows, one per plan row (campaign id :func:`campaign_id`,
        step 1), plus a ``channel`` column (the plan's channel).
    subscriptions : DataFrame
        The month's new ``subscriptions`` rows (campaign take-ups with the campaign id as
        ``source``; control-group and organic take-ups with source ``organic``), the columns
        and dtypes of the world's table.
    usage : DataFrame
        ``usage`` rows of the month for every user.
    kpis : DataFrame
        ``kpis`` rows of the month: the previous month's, with the penetration and growth of
        the offered services moved by the month's net adds per region.
    truth : DataFrame
        Per plan row: ``user_id, service, channel, group, eligible`` (not a holder),
        ``fatigue_contacts`` (k), ``p_true`` (the user's planted take-up probability) and
        ``p_effective`` (P(subscribe | row): delivery × channel × fatigue for targets,
        ``CONTROL_FACTOR * p_true`` for controls, 0 for holders).
    planted : dict
        :data:`PLANTED`.
    """

    month: str
    contacts: pd.DataFrame
    subscriptions: pd.DataFrame
    usage: pd.DataFrame
    kpis: pd.DataFrame
    truth: pd.DataFrame
    planted: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The contacts rows."""
        return self.contacts

    def counts(self) -> pd.DataFrame:
        """Per service and group: ``n``, ``delivered``, ``replied``, ``subscribed``,
        ``take_up`` (subscribed / n) and ``expected`` (mean ``p_effective``)."""
        c = self.contacts
        df = pd.DataFrame({"service": c["service"].astype(str), "group": c["group"].astype(str),
                           "delivered": c["delivered"].to_numpy(), "replied": c["replied_at"].notna().to_numpy(),
                           "subscribed": c["subscribed_at"].notna().to_numpy(),
                           "p": self.truth["p_effective"].to_numpy()})
        out = df.groupby(["service", "group"]).agg(n=("p", "size"), delivered=("delivered", "sum"),
                                                    replied=("replied", "sum"), subscribed=("subscribed", "sum"),
                                                    expected=("p", "mean"))
        out.insert(4, "take_up", out["subscribed"] / out["n"])
        return out.reset_index()

    def summary(self) -> Summary:
        """Counts per service and group against the planted expectation."""
        return Summary(f"Simulated responses, {self.month}", (("by service and group", self.counts()),),
                       (f"{len(self.subscriptions):,} new subscriptions (campaign, control and organic)",))

    def plot(self, ax=None):
        """Observed take-up against the planted expectation, per service and group."""
        ax = get_ax(ax)
        t = self.counts()
        x = np.arange(len(t))
        ax.bar(x - 0.2, t["take_up"], 0.4, label="observed")
        ax.bar(x + 0.2, t["expected"], 0.4, label="planted")
        ax.set_xticks(x, [f"{s}\n{g}" for s, g in zip(t["service"], t["group"], strict=True)])
        ax.set_ylabel("take-up")
        ax.set_title(f"Responses {self.month}")
        ax.legend()
        return ax


# --------------------------------------------------------------------------- probabilities
def _world_seed(pdata) -> int:
    truth = getattr(pdata, "truth", None)
    if truth is not None:
        return int(truth.seed)
    return int(pdata.meta.get("seed", 0))


def _month_rows(usage: pd.DataFrame, month: str) -> pd.DataFrame:
    rows = usage[in_labels(usage["month"], [month])]   # by the column's codes: no string per row
    if len(rows) == 0:
        have = sorted(map(str, usage["month"].unique()))
        raise schema_error(table="usage", column="month", expected=f"rows for the month before the offers, {month!r}",
                           found=f"months {have[-4:]}", fix="respond to month m needs the usage of month m - 1")
    return rows


def _driver(pdata, col: str, rows: pd.DataFrame, n: int) -> np.ndarray:
    src = rows if col in rows.columns else pdata.users
    x = np.zeros(n, dtype=np.float64)
    x[src["user_id"].to_numpy()] = src[col].to_numpy(dtype=np.float64)
    return x


def take_up_probability(pdata, *, month: str, services: list[str] | tuple[str, ...] | None = None,
                        heterogeneity: bool = True) -> pd.DataFrame:
    """Every user's planted take-up probability of each service in ``month``.

    Parameters
    ----------
    pdata : ProvinceData
        The simulated world holding the ``usage`` rows of ``month - 1``.
    month : str
        The month of the offers, 'YYYY-MM'.
    services : list of str, optional
        The services to compute (codes of :data:`SERVICES`); None: all of them. A service's
        probabilities do not depend on which others are asked for.
    heterogeneity : bool, default True
        False: without the unobservable per-user effect ``u`` (``u = 0``), the part of the
        probability the users' data can tell (the ceiling of any model of those data).

    Returns
    -------
    DataFrame
        Index ``user_id`` (0..n-1); one float column ``p_<service>`` per service, in the
        order of :data:`SERVICES`.

    Raises
    ------
    ParameterError
        A service outside :data:`SERVICES`.
    """
    check_month(month)
    wanted = _wanted_services(services)
    n = len(pdata.users)
    table = np.empty((n, len(wanted)), dtype=np.float64)   # one block: no per-column copy into the frame
    for j, (_, p) in enumerate(take_up_columns(pdata, month=month, services=wanted, heterogeneity=heterogeneity)):
        table[:, j] = p
    return pd.DataFrame(table, columns=[f"p_{s}" for s in wanted], index=pd.RangeIndex(n, name="user_id"), copy=False)


def _wanted_services(services) -> tuple[str, ...]:
    if services is None:
        return SERVICES
    bad = sorted(set(map(str, services)) - set(SERVICES))
    if bad:
        raise parameter_error("services", expected=f"codes of {list(SERVICES)}", found=bad[:5])
    return tuple(s for s in SERVICES if s in set(map(str, services)))


def take_up_columns(pdata, *, month: str, services: list[str] | tuple[str, ...] | None = None,
                    heterogeneity: bool = True,
                    users: np.ndarray | dict[str, np.ndarray] | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """The columns of :func:`take_up_probability` one service at a time.

    Yields ``(service, p)`` with ``p`` the float64 array of every user's probability (index =
    user_id), in the order of :data:`SERVICES`, equal to ``take_up_probability(...)["p_" +
    service]``; only one service's array is built at a time, so a caller that keeps a few
    users' values holds n floats, not n per service.

    ``users`` (optional): integer user ids, or a dict of service -> integer user ids (a
    service left out of the dict: no user). ``p`` then holds only those users' values, in
    that order, equal to the full column taken at them. The drivers' standardisation and
    the per-user draws still run over every user (they define the values); the
    probabilities are computed for the users asked for only.
    """
    check_month(month)
    wanted = _wanted_services(services)
    rows = _month_rows(pdata.usage, shift_month(month, -1))   # checked now, not at the first value
    at = None
    if users is not None:
        n = len(pdata.users)
        at = {s: _user_ids(users.get(s, ()) if isinstance(users, dict) else users, n, s) for s in wanted}
    return _columns(pdata, rows, wanted, heterogeneity, at)


def _user_ids(ids, n: int, service: str) -> np.ndarray:
    at = np.asarray(ids, dtype=np.int64) if len(ids) == 0 else np.asarray(ids)
    if at.dtype.kind not in "iu" or (len(at) and (at.min() < 0 or at.max() >= n)):
        raise parameter_error(f"users[{service!r}]", expected=f"integer user ids in [0, {n})",
                              found=f"dtype {at.dtype}, range {at.min() if len(at) else None}.."
                                    f"{at.max() if len(at) else None}")
    return at


def _columns(pdata, rows: pd.DataFrame, wanted: tuple[str, ...], heterogeneity: bool,
             at: dict[str, np.ndarray] | None = None) -> Iterator[tuple[str, np.ndarray]]:
    n = len(pdata.users)
    world_seed = _world_seed(pdata)
    loop = [s for s in wanted if s in RULES]
    feats = {c: _driver(pdata, c, rows, n) for c in {f for s in loop for conj in RULES[s]["rules"]
                                                     for f, _, _ in conj}}
    u_loop = None
    if loop:   # the loop services' per-user effects: one draw of (3, n), as before the catalog was added
        rng = np.random.default_rng(np.random.SeedSequence([world_seed, 0x7E5]))  # fixed per user
        u_loop = rng.standard_normal((len(LOOP_SERVICES), n)) * HETEROGENEITY_SD
    drivers: dict[str, np.ndarray] = {}
    for s in wanted:
        col, beta = SMOOTH[s]
        if col not in drivers:
            x = _driver(pdata, col, rows, n)
            if col != "age":
                x = np.log1p(np.maximum(x, 0))
            drivers[col] = np.clip((x - x.mean()) / (x.std() + 1e-9), -3, 3)
        idx = slice(None) if at is None else at[s]   # every user, or the users asked for
        z = drivers[col][idx]
        if s in RULES:
            p0 = true_propensity(s, {f: v[idx] for f, v in feats.items()}).astype(np.float64)
            u = u_loop[LOOP_SERVICES.index(s)][idx]
        else:
            p0 = np.full(len(z), BASE_TAKE_UP[s])
            rng = np.random.default_rng(np.random.SeedSequence([world_seed, 0x7E5, 1 + SERVICES.index(s)]))
            u = (rng.standard_normal(n) * HETEROGENEITY_SD)[idx]
        logit = np.log(p0 / (1 - p0)) + beta * z + (u if heterogeneity else 0.0)
        yield s, 1.0 / (1.0 + np.exp(-logit))


# --------------------------------------------------------------------------- checks
def _check_plan(plan: object, n_users: int, month: str) -> pd.DataFrame:
    plan = check_frame(plan, table="plan", columns=PLAN_COLUMNS, min_rows=0)
    svc_code = _known_codes(plan, "service", SERVICES, show_rows=True)
    _known_codes(plan, "channel", list(CHANNEL_EFFECT))
    _known_codes(plan, "group", catalog.CONTACT_GROUPS, expected="'target' or 'control'")
    uid = plan["user_id"].to_numpy()
    if not pd.api.types.is_integer_dtype(plan["user_id"]) or (len(uid) and (uid.min() < 0 or uid.max() >= n_users)):
        raise schema_error(table="plan", column="user_id", expected=f"integer user ids in [0, {n_users})",
                           found=f"dtype {plan['user_id'].dtype}, range {uid.min() if len(uid) else None}.."
                                 f"{uid.max() if len(uid) else None}")
    ndays = pd.Period(month, "M").days_in_month
    day = plan["day"].to_numpy()
    if len(day) and (day.min() < 1 or day.max() > ndays):
        raise schema_error(table="plan", column="day", expected=f"days of {month} in [1, {ndays}]",
                           found=f"{day.min()}..{day.max()}")
    ws, we = plan["window_start"].to_numpy(float), plan["window_end"].to_numpy(float)
    if len(ws) and ((ws < 0).any() or (we > 24).any() or (we <= ws).any()):
        raise schema_error(table="plan", column="window_start",
                           expected="send windows in hours with 0 <= window_start < window_end <= 24",
                           found=f"{ws.min()}..{we.max()}")
    dup = pd.Index(uid.astype(np.int64) * len(SERVICES) + svc_code).duplicated()   # (user, service) as one int key
    if dup.any():
        raise schema_error(table="plan", column="user_id", expected="one row per (user_id, service)",
                           found=f"{int(dup.sum())} duplicate rows", rows=plan[dup].head(3).to_dict("records"))
    return plan


def _known_codes(plan: pd.DataFrame, column: str, allowed, *, expected: str | None = None,
                 show_rows: bool = False) -> np.ndarray:
    """Each row's position in ``allowed``, found by the column's codes (no string per row);
    raises the SchemaError naming the plan's column and its unknown values."""
    pos = label_positions(plan[column], allowed)
    bad = pos < 0
    if bad.any():
        found = sorted(set(plan[column][bad].astype(str)))[:5]
        rows = plan[bad].head(3).to_dict("records") if show_rows else None
        raise schema_error(table="plan", column=column, expected=expected or f"one of {list(allowed)}",
                           found=found, rows=rows)
    return pos


def _holders(subs: pd.DataFrame, service: str, t: np.int64, n: int) -> np.ndarray:
    s = subs[(subs["service"] == service).to_numpy()] if len(subs) else subs
    start = s["start"].to_numpy().view(np.int64)
    end = s["end"].to_numpy().view(np.int64)
    ok = (start < t) & ((end == _NAT) | (end >= t))
    out = np.zeros(n, dtype=bool)
    out[s["user_id"].to_numpy()[ok]] = True
    return out


def _fatigue_contacts(contacts: pd.DataFrame, t0: np.int64, t_from: np.int64, n: int) -> np.ndarray:
    if len(contacts) == 0:
        return np.zeros(n, dtype=np.int32)
    sent = contacts["sent_at"].to_numpy().view(np.int64)
    ok = (sent != _NAT) & (sent >= t_from) & (sent < t0) & (contacts["group"].astype(str).to_numpy() == "target")
    return np.bincount(contacts["user_id"].to_numpy()[ok], minlength=n).astype(np.int32)


# --------------------------------------------------------------------------- respond
def respond(pdata, plan: pd.DataFrame, *, month: str, seed: int) -> Responses:
    """Answer ``plan`` in ``month`` on the simulated world ``pdata``.

    Parameters
    ----------
    pdata : ProvinceData
        The world so far: ``users``; ``usage`` up to ``month - 1``; ``subscriptions`` and
        ``contacts`` up to the end of ``month - 1``; ``kpis`` with ``month - 1``.
    plan : DataFrame
        One row per offer: ``user_id``, ``service`` (one of :data:`SERVICES`: every service of
        the catalog), ``channel`` (one of :data:`CHANNEL_EFFECT`: every channel of the catalog), ``group`` (``target``: sent; ``control``: held
        out), ``day`` (day of the month of the send), ``window_start`` / ``window_end``
        (send window, hours of the day). One row per (user_id, service).
    month : str
        The month of the offers, 'YYYY-MM'.
    seed : int
        Seed of the draws (>= 0).

    Returns
    -------
    Responses
        ``contacts``, new ``subscriptions``, ``usage`` and ``kpis`` of the month, and the
        per-row ``truth``.

    Raises
    ------
    SchemaError
        A plan column is missing or holds an unknown service, channel or group, a user id
        outside the world, a day outside the month, a bad window or duplicate rows; no usage
        for ``month - 1``.
    ParameterError
        Malformed month, bad seed.
    """
    check_month(month)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise parameter_error("seed", expected="an integer >= 0", found=seed)
    n = len(pdata.users)
    plan = _check_plan(plan, n, month)
    plan = plan.assign(service=plan["service"].astype(str)).sort_values(["service", "user_id"], kind="stable")
    plan = plan.reset_index(drop=True)
    ym = int(month[:4]) * 12 + int(month[5:7])
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), ym]))
    t0 = month_start(month).astype(np.int64)
    t_end = month_start(shift_month(month, 1)).astype(np.int64)
    t_fat = month_start(shift_month(month, -int(PLANTED["fatigue_months"]))).astype(np.int64)
    offered = set(plan["service"].unique())
    needed = tuple(s for s in SERVICES if s in LOOP_SERVICES or s in offered)
    p_all = take_up_probability(pdata, month=month, services=needed)
    subs = pdata.subscriptions
    held = {s: _holders(subs, s, t0, n) for s in needed}
    k_fat = _fatigue_contacts(pdata.contacts, t0, t_fat, n)

    uid = plan["user_id"].to_numpy().astype(np.int64)
    svc = plan["service"].to_numpy()
    ch = plan["channel"].astype(str).to_numpy()
    ctrl = plan["group"].astype(str).to_numpy() == "control"
    k = len(plan)
    p_true = np.zeros(k)
    eligible = np.zeros(k, dtype=bool)
    for s in needed:
        m = svc == s
        p_true[m] = p_all[f"p_{s}"].to_numpy()[uid[m]]
        eligible[m] = ~held[s][uid[m]]
    deliv_rate = np.array([DELIVERY[c] for c in ch]) if k else np.zeros(0)
    effect = np.array([CHANNEL_EFFECT[c] for c in ch]) if k else np.zeros(0)
    p_deliv = np.minimum(1.0, p_true * effect * FATIGUE ** k_fat[uid])
    p_eff = np.where(ctrl, CONTROL_FACTOR * p_true, deliv_rate * p_deliv) * eligible

    # ---- draws (fixed order: one vector per quantity over the sorted plan) -----------
    r_del, r_sub, r_inv, r_ret = (rng.random(k) for _ in range(4))
    r_hour, r_lag, r_sec, r_un, r_ctime = (rng.random(k) for _ in range(5))
    delivered = ~ctrl & (r_del < deliv_rate)
    sub_t = delivered & eligible & (r_sub < p_deliv)
    invalid = delivered & ~sub_t & (r_inv < INVALID_REPLY * p_deliv)
    sub_c = ctrl & eligible & (r_sub < CONTROL_FACTOR * p_true)
    day = plan["day"].to_numpy().astype(np.int64)
    ws, we = plan["window_start"].to_numpy(float), plan["window_end"].to_numpy(float)
    sent = t0 + (day - 1) * DAY_NS + ((ws + (we - ws) * r_hour) * _HOUR_NS).astype(np.int64)
    sent = np.where(ctrl, _NAT, sent)
    last = t_end - 10**9
    replied = np.full(k, _NAT, dtype=np.int64)
    rep = sub_t | invalid
    lag = (-np.log1p(-r_lag) * 0.5 * DAY_NS).astype(np.int64)
    replied[rep] = np.minimum(sent[rep] + lag[rep], last - 200 * 10**9)
    subscribed = np.full(k, _NAT, dtype=np.int64)
    subscribed[sub_t] = replied[sub_t] + (5 + 115 * r_sec[sub_t]).astype(np.int64) * 10**9
    subscribed[sub_c] = t0 + (r_ctime[sub_c] * (t_end - t0 - 10 * 10**9)).astype(np.int64)
    has = subscribed != _NAT
    unsub = np.full(k, _NAT, dtype=np.int64)
    drop = has & (r_ret >= RETENTION)
    unsub[drop] = np.minimum(subscribed[drop] + ((0.1 + 2.9 * r_un[drop]) * DAY_NS).astype(np.int64), last)
    for a in (sent, replied, subscribed, unsub):
        floor_to_microseconds(a)

    cids = [campaign_id(month, s) for s in SERVICES]
    code = pd.Series(svc, dtype=object).map({s: i for i, s in enumerate(SERVICES)}).to_numpy(dtype=np.int8)
    contacts = pd.DataFrame({
        "campaign_id": pd.Categorical.from_codes(code.astype(np.int8), categories=cids),
        "user_id": uid.astype(np.int32),
        "step": np.ones(k, dtype=np.int8),
        "service": pd.Categorical(svc, categories=list(catalog.SERVICES)),
        "group": pd.Categorical(np.where(ctrl, "control", "target"), categories=list(catalog.CONTACT_GROUPS)),
        "sent_at": sent.view("datetime64[ns]"),
        "delivered": delivered,
        "replied_at": replied.view("datetime64[ns]"),
        "reply_valid": sub_t.copy(),
        "subscribed_at": subscribed.view("datetime64[ns]"),
        "unsubscribed_at": unsub.view("datetime64[ns]"),
        "channel": pd.Categorical(ch, categories=list(CHANNEL_EFFECT)),
    })
    truth = pd.DataFrame({"user_id": uid.astype(np.int32), "service": svc, "channel": ch,
                          "group": np.where(ctrl, "control", "target"), "eligible": eligible,
                          "fatigue_contacts": k_fat[uid], "p_true": p_true, "p_effective": p_eff})

    # ---- organic take-up of everyone not in the plan -----------------------------------
    org_users, org_svc, org_t = [], [], []
    for s in needed:
        in_plan = np.zeros(n, dtype=bool)
        in_plan[uid[svc == s]] = True
        pool = ~held[s] & ~in_plan
        # the loop services draw from the month's stream (as before the catalog was added); the
        # others each from their own, so a service's organic take-up ignores what else is offered
        r_s = rng if s in LOOP_SERVICES else np.random.default_rng(
            np.random.SeedSequence([int(seed), ym, 1 + SERVICES.index(s)]))
        draw = r_s.random(n)
        tt = r_s.random(n)
        take = pool & (draw < CONTROL_FACTOR * p_all[f"p_{s}"].to_numpy())
        idx = np.flatnonzero(take)
        org_users.append(idx)
        org_svc.append(np.full(len(idx), s, dtype=object))
        org_t.append(t0 + (tt[idx] * (t_end - t0 - 10 * 10**9)).astype(np.int64))
    o_users = np.concatenate(org_users)
    o_t = floor_to_microseconds(np.concatenate(org_t))
    new_subs = _subscription_rows(pdata, month=month, contacts=contacts, plan_channel=ch,
                                  organic=(o_users, np.concatenate(org_svc), o_t))
    usage = _next_usage(pdata, rng, month)
    kpis = _next_kpis(pdata, rng, month, held, new_subs, t_end)
    return Responses(month=month, contacts=contacts, subscriptions=new_subs, usage=usage, kpis=kpis,
                     truth=truth, planted=PLANTED)


def _subscription_rows(pdata, *, month, contacts, plan_channel, organic) -> pd.DataFrame:
    subs = pdata.subscriptions
    has = contacts["subscribed_at"].notna().to_numpy()
    ctrl = contacts["group"].astype(str).to_numpy() == "control"
    camp = has & ~ctrl
    o_users, o_svc, o_t = organic
    users = np.concatenate([contacts["user_id"].to_numpy()[has], o_users]).astype(np.int32)
    svc = np.concatenate([contacts["service"].astype(str).to_numpy()[has], o_svc])
    start = np.concatenate([contacts["subscribed_at"].to_numpy()[has].view(np.int64), o_t])
    end = np.concatenate([contacts["unsubscribed_at"].to_numpy()[has].view(np.int64),
                          np.full(len(o_users), _NAT, dtype=np.int64)])
    pref = pdata.users["preferred_channel"].astype(str).to_numpy()
    pch = np.where(np.isin(plan_channel, catalog.CHANNELS), plan_channel, "sms")
    channel = np.concatenate([np.where(ctrl[has], pref[contacts["user_id"].to_numpy()[has]], pch[has]),
                              pref[o_users]])
    source = np.concatenate([np.where(camp[has], contacts["campaign_id"].astype(str).to_numpy()[has], "organic"),
                             np.full(len(o_users), "organic", dtype=object)])
    out = pd.DataFrame({
        "user_id": users,
        "service": pd.Categorical(svc, categories=list(catalog.SERVICES)),
        "start": start.view("datetime64[ns]"),
        "end": end.view("datetime64[ns]"),
        "channel": pd.Categorical(channel, categories=list(catalog.CHANNELS)),
        "source": pd.Categorical(source),
    })
    if "sp_id" in subs.columns:
        out["sp_id"] = pd.Categorical([None] * len(out), categories=subs["sp_id"].cat.categories
                                      if isinstance(subs["sp_id"].dtype, pd.CategoricalDtype) else None)
    return out.sort_values(["user_id", "service", "start"], kind="stable").reset_index(drop=True)


_NOISE_SD = 0.1


def _next_usage(pdata, rng, month: str) -> pd.DataFrame:
    prev = _month_rows(pdata.usage, shift_month(month, -1))
    ndays = pd.Period(month, "M").days_in_month
    cols = {"user_id": prev["user_id"].to_numpy(),
            "month": pd.Categorical([month] * len(prev))}
    for c in prev.columns:
        if c in ("user_id", "month"):
            continue
        x = prev[c].to_numpy()
        f = np.exp(rng.standard_normal(len(x)) * _NOISE_SD)
        if pd.api.types.is_integer_dtype(x.dtype):
            info = np.iinfo(x.dtype)
            hi = ndays if c == "call_days" else info.max
            cols[c] = np.clip(np.rint(x * f), 0, hi).astype(x.dtype)
        else:
            cols[c] = (x * f).astype(x.dtype)
    return pd.DataFrame(cols)


def _next_kpis(pdata, rng, month: str, held: dict, new_subs: pd.DataFrame, t_end) -> pd.DataFrame:
    prev_m = shift_month(month, -1)
    k = pdata.kpis
    prev = k[k["month"].astype(str) == prev_m].copy()
    if len(prev) == 0:
        raise schema_error(table="kpis", column="month", expected=f"rows for {prev_m!r}", found="none")
    n = len(pdata.users)
    pref = pdata.users["prefecture"].astype(str).to_numpy()
    old = pdata.subscriptions
    cats = list(catalog.SERVICES)
    both = pd.concat([old.loc[old["service"].isin(list(held)).to_numpy(), ["user_id", "start", "end"]]
                      .assign(service=lambda d: pd.Categorical(old.loc[d.index, "service"].astype(str), categories=cats)),
                      new_subs[["user_id", "start", "end"]].assign(
                          service=pd.Categorical(new_subs["service"].astype(str), categories=cats))],
                     ignore_index=True)
    pcode, pnames = pd.factorize(pref)
    m = len(pnames)
    for c in ("activity", "loyalty", "retention", "revenue_share", "usage_per_user"):
        if c in prev.columns:
            v = prev[c].to_numpy(float) * np.exp(rng.standard_normal(len(prev)) * 0.02)
            prev[c] = np.clip(v, 0, 1) if c != "usage_per_user" else v
    for s in held:
        before = pd.Series(np.bincount(pcode, weights=held[s], minlength=m), index=pnames)
        after = pd.Series(np.bincount(pcode, weights=_holders(both, s, t_end, n), minlength=m), index=pnames)
        ratio = (after / before.where(before > 0)).fillna(1.0)
        rows = prev["service"].astype(str) == s
        r = ratio.reindex(prev.loc[rows, "region"].astype(str)).fillna(1.0).to_numpy()
        prev.loc[rows, "penetration"] = np.clip(prev.loc[rows, "penetration"].to_numpy() * r, 0, 1)
        prev.loc[rows, "growth"] = np.maximum(r - 1.0, -1.0)
    prev["month"] = pd.Categorical([month] * len(prev))
    return prev.reset_index(drop=True)
