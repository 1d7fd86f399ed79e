"""``generate``: one province, one data month, any size — the tables plus the planted truth."""
from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from dmkit import catalog
from dmkit.contract.months import check_month
from dmkit.contract.province import ProvinceData
from dmkit.contract.truth import Truth
from dmkit.errors import parameter_error
from dmkit.synth import (
    campaign,
    kpis,
    lifecycle,
    matrix,
    preferences,
    revenue,
    revenue_parts,
    social,
)
from dmkit.synth.calendar import MONTH_DAYS, floor_to_microseconds, month_range
from dmkit.synth.events import draw_events
from dmkit.synth.profiles import PROVINCES
from dmkit.synth.propensity import RULES, true_propensity
from dmkit.synth.sp import plan_sps
from dmkit.synth.subscriptions import CHAN, draw_subscriptions, structure_truth
from dmkit.synth.usage import build_panel, draw_base
from dmkit.synth.users import draw_users

__all__ = ["generate"]

_STREAMS = ("users", "sp", "usage", "subscriptions", "campaign", "panel", "lifecycle",
            "preferences", "events", "edges", "kpis", "revenue", "channels", "revenue_parts")
SUB_CHANNEL_LOYALTY = 0.6    # subscription ordered through the preferred channel
_ORDER_CHANNELS = ("sms", "web", "wap", "hall", "hotline", "ivr", "topup", "retail", "kiosk")


