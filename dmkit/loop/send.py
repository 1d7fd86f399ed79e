"""An offer plan sent on the simulator: the hit rate (命中率) of its contacts next month.

:func:`simulate_plan` turns an :class:`~dmkit.offers.plan.OfferPlan` into the simulator's contact
plan (one row per contact and promoted service: the activity's channel and day) and answers
it with :func:`dmkit.synth.respond.respond`. A contact is a hit when its customer subscribes
to a service the activity promotes. Beside the hits: what the plan expected (its
``p_response``) and what the simulator planted (``p_effective``: delivery x channel effect x
fatigue x the customer's true take-up probability), so a planner's over- or under-estimate
shows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dmkit._results import Result, Summary, get_ax
from dmkit.contract.labels import label_codes, label_positions
from dmkit.errors import parameter_error
from dmkit.offers.plan import OfferPlan

__all__ = ["simulate_plan", "SimulatedPlan"]

#: send window of every simulated contact (hours of the day)
WINDOW = (9.0, 21.0)


@dataclass(frozen=True)
class SimulatedPlan(Result):
    """An offer plan's contacts answered by the simulator.

    Attributes
    ----------
    contacts : DataFrame
        One row per contact of the plan: user_id, activity_id, channel and services (the
        activity's, ";"-joined; both categorical), day, p_response (the plan's expectation), p_planted (the simulator's probability of a
        subscription: one minus the product over the promoted services of one minus
        ``p_effective``), delivered, hit (the customer subscribed to a promoted service).
    month : str
        The month the contacts were sent in.
    method : str
        The plan's method.
    """

    contacts: pd.DataFrame
    month: str
    method: str

    @property
    def contacted(self) -> int:
        """Number of contacts."""
        return len(self.contacts)

    @property
    def hits(self) -> int:
        """Contacts whose customer subscribed to a promoted service."""
        return int(self.contacts["hit"].sum())

    @property
    def hit_rate(self) -> float:
        """hits / contacts (NaN without contacts)."""
        return self.hits / self.contacted if self.contacted else float("nan")

    @property
    def expected(self) -> float:
        """Take-ups the plan expected (sum of p_response)."""
        return float(self.contacts["p_response"].sum())

    @property
    def planted(self) -> float:
        """Take-ups the simulator's planted probabilities give (sum of p_planted)."""
        return float(self.contacts["p_planted"].sum())

    def to_frame(self, by: str | None = "channel") -> pd.DataFrame:
        """Per ``by`` (``channel``, ``services`` or None for one row): contacts, delivered,
        hits, hit_rate, expected (the plan's take-ups), planted, realised (= hits)."""
        d = self.contacts.assign(all="all")
        key = "all" if by is None else by
        if key not in d.columns:
            raise parameter_error("by", expected="'channel', 'services' or None", found=by)
        out = d.groupby(key, observed=True).agg(contacts=("hit", "size"), delivered=("delivered", "sum"), hits=("hit", "sum"),
                                 expected=("p_response", "sum"), planted=("p_planted", "sum"))
        out.insert(3, "hit_rate", out["hits"] / out["contacts"])
        out["realised"] = out["hits"]
        return out.sort_values("contacts", ascending=False)

    def summary(self) -> Summary:
        """Hit rate overall and per channel; expected, planted and realised take-ups."""
        return Summary(f"Plan ({self.method}) on the simulator, {self.month}",
                       (("overall", self.to_frame(None)), ("per channel", self.to_frame("channel"))),
                       (f"hit rate {self.hit_rate:.2%} of {self.contacted:,} contacts; expected "
                        f"{self.expected:,.1f} take-ups, planted {self.planted:,.1f}, realised {self.hits:,}",))

    def plot(self, ax=None):
        """Hit rate per channel, the plan's expectation and the planted rate beside it."""
        ax = get_ax(ax)
        t = self.to_frame("channel")
        x = np.arange(len(t))
        ax.bar(x - 0.27, t["hit_rate"], 0.27, label="realised")
        ax.bar(x, t["expected"] / t["contacts"], 0.27, label="expected by the plan")
        ax.bar(x + 0.27, t["planted"] / t["contacts"], 0.27, label="planted")
        ax.set_xticks(x, t.index, rotation=45, ha="right")
        ax.set_ylabel("take-ups per contact")
        ax.set_title(f"{self.method}: hit rate {self.hit_rate:.2%} ({self.month})")
        ax.legend()
        return ax


