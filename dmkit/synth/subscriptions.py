"""Subscriptions: holdings, start dates, unsubscription hazards, bundles, cross-sell pairs,
time-ordered sequences and the propensity-driven services.

Every service's rows are drawn with vectorised numpy; times are int64 nanoseconds.
"Ever held" = the user has a row for the service; "active" = no end before the end of
the data month.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dmkit import catalog
from dmkit.synth.calendar import DAY_NS, MONTH_DAYS, month_start, shift_month
from dmkit.synth.profiles import SP_SERVICES, Profile
from dmkit.synth.propensity import RULES
from dmkit.synth.users import BRAND_MZONE

__all__ = ["structure_truth", "BUNDLES", "CROSS_SELL", "SEQUENCES", "CRBT_HAZARD", "STAGE_HAZARD", "SubsBuilder",
           "draw_subscriptions"]

SVC = {s: i for i, s in enumerate(catalog.SERVICES)}
CHAN = {c: i for i, c in enumerate(catalog.CHANNELS)}

#: name, items, share of the smallest item's holders who take the whole bundle together
BUNDLES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("music_fan", ("music_club", "full_song", "ringtone"), 0.5),
    ("mobile_media", ("gprs_package", "mobile_tv", "mobile_video"), 0.5),
    ("basic_care", ("missed_call", "caller_id", "secretary"), 0.5),
    ("info_pack", ("weather", "news_sms", "sports_news"), 0.5),
    ("family", ("family_plan", "contacts_backup"), 0.5),
)
#: antecedent, consequent, planted lift P(B|A)/P(B) on ever-held services
CROSS_SELL: tuple[tuple[str, str, float], ...] = (
    ("mms", "monternet_mms", 2.0),
    ("gprs_package", "mobile_map", 2.5),
    ("kjava_games", "game_together", 4.0),
    ("english", "mobile_reading", 3.0),
)
#: consequent, antecedents, odds multiplier per antecedent held: P(consequent) is
#: proportional to multiplier ** (number of antecedents held) (case Y7, mobile securities)
MULTI_CROSS_SELL: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("securities", ("mobile_payment", "gprs_package", "wap"), 4.0),
)
#: first, then, p_follow (share of ``first`` holders who take ``then`` later; None = set by
#: the propensity rule of ``then``), median gap in days
SEQUENCES: tuple[tuple[str, str, float | None, float], ...] = (
    ("crbt", "music", 0.30, 40.0),
    ("fetion", "fetion_client", 0.40, 30.0),
    ("wap", "newspaper", None, 60.0),
    ("mailbox", "mail_notify", None, 50.0),
)
SEQ_FORCED = 0.8   # share of a propensity service's holders who took the "first" service before
GAP_SIGMA = 0.5    # lognormal sigma of the gaps

#: planted CRBT unsubscription hazard (exponential, per month of 30.4375 days)
CRBT_HAZARD = {
    "distribution": "exponential",
    "baseline": 0.025,
    "unit": "per month (30.4375 days)",
    "hazard_ratios": {"campaign": 1.8, "age_under_25": 1.4, "brand_mzone": 1.3, "complaints": 2.0},
    "covariates": {
        "campaign": "subscriptions.source != 'organic' (a campaign id)",
        "age_under_25": "users.age < 25",
        "brand_mzone": "users.brand == 'mzone'",
        "complaints": "usage.complaints > 0 in the data month",
    },
    "duration": "(end, or the first instant after the data month if end is null) - start",
    "event": "end is not null",
}
CRBT_CAMPAIGN_SHARE = 0.25
CRBT_CAMPAIGN_LAGS = (2, 5, 8, 11, 14, 17, 20, 23)  # months before the data month
#: generic monthly unsubscription hazard per product stage (services without covariates)
STAGE_HAZARD = {"introduction": 0.015, "growth": 0.010, "maturity": 0.012, "decline": 0.035}
SP_PUSH_SHARE = 0.02   # share of SP-service subscriptions ordered by SP push (legitimately)
NO_CHURN = {"newspaper", "mail_notify", "fetion", "sms_p2p"}


@dataclass
class SubsBuilder:
    """Accumulates subscription rows as arrays."""

    n: int
    t_end: np.int64                                  # first instant after the data month (ns)
    sources: list = field(default_factory=lambda: ["organic"])
    blocks: list = field(default_factory=list)
    held: dict = field(default_factory=dict)         # service -> (users, start, end) main rows
    block_service: list = field(default_factory=list)

    def add(self, users, service, start, end, *, channel=-1, source=0, sp=None, main=True):
        users = np.asarray(users, dtype=np.int32)
        k = len(users)
        start = np.asarray(start, dtype=np.int64)
        end = np.asarray(end, dtype=np.int64)
        ch = np.broadcast_to(np.asarray(channel, dtype=np.int8), (k,))
        src = np.broadcast_to(np.asarray(source, dtype=np.int16), (k,))
        spa = np.full(k, -1, dtype=np.int16) if sp is None else np.asarray(sp, dtype=np.int16)
        svc = np.full(k, SVC[service], dtype=np.int8)
        self.blocks.append((users, svc, start, end, ch, src, spa))
        self.block_service.append(service)
        if main:
            self.held[service] = (users, start, end)

    def source_code(self, name: str) -> int:
        if name not in self.sources:
            self.sources.append(name)
        return self.sources.index(name)

    def ever(self, service: str) -> np.ndarray:
        m = np.zeros(self.n, dtype=bool)
        m[self.held[service][0]] = True
        return m

    def active(self, service: str) -> np.ndarray:
        u, _, e = self.held[service]
        m = np.zeros(self.n, dtype=bool)
        m[u[e == NAT]] = True
        return m

    def start_of(self, service: str) -> np.ndarray:
        s = np.full(self.n, NAT, dtype=np.int64)
        u, st, _ = self.held[service]
        s[u] = st
        return s

    def ever_all(self, service: str) -> np.ndarray:
        """Users with any row of ``service`` (all kinds of rows)."""
        m = np.zeros(self.n, dtype=bool)
        for blk, s in zip(self.blocks, self.block_service, strict=True):
            if s == service:
                m[blk[0]] = True
        return m

    def active_all(self, service: str) -> np.ndarray:
        """Users with a row of ``service`` still active at the end of the data month."""
        m = np.zeros(self.n, dtype=bool)
        for blk, s in zip(self.blocks, self.block_service, strict=True):
            if s == service:
                m[blk[0][(blk[3] == NAT) & (blk[2] < self.t_end)]] = True
        return m

    def first_start_all(self, service: str) -> np.ndarray:
        """Earliest start of ``service`` per user over all rows (NaT-as-int64 if none)."""
        big = np.iinfo(np.int64).max
        out = np.full(self.n, big, dtype=np.int64)
        for blk, s in zip(self.blocks, self.block_service, strict=True):
            if s == service:
                np.minimum.at(out, blk[0], blk[2])
        out[out == big] = NAT
        return out


NAT = np.datetime64("NaT", "ns").astype(np.int64)


def kind_start(t: np.ndarray, kind: int = 0) -> np.ndarray:
    """``t`` (int64 ns) on a whole millisecond plus ``kind`` microseconds.

    Subscription keys are (user, service, start): rows of different kinds (0 main, 1 from
    the campaign, 2 unauthorised SP orders) can never share a start, and every start is a
    whole microsecond, the precision of the Parquet files.
    """
    return t - t % 1_000_000 + kind * 1000


def _days_back(rng, stage: str, k: int) -> np.ndarray:
    u = rng.random(k)
    if stage == "maturity":
        return u * 2190.0
    if stage == "growth":
        return 1095.0 * (1.0 - np.sqrt(u))
    if stage == "introduction":
        return 540.0 * (1.0 - np.cbrt(u))
    return 730.0 + 1460.0 * u   # decline: mostly old starts


def _survival_share(stage: str, hazard: float) -> float:
    """Expected share of ever-holders still active at the end of the data month."""
    rng = np.random.default_rng(12345)
    d = _days_back(rng, stage, 20_000)
    return float(np.mean(np.exp(-hazard * d / MONTH_DAYS)))


def _ends(rng, start, hazard_month, t_end):
    """End times from an exponential hazard (per month, scalar or per row); NaT if after t_end."""
    t = rng.standard_exponential(len(start)) / (np.asarray(hazard_month) / MONTH_DAYS)
    t = np.minimum(t, 36_500.0)
    end = start + (t * DAY_NS).astype(np.int64)
    return np.where(end < t_end, end, NAT)


def _others(rng: np.random.Generator, n: int, members: np.ndarray, q: float) -> np.ndarray:
    """Users outside ``members`` who also take the service, each with probability ``q``
    (so that members plus others reach the service's penetration)."""
    mask = np.zeros(n, dtype=bool)
    mask[members] = True
    return np.flatnonzero(~mask & (rng.random(n, dtype=np.float32) < q))


def _starts(rng, stage, k, t_end):
    s = t_end - (_days_back(rng, stage, k) * DAY_NS).astype(np.int64)
    return kind_start(s)  # main rows: kind 0


def _gaps(rng, median_days, k):
    return (median_days * np.exp(GAP_SIGMA * rng.standard_normal(k)) * DAY_NS).astype(np.int64)


def _sp_for(rng, sp_weights, k):
    c = np.cumsum(sp_weights)
    return np.minimum(np.searchsorted(c, rng.random(k) * c[-1]), len(c) - 1).astype(np.int16)


def draw_subscriptions(rng: np.random.Generator, *, profile: Profile, month: str, users: dict,
                       base: dict, p_true: dict, sp_plan, n_months: int) -> tuple[SubsBuilder, dict]:
    """Draw every service's holdings; returns the builder and truth parts.

    ``p_true`` maps each propensity service to its per-user probability.
    """
    n = len(users["age"])
    t_end = month_start(shift_month(month, 1)).astype(np.int64)
    b = SubsBuilder(n=n, t_end=np.int64(t_end))
    pen = profile.penetration
    stage = profile.product_stage
    sp_services = set(SP_SERVICES)

    def pe(s):  # ever-held share needed for the active penetration target
        return min(0.95, pen[s] / _survival_share(stage[s], STAGE_HAZARD[stage[s]]))

    def add_simple(s, holders, start=None):
        k = len(holders)
        st = _starts(rng, stage[s], k, t_end) if start is None else start
        if s in NO_CHURN:
            en = np.full(k, NAT, dtype=np.int64)
        else:
            en = _ends(rng, st, STAGE_HAZARD[stage[s]], t_end)
        if s in sp_services:
            # SP services: a few ordered by the SP's own push (most kept)
            sp = _sp_for(rng, sp_plan.weights, k)
            push = rng.random(k) < SP_PUSH_SHARE
            quick = push & (rng.random(k) < 0.1)
            en = np.where(quick, st + (rng.uniform(0.05, 3.0, k) * DAY_NS).astype(np.int64), en)
            en = np.where(en < t_end, en, NAT)
            ch = np.where(push, CHAN["sp_push"], -1).astype(np.int8)
            b.add(holders, s, st, en, sp=sp, channel=ch)
        else:
            b.add(holders, s, st, en)

    special = {"crbt", "sms_p2p", "wap", "mailbox"} | set(RULES)
    special |= {it for _, items, _ in BUNDLES for it in items}
    special |= {c for _, c, _ in CROSS_SELL} | {t for _, t, _, _ in SEQUENCES}
    special |= {c for c, _, _ in MULTI_CROSS_SELL}

    # 1. independent services (incl. cross-sell antecedents)
    for s in catalog.SERVICES:
        if s in special:
            continue
        add_simple(s, np.flatnonzero(rng.random(n, dtype=np.float32) < pe(s)))

    # 2. P2P SMS: everyone who sent P2P SMS in the data month
    add_simple("sms_p2p", np.flatnonzero(base["sms_p2p"] > 0))

    # 3. CRBT with covariate hazards
    truth_hazard = {"crbt": _draw_crbt(rng, b, profile, month, users, base, t_end, sp_plan)}

    # 4. bundles
    bundle_rows = []
    for name, items, frac in BUNDLES:
        share = frac * min(pe(i) for i in items)
        members = np.flatnonzero(rng.random(n, dtype=np.float32) < share)
        st0 = _starts(rng, stage[items[0]], len(members), t_end)
        for it in items:
            q = max(0.0, (pe(it) - share) / (1.0 - share))
            others = _others(rng, n, members, q)
            holders = np.concatenate([members, others])
            start = np.concatenate([st0, _starts(rng, stage[it], len(others), t_end)])
            add_simple(it, holders, start)
        bundle_rows.append((name, tuple(items), float(share)))

    # 5. cross-sell consequents
    cross_rows = []
    for a, c, lift in CROSS_SELL:
        has_a = b.ever(a)
        pa = has_a.mean()
        pb = pe(c)
        p_given_a = min(0.9, lift * pb)
        p_not_a = max(0.0, (pb - pa * p_given_a) / max(1e-9, 1.0 - pa))
        p = np.where(has_a, np.float32(p_given_a), np.float32(p_not_a))
        add_simple(c, np.flatnonzero(rng.random(n, dtype=np.float32) < p))
        cross_rows.append((a, c, float(lift)))

    # 6. propensity services (no churn), with "first" services forced before them
    seq_rows = []
    for s in RULES:
        holders = np.flatnonzero(rng.random(n, dtype=np.float32) < p_true[s])
        add_simple(s, holders)
    for first, then, p_follow, gap in SEQUENCES:
        if p_follow is not None:
            continue
        hu, hs, _ = b.held[then]
        forced = rng.random(len(hu)) < SEQ_FORCED
        f_users, f_start = hu[forced], hs[forced] - _gaps(rng, gap, int(forced.sum()))
        f_start = kind_start(f_start)
        pf = pe(first)
        fs = forced.sum() / n
        q = max(0.0, (pf - fs) / (1.0 - fs))
        others = _others(rng, n, f_users, q)
        holders = np.concatenate([f_users, others])
        start = np.concatenate([f_start, _starts(rng, stage[first], len(others), t_end)])
        add_simple(first, holders, start)
        seq_rows.append((first, then, None, gap))

    # 6b. consequents of several antecedents (Y7: securities), drawn once "first" services exist
    for c, ants, r in MULTI_CROSS_SELL:
        h = sum(b.ever(a).astype(np.int8) for a in ants)
        w = np.float32(r) ** h
        p = np.minimum(0.9, pe(c) * w / w.mean())
        add_simple(c, np.flatnonzero(rng.random(n, dtype=np.float32) < p))
        for a in ants:   # expected pairwise lift E[p | a] / E[p], as built
            ha = b.ever(a)
            cross_rows.append((a, c, float(p[ha].mean() / p.mean()) if ha.any() else float("nan")))

    # 7. sequences with a planted follow-up probability
    for first, then, p_follow, gap in SEQUENCES:
        if p_follow is None:
            continue
        fu, fs_, _ = b.held[first]
        take = rng.random(len(fu)) < p_follow
        st = fs_[take] + _gaps(rng, gap, int(take.sum()))
        st = kind_start(st)
        keep = st < t_end
        fol_u, fol_s = fu[take][keep], st[keep]
        # a few users take ``then`` without ``first``
        has_first = b.ever(first)
        q = 0.15 * pe(then)
        others = np.flatnonzero(~has_first & (rng.random(n, dtype=np.float32) < q))
        holders = np.concatenate([fol_u, others])
        start = np.concatenate([fol_s, _starts(rng, stage[then], len(others), t_end)])
        add_simple(then, holders, start)
        seq_rows.append((first, then, p_follow, gap))

    # 8. unauthorised ordering by offending SPs (channel sp_push, quick cancellation)
    _draw_unauthorised(rng, b, month, sp_plan, n_months)

    truth = {"hazard": truth_hazard, "bundle_rows": bundle_rows, "cross_rows": cross_rows,
             "seq_rows": seq_rows}
    return b, truth


def structure_truth(b: SubsBuilder, parts: dict) -> dict:
    """Bundles, cross-sell and sequences as realised over all rows of the final table."""
    return {"bundles": _bundle_truth(b, parts["bundle_rows"]),
            "cross_sell": _cross_truth(b, parts["cross_rows"]),
            "sequences": _sequence_truth(b, parts["seq_rows"])}


def _draw_crbt(rng, b, profile, month, users, base, t_end, sp_plan):
    n = b.n
    h = CRBT_HAZARD
    hr = h["hazard_ratios"]
    is_camp = rng.random(n, dtype=np.float32) < CRBT_CAMPAIGN_SHARE
    which = rng.integers(0, len(CRBT_CAMPAIGN_LAGS), n)
    camp_codes = np.array([b.source_code(f"{profile.code}-{shift_month(month, -lag)}-crbt-trial")
                           for lag in CRBT_CAMPAIGN_LAGS], dtype=np.int16)
    camp_start = np.array([month_start(shift_month(month, -lag)).astype(np.int64)
                           for lag in CRBT_CAMPAIGN_LAGS])
    start = np.where(is_camp, camp_start[which] + (rng.random(n) * 28 * DAY_NS).astype(np.int64),
                     _starts(rng, "maturity", n, t_end))
    start = kind_start(start)
    x = {
        "campaign": is_camp,
        "age_under_25": users["age"] < 25,
        "brand_mzone": users["brand"] == BRAND_MZONE,
        "complaints": base["complaints"] > 0,
    }
    lam = np.full(n, h["baseline"])
    for k, v in hr.items():
        lam *= np.where(x[k], v, 1.0)
    end = _ends(rng, start, lam, t_end)
    s_hat = float(np.mean(end == NAT))
    p_ever = min(0.95, profile.penetration["crbt"] / max(s_hat, 0.2))
    holders = np.flatnonzero(rng.random(n, dtype=np.float32) < p_ever)
    src = np.where(is_camp[holders], camp_codes[which[holders]], 0)
    b.add(holders, "crbt", start[holders], end[holders], source=src)
    out = dict(h)
    out["campaign_ids"] = [b.sources[c] for c in camp_codes]
    return out


def _draw_unauthorised(rng, b, month, sp_plan, n_months):
    # victim_month indexes the usage months (data month = last)
    vict = np.flatnonzero(sp_plan.victim_sp >= 0)
    if not len(vict):
        return
    k_back = (n_months - 1) - sp_plan.victim_month[vict].astype(np.int64)
    ms = np.array([month_start(shift_month(month, -int(k))).astype(np.int64)
                   for k in range(n_months)])
    start = ms[k_back] + (rng.random(len(vict)) * 27 * DAY_NS).astype(np.int64)
    start = kind_start(start, kind=2)
    quick = rng.random(len(vict)) < 0.7
    q_end = start + (rng.uniform(0.05, 3.0, len(vict)) * DAY_NS).astype(np.int64)
    slow_end = _ends(rng, start, 0.1, b.t_end)
    end = np.where(quick, q_end, slow_end)
    end = np.where(end < b.t_end, end, NAT)
    svc_pick = rng.integers(0, len(SP_SERVICES), len(vict))
    sp = sp_plan.unauthorised[sp_plan.victim_sp[vict]].astype(np.int16)
    for j, s in enumerate(SP_SERVICES):
        m = svc_pick == j
        if m.any():
            b.add(vict[m], s, start[m], end[m], channel=CHAN["sp_push"], sp=sp[m], main=False)


def _bundle_truth(b, rows):
    out = []
    for name, items, share in rows:
        allm = np.ones(b.n, dtype=bool)
        for it in items:
            allm &= b.ever_all(it)
        out.append({"bundle": name, "items": items, "share": share, "support": float(allm.mean())})
    return pd.DataFrame(out, columns=["bundle", "items", "share", "support"])


def _cross_truth(b, rows):
    out = []
    for a, c, lift in rows:
        ha, hc = b.ever_all(a), b.ever_all(c)
        real = (hc[ha].mean() / hc.mean()) if hc.any() and ha.any() else float("nan")
        out.append({"antecedent": a, "consequent": c, "lift": float(real), "planted_lift": lift})
    return pd.DataFrame(out, columns=["antecedent", "consequent", "lift", "planted_lift"])


def _sequence_truth(b, rows):
    out = []
    for first, then, p_follow, gap in rows:
        sa, sb = b.first_start_all(first), b.first_start_all(then)
        ha = sa != NAT
        follow = ha & (sb != NAT) & (sb > sa)
        both = ha & (sb != NAT)
        out.append({"first": first, "then": then,
                     "p_follow": float(follow.sum() / max(1, ha.sum())),
                     "median_gap_days": gap, "planted_p_follow": p_follow,
                     "realised_median_gap_days": float(np.median((sb - sa)[follow]) / DAY_NS)
                     if follow.any() else float("nan"),
                     "share_then_after_first": float(follow.sum() / max(1, both.sum()))})
    return pd.DataFrame(out, columns=["first", "then", "p_follow", "median_gap_days",
                                      "planted_p_follow", "share_then_after_first",
                                      "realised_median_gap_days"])