def _check(province, month, n_users, seed, n_months, progress) -> None:
    if not isinstance(province, str) or province not in PROVINCES:
        raise parameter_error("province", expected=f"one of {sorted(PROVINCES)}", found=province)
    check_month(month)
    if not 1990 <= int(month[:4]) <= 2100:
        raise parameter_error("month", expected="a year between 1990 and 2100", found=month)
    for name, v, low in (("n_users", n_users, 1), ("seed", seed, 0), ("n_months", n_months, 1)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise parameter_error(name, expected="an integer", found=v)
        if v < low:
            raise parameter_error(name, expected=f"an integer >= {low}", found=v)
    if n_users > 2**30:
        raise parameter_error("n_users", expected="at most 2**30", found=n_users)
    if n_months > 120:
        raise parameter_error("n_months", expected="an integer in [1, 120]", found=n_months)
    if not isinstance(progress, bool):
        raise parameter_error("progress", expected="True or False", found=progress)


def generate(province: str, month: str, n_users: int, seed: int, *, n_months: int = 6,
             progress: bool = False) -> ProvinceData:
    """Simulate one province for ``n_months`` months ending at ``month``.

    Parameters
    ----------
    province : {'yunnan', 'jiangsu', 'guangdong', 'national'}
        Province profile (prefectures, brand mix, service mix).
    month : str
        The data month, 'YYYY-MM'. The usage panel covers ``n_months`` months ending here;
        the J3 campaign runs in it; revenue covers the 48 months ending here.
    n_users : int
        Number of subscribers (>= 1).
    seed : int
        Seed (>= 0). Same arguments, same tables.
    n_months : int, default 6
        Months in the usage panel and the KPI table.
    progress : bool, default False
        Show a tqdm progress bar over the steps.

    Returns
    -------
    ProvinceData
        ``users, usage, subscriptions, kpis, contacts, edges, events, revenue`` (each passes
        ``dmkit.schema.validate``), ``truth`` (:class:`dmkit.synth.Truth`) and ``meta``.
        ``subscriptions`` has one extra column ``sp_id`` (null unless the service is
        provided by an SP).

    Raises
    ------
    ParameterError
        Unknown province, malformed month, n_users < 1, a negative or non-integer seed.
    """
    _check(province, month, n_users, seed, n_months, progress)
    from tqdm.auto import tqdm

    n = int(n_users)
    profile = PROVINCES[province]
    months = month_range(month, n_months)
    rngs = {k: np.random.default_rng(s)
            for k, s in zip(_STREAMS, np.random.SeedSequence(int(seed)).spawn(len(_STREAMS)), strict=False)}
    bar = tqdm(total=10, desc=f"synth {province} {month}", disable=not progress, leave=False)

    def step(label):
        bar.set_postfix_str(label)
        bar.update(1)

    u = draw_users(rngs["users"], n, profile)
    sp_plan = plan_sps(rngs["sp"], n, n_months)
    base = draw_base(rngs["usage"], u, sp_plan.victim_sp, sp_plan.victim_month, n_months)
    p_true = {s: true_propensity(s, base) for s in RULES}
    step("users, usage")
    subs, sub_truth = draw_subscriptions(rngs["subscriptions"], profile=profile, month=month,
                                         users=u, base=base, p_true=p_true, sp_plan=sp_plan,
                                         n_months=n_months)
    step("subscriptions")
    contacts, camp_truth = campaign.draw_campaign(rngs["campaign"], profile=profile, month=month,
                                                  p_news=p_true["newspaper"],
                                                  p_mail=p_true["mail_notify"], subs=subs,
                                                  sp_weights=sp_plan.weights)
    sub_truth.update(structure_truth(subs, sub_truth))
    step("campaign")
    panel = build_panel(rngs["panel"], base, n_months)
    crbt_state = lifecycle.plant_crbt_states(rngs["lifecycle"], panel, subs.active("crbt"),
                                             subs.ever("music"), n_months)
    step("usage panel")
    last = slice((n_months - 1) * n, n_months * n)
    feats = {
        "age": u["age"], "brand": u["brand"], "student": u["student"],
        "sms_p2p": base["sms_p2p"], "mms": base["mms"],
        "sms_p2p+mms": base["sms_p2p"] + base["mms"],
        "crbt_changes": panel["crbt_changes"][last], "music_downloads": panel["music_downloads"][last],
        **{f"holds:{s}": subs.active(s) for s in ("secretary", "music_club", "wap", "local_paper")},
    }
    true_ch, pref_ch = preferences.apply_rules(rngs["preferences"], preferences.CHANNEL_RULES,
                                               catalog.CHANNELS, preferences.CHANNEL_ALTERNATIVES, feats)
    true_g, pref_g = preferences.apply_rules(rngs["preferences"], preferences.CONTENT_RULES,
                                             catalog.GENRES, preferences.CONTENT_GENRES, feats)
    step("preferences")
    events = draw_events(rngs["events"], months=months, downloads=panel["music_downloads"],
                         genre_pref=pref_g, channel_pref=pref_ch, sp_plan=sp_plan)
    step("events")
    edges, circle = social.draw_edges(rngs["edges"], month=month, sms_p2p=base["sms_p2p"],
                                      sms_contacts=base["sms_contacts"],
                                      voice_minutes=base["voice_minutes"])
    step("edges")
    kpi_df, kpi_truth = kpis.draw_kpis(rngs["kpis"], regions=profile.prefectures, months=months,
                                       penetration=profile.penetration, stage=profile.product_stage)
    step("kpis")
    rev_df, rev_truth = revenue.draw_revenue(rngs["revenue"], month=month, scale=profile.revenue_scale)
    parts_df, rev_truth["parts"] = revenue_parts.draw_parts(rngs["revenue_parts"], month=month,
                                                            scale=profile.revenue_scale)
    rev_df = pd.concat([rev_df.astype({"line": str}), parts_df], ignore_index=True).astype({"line": "category"})
    step("revenue")

    usage_df = _usage_frame(panel, n, months)
    pen = {s: float(subs.active_all(s).mean()) for s in catalog.SERVICES}
    subs_df = _subs_frame(rngs["channels"], subs, pref_ch, sp_plan)
    # the number is at least as old as its oldest subscription
    first = np.full(n, subs.t_end, dtype=np.int64)
    np.minimum.at(first, subs_df["user_id"].to_numpy(), subs_df["start"].to_numpy().view(np.int64))
    age_months = np.ceil((subs.t_end - first) / (MONTH_DAYS * 86_400e9))
    u["tenure_months"] = np.maximum(u["tenure_months"], age_months).astype(np.int16)
    users_df = _users_frame(u, profile, province, pref_ch)
    step("frames")

    seg = base["sms_bin"]
    sms_segments = {
        name: {"share": float(np.mean(seg == i)),
               "mean_sms_p2p": float(base["sms_p2p"][seg == i].mean()) if (seg == i).any() else float("nan"),
               "mean_sms_contacts": float(base["sms_contacts"][seg == i].mean()) if (seg == i).any() else float("nan")}
        for i, name in enumerate(matrix.SEGMENTS)
    }
    cell_names = matrix.CELL_NAMES.ravel().tolist()
    user_truth = pd.DataFrame({
        "user_id": np.arange(n, dtype=np.int32),
        "sms_segment": pd.Categorical.from_codes(seg, categories=list(matrix.SEGMENTS)),
        "matrix_cell": pd.Categorical.from_codes(base["sms_bin"] * 3 + base["spend_bin"],
                                                 categories=cell_names),
        "true_channel": pd.Categorical.from_codes(true_ch, categories=list(catalog.CHANNELS)),
        "true_genre": pd.Categorical.from_codes(true_g, categories=list(catalog.GENRES)),
        "preferred_genre": pd.Categorical.from_codes(pref_g, categories=list(catalog.GENRES)),
        **{f"p_{s}": p_true[s] for s in RULES},
        "crbt_state": pd.Categorical.from_codes(crbt_state, categories=list(lifecycle.STATE_NAMES)),
        "circle_size": circle.astype(np.int32),
        "complainer": base["complainer"],
        "sp_victim": base["victim_month"] >= 0,
        "chart_booster": sp_plan.booster_sp >= 0,
    })
    truth = Truth(
        province=province, month=month, months=tuple(months), n_users=n, seed=int(seed),
        kpi_indicators=tuple(kpi_truth["kpi_indicators"]),
        kpi_loadings=kpi_truth["kpi_loadings"],
        kpi_factor_scores=kpi_truth["kpi_factor_scores"],
        kpi_health=kpi_truth["kpi_health"],
        bundles=sub_truth["bundles"], cross_sell=sub_truth["cross_sell"],
        sequences=sub_truth["sequences"], penetration=pen, sms_segments=sms_segments,
        sms_matrix=matrix.matrix_frame(),
        propensity={s: {"rules": RULES[s]["rules"], "p_in": RULES[s]["p_in"],
                        "p_out": RULES[s]["p_out"], "month": month, "table": "usage"}
                    for s in RULES},
        hazard=sub_truth["hazard"],
        lifecycle={"product_stage": profile.product_stage,
                   "customer_states": lifecycle.customer_state_truth()},
        campaign=camp_truth,
        channel_rules=preferences.CHANNEL_RULES, content_rules=preferences.CONTENT_RULES,
        sp_offenders=sp_plan.offenders(), revenue=rev_truth, user_truth=user_truth,
    )
    bar.close()
    meta = {"province": province, "month": month, "months": list(months), "n_users": n,
            "seed": int(seed), "n_months": n_months, "generator": "dmkit.synth"}
    return ProvinceData(users=users_df, usage=usage_df, subscriptions=subs_df, kpis=kpi_df,
                        contacts=contacts, edges=edges, events=events, revenue=rev_df,
                        truth=truth, meta=meta)


def _users_frame(u, profile, province, pref_ch) -> pd.DataFrame:
    n = len(u["age"])
    return pd.DataFrame({
        "user_id": np.arange(n, dtype=np.int32),
        "province": pd.Categorical.from_codes(np.zeros(n, np.int8), categories=[province]),
        "prefecture": pd.Categorical.from_codes(u["prefecture"], categories=list(profile.prefectures)),
        "brand": pd.Categorical.from_codes(u["brand"], categories=list(catalog.BRANDS)),
        "age": u["age"],
        "gender": pd.Categorical.from_codes(np.where(u["male"], 0, 1).astype(np.int8),
                                            categories=list(catalog.GENDERS)),
        "tenure_months": u["tenure_months"],
        "student": u["student"], "term_mms": u["term_mms"], "term_wap": u["term_wap"],
        "term_java": u["term_java"], "term_fetion": u["term_fetion"],
        "preferred_channel": pd.Categorical.from_codes(pref_ch, categories=list(catalog.CHANNELS)),
    }, copy=False)


_USAGE_COLS = ("arpu", "voice_minutes", "call_days", "local_incoming_calls", "sms_p2p",
               "sms_contacts", "sms_fee", "monternet_sms", "mms", "gprs_kb", "wap_visits",
               "recharges", "complaints", "crbt_changes", "music_downloads")


def _usage_frame(panel, n, months) -> pd.DataFrame:
    m = len(months)
    cols = {
        "user_id": np.tile(np.arange(n, dtype=np.int32), m),
        "month": pd.Categorical.from_codes(np.repeat(np.arange(m, dtype=np.int8), n),
                                           categories=list(months)),
    }
    for c in _USAGE_COLS:
        cols[c] = panel.pop(c)
    return pd.DataFrame(cols, copy=False)


def _subs_frame(rng, subs, pref_ch, sp_plan) -> pd.DataFrame:
    subs.held.clear()
    blocks = [list(b) for b in subs.blocks]
    subs.blocks.clear()
    cols = []
    for i in range(7):   # one column at a time, freeing the blocks' pieces as we go
        cols.append(np.concatenate([b[i] for b in blocks]))
        for b in blocks:
            b[i] = None
    del blocks
    users, svc, start, end, ch, src, sp = cols
    del cols
    alt = np.array([CHAN[c] for c in _ORDER_CHANNELS], dtype=np.int8)
    step = 1 << 20
    for lo in range(0, len(ch), step):   # chunks keep the temporaries small
        c = ch[lo:lo + step]
        idx = np.flatnonzero(c < 0)
        k = len(idx)
        c[idx] = np.where(rng.random(k, dtype=np.float32) < SUB_CHANNEL_LOYALTY,
                          pref_ch[users[lo + idx]], alt[rng.integers(0, len(alt), k, dtype=np.int8)])
    sp = sp.astype(np.int8) if len(sp_plan.sp_ids) < 127 else sp
    floor_to_microseconds(end)  # starts are whole microseconds by construction (kind_start)
    return pd.DataFrame({
        "user_id": users,
        "service": pd.Categorical.from_codes(svc, categories=list(catalog.SERVICES)),
        "start": start.view("datetime64[ns]"),
        "end": end.view("datetime64[ns]"),
        "channel": pd.Categorical.from_codes(ch, categories=list(catalog.CHANNELS)),
        "source": pd.Categorical.from_codes(src, categories=list(subs.sources)),
        "sp_id": pd.Categorical.from_codes(sp, categories=list(sp_plan.sp_ids)),
    }, copy=False)