def simulate_plan(plan: OfferPlan, world, *, month: str, seed: int = 0) -> SimulatedPlan:
    """Send ``plan``'s contacts in ``month`` on the simulated ``world`` and count the hits.

    Parameters
    ----------
    plan : OfferPlan
        A plan of :func:`dmkit.offers.optimize` whose user ids are the world's and whose
        activities' channels and services are codes of :mod:`dmkit.catalog`.
    world : ProvinceData
        The simulated world with the usage of ``month - 1`` (see
        :func:`dmkit.synth.respond.respond`).
    month : str
        The month the contacts are sent in, 'YYYY-MM'; activity days are its days.
    seed : int
        Seed of the simulator's draws: same seed, world and plan give the same answer.

    Returns
    -------
    SimulatedPlan
        One row per contact with its expectation, planted probability and hit.

    Raises
    ------
    ParameterError
        ``plan`` is not an OfferPlan.
    SchemaError
        From ``respond``: a channel or service the simulator does not know, a day outside
        the month, a user outside the world.

    Notes
    -----
    A contact promoting several services becomes one simulator row per service. When one
    customer is offered the same service by two activities, the simulator sees only the
    earlier (it takes one row per customer and service); the later contact is sent but
    cannot be a hit for that service.
    """
    if not isinstance(plan, OfferPlan):
        raise parameter_error("plan", expected="an OfferPlan from dm.offers.optimize", found=type(plan).__name__)
    act = plan.activities.reset_index(drop=True)
    asg = plan.assignments
    a_code = _activity_codes(asg["activity_id"], act["activity_id"])
    n = len(asg)
    # the activities' services, flat: activity j promotes flat[start[j]:start[j + 1]]
    svc_lists = [list(v) for v in act["services"]]
    svc_names = sorted({str(x) for v in svc_lists for x in v})
    svc_pos = {x: i for i, x in enumerate(svc_names)}
    n_svc = np.array([len(v) for v in svc_lists], dtype=np.int64)
    start = np.r_[0, np.cumsum(n_svc)]
    flat = np.array([svc_pos[str(x)] for v in svc_lists for x in v], dtype=np.int64)
    # one row per contact and promoted service, by day then contact (the simulator sees the earlier offer)
    per_contact = n_svc[a_code]
    contact = np.repeat(np.arange(n, dtype=np.int64), per_contact)
    nth = np.arange(len(contact), dtype=np.int64) - np.repeat(np.cumsum(per_contact) - per_contact, per_contact)
    service = flat[start[a_code[contact]] + nth]
    day = act["day"].to_numpy().astype(np.int64)
    order = np.lexsort((contact, day[a_code[contact]]))
    contact, service = contact[order], service[order]
    user = asg["user_id"].to_numpy().astype(np.int64)
    first = ~pd.Index(user[contact] * max(len(svc_names), 1) + service).duplicated()
    contact, service = contact[first], service[first]
    ch_names = pd.Index([str(x) for x in act["channel"]])
    channels = ch_names.unique()
    act_channel = channels.get_indexer(ch_names)          # each activity's channel, a code into channels
    sim = pd.DataFrame({"user_id": user[contact],
                        "service": pd.Categorical.from_codes(service, categories=svc_names),
                        "channel": pd.Categorical.from_codes(act_channel[a_code[contact]], categories=channels),
                        "group": "target", "day": day[a_code[contact]],
                        "window_start": WINDOW[0], "window_end": WINDOW[1]})
    p_eff, deliv, sub = _answer_contacts(world, sim, month=month, seed=seed)
    miss = np.ones(n)
    np.multiply.at(miss, contact, 1.0 - p_eff)
    services = pd.Index([";".join(map(str, v)) for v in svc_lists])   # each activity's services, ";"-joined
    labels = services.unique()
    out = pd.DataFrame({
        "user_id": asg["user_id"].to_numpy(), "activity_id": asg["activity_id"].to_numpy(),
        "channel": pd.Categorical.from_codes(act_channel[a_code], categories=channels),
        "services": pd.Categorical.from_codes(labels.get_indexer(services)[a_code], categories=labels),
        "day": day[a_code], "p_response": asg["p_response"].to_numpy(np.float64),
        "p_planted": 1.0 - miss,
        "delivered": np.bincount(contact, weights=deliv, minlength=n) > 0,
        "hit": np.bincount(contact, weights=sub, minlength=n) > 0})
    return SimulatedPlan(contacts=out, month=month, method=plan.method)


def _activity_codes(ids: pd.Series, activity_ids: pd.Series) -> np.ndarray:
    """Position of each assignment's activity in the plan's activities table (categorical ids
    by code: one lookup per category, not per row)."""
    pos = label_positions(ids, pd.Index(activity_ids.astype(str)))
    if (pos < 0).any():
        raise parameter_error("plan.assignments.activity_id", expected="activities of plan.activities",
                              found=sorted(set(ids[pos < 0].astype(str)))[:5])
    return pos.astype(np.int64)


def _answer_contacts(world, plan: pd.DataFrame, *, month: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The simulator's answer to a plan of target contacts, for those contacts only.

    The values :func:`dmkit.synth.respond.respond` gives the same rows (same ``world``,
    ``plan``, ``month`` and ``seed``): ``p_effective`` of its truth, ``delivered`` and
    whether ``subscribed_at`` is set, in ``plan``'s row order. Only what those rows need is
    computed: the planted take-up of the offered services (``take_up_columns``, one at a time), the
    holdings at the month's start of the contacted (user, service) pairs, the fatigue
    counts, and respond's first two draws (delivery, subscription), which depend on the
    plan's rows alone; not the organic take-up, the next month's usage and KPIs and the
    subscription rows respond also writes for the whole world (most of its cost at
    province scale). ``tests/test_offers_simulate.py`` checks the equality.

    Returns
    -------
    (p_effective, delivered, subscribed) : tuple of ndarray
        float, bool, bool per plan row.
    """
    import importlib

    from dmkit.contract.months import check_month
    from dmkit.synth.calendar import month_start, shift_month

    sim = importlib.import_module("dmkit.synth.respond")  # the module (dmkit.synth.respond is also its function)

    check_month(month)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise parameter_error("seed", expected="an integer >= 0", found=seed)
    n = len(world.users)
    plan = sim._check_plan(plan, n, month)
    if (plan["group"].astype(str) != "target").any():
        raise parameter_error("plan.group", expected="target contacts only", found="control rows")
    k = len(plan)
    uid = plan["user_id"].to_numpy().astype(np.int64)
    svc_code, svc_names = _sorted_codes(plan["service"])
    order = np.lexsort((uid, svc_code))           # respond's row order: by service, then user
    ym = int(month[:4]) * 12 + int(month[5:7])
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), ym]))
    r_del, r_sub = np.empty(k), np.empty(k)
    r_del[order] = rng.random(k)                  # respond draws delivery first, subscription second
    r_sub[order] = rng.random(k)
    t0 = month_start(month).astype(np.int64)
    t_fat = month_start(shift_month(month, -int(sim.PLANTED["fatigue_months"]))).astype(np.int64)
    p_true = np.zeros(k)
    code_of = {s: j for j, s in enumerate(svc_names)}
    rows_of = {s: np.flatnonzero(svc_code == code_of[s]) for s in svc_names}
    for s, p in sim.take_up_columns(world, month=month, services=list(svc_names),
                                    users={s: uid[r] for s, r in rows_of.items()}):   # the contacted users' values only
        p_true[rows_of[s]] = p
    eligible = ~_held(world.subscriptions, uid, svc_code, list(svc_names), t0)
    ch_code, ch_names = _sorted_codes(plan["channel"])
    deliv_rate = np.array([sim.DELIVERY[c] for c in ch_names], dtype=float)[ch_code]
    effect = np.array([sim.CHANNEL_EFFECT[c] for c in ch_names], dtype=float)[ch_code]
    k_fat = sim._fatigue_contacts(world.contacts, t0, t_fat, n)[uid]
    p_deliv = np.minimum(1.0, p_true * effect * sim.FATIGUE ** k_fat)
    delivered = r_del < deliv_rate
    subscribed = delivered & eligible & (r_sub < p_deliv)
    return deliv_rate * p_deliv * eligible, delivered, subscribed


def _sorted_codes(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """``pd.factorize(col.astype(str), sort=True)`` through the column's codes: the labels
    present, sorted, and each row's position among them (no string per row)."""
    codes, names = label_codes(col)
    present = np.flatnonzero(np.bincount(codes, minlength=len(names)))   # no missing values: checked before
    labels = sorted(names[c] for c in present)
    rank = np.full(len(names), -1, dtype=np.int64)
    rank[present] = pd.Index(labels).get_indexer([names[c] for c in present])
    return rank[codes], labels


def _held(subs: pd.DataFrame, uid: np.ndarray, svc_code: np.ndarray, services: list[str], t: np.int64) -> np.ndarray:
    """Whether user ``uid[i]`` holds ``services[svc_code[i]]`` at instant ``t`` (started before, not ended):
    one pass over the subscriptions, only the offered services' rows kept."""
    row_svc = label_positions(subs["service"], services).astype(np.int16)   # through the codes: no string per row
    users = subs["user_id"].to_numpy()
    contacted = np.zeros(int(max(uid.max(initial=-1), users.max(initial=-1))) + 1, dtype=bool)
    contacted[uid] = True
    ok = (row_svc >= 0) & contacted[users]
    ok[ok] &= subs["start"].to_numpy()[ok].view(np.int64) < t
    end = subs["end"].to_numpy()[ok].view(np.int64)
    ok[ok] &= (end == np.iinfo(np.int64).min) | (end >= t)
    held_keys = users[ok].astype(np.int64) * len(services) + row_svc[ok]
    return pd.Index(uid * len(services) + svc_code).isin(held_keys)   # hashed: no sort of the keys
