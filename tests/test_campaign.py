"""Tests of dmkit.campaign: J3's funnel, uplift, G4's comparison, SP monitoring."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from dmkit import campaign
from dmkit.errors import ParameterError, SchemaError

# J3 step 1 (CASES.md): date, sent, delivered, replied, subscribed, unsubscribed
J3 = pd.DataFrame(
    [("2009-06-06", 1_054_915, 521_900, 8_280, 6_891, 1_389),
     ("2009-06-07", 1_451_999, 481_760, 6_556, 5_871, 685),
     ("2009-06-08", 1_540_776, 603_416, 9_829, 7_876, 1_953),
     ("2009-06-09", 662_391, 314_750, 5_619, 5_078, 441),
     ("2009-06-10", 0, 0, 2_981, 2_075, 509),
     ("2009-06-11", 0, 0, 1_209, 831, 378)],
    columns=["date", "sent", "delivered", "replied", "subscribed", "unsubscribed"],
)


def _contacts_from_daily(daily: pd.DataFrame, *, scale: int = 1, seed: int = 0) -> pd.DataFrame:
    """A contact log whose events fall on J3's dates with J3's counts (divided by ``scale``).

    Replies of a date come from delivered users sent on or before it; the first
    ``subscribed`` repliers of a date subscribe that day (valid replies); the
    ``unsubscribed`` of a date are drawn from those subscribed on or before it.
    """
    rng = np.random.default_rng(seed)
    d = daily.copy()
    for c in ["sent", "delivered", "replied", "subscribed", "unsubscribed"]:
        d[c] = d[c] // scale
    dates = pd.to_datetime(d["date"])
    n = int(d["sent"].sum())
    sent_day = np.repeat(np.arange(len(d)), d["sent"].to_numpy())
    delivered = np.zeros(n, bool)
    start = 0
    for s, dl in zip(d["sent"], d["delivered"], strict=True):
        delivered[start:start + dl] = True
        start += s
    sent_at = dates.to_numpy()[sent_day] + np.timedelta64(10, "h")
    replied = np.full(n, np.datetime64("NaT"), "datetime64[ns]")
    valid = np.zeros(n, bool)
    subscribed = np.full(n, np.datetime64("NaT"), "datetime64[ns]")
    unsub = np.full(n, np.datetime64("NaT"), "datetime64[ns]")
    free = delivered.copy()  # delivered users who have not replied yet
    subs_pool = np.zeros(n, bool)
    for i, row in enumerate(d.itertuples()):
        cand = np.flatnonzero(free & (sent_day <= i))
        who = rng.choice(cand, row.replied, replace=False)
        free[who] = False
        t = dates.iloc[i].to_datetime64() + np.timedelta64(20, "h")
        replied[who] = t
        subs = who[: row.subscribed]
        valid[subs] = True
        subscribed[subs] = t
        subs_pool[subs] = True
        pool = np.flatnonzero(subs_pool)
        leave = rng.choice(pool, row.unsubscribed, replace=False)
        subs_pool[leave] = False
        unsub[leave] = t + np.timedelta64(1, "h")
    return pd.DataFrame({
        "campaign_id": pd.Categorical(["JS-2009-06-worldcup"] * n),
        "user_id": np.arange(n, dtype=np.int64),
        "step": np.ones(n, np.int64),
        "service": pd.Categorical(["mms"] * n),
        "group": pd.Categorical(["target"] * n, categories=["target", "control"]),
        "sent_at": sent_at, "delivered": delivered, "replied_at": replied,
        "reply_valid": valid, "subscribed_at": subscribed, "unsubscribed_at": unsub,
    })


SCALE = 10


@pytest.fixture(scope="module")
def j3_small():
    return _contacts_from_daily(J3, scale=SCALE)


def _scaled(daily=J3, scale=SCALE):
    d = daily.copy()
    for c in ["sent", "delivered", "replied", "subscribed", "unsubscribed"]:
        d[c] = d[c] // scale
    return d


def _check_j3(res, daily):
    dd = res.daily.set_index(res.daily["date"].dt.strftime("%Y-%m-%d"))
    for col in ["sent", "delivered", "replied", "subscribed", "unsubscribed"]:
        assert dd[col].reindex(daily["date"]).fillna(0).astype(int).tolist() == daily[col].tolist(), col
    # the cumulative kept column, computed independently from the published daily counts
    expected_kept = (daily["subscribed"] - daily["unsubscribed"]).cumsum()
    assert dd["kept_cumulative"].reindex(daily["date"]).tolist() == expected_kept.tolist()


def test_funnel_small_j3_counts_by_event_date(j3_small):
    daily = _scaled()
    res = campaign.funnel(j3_small)
    _check_j3(res, daily)
    o = res.overall.iloc[0]
    assert o["sent"] == daily["sent"].sum()
    assert_allclose(o["response_rate"], daily["replied"].sum() / daily["delivered"].sum())
    assert_allclose(o["retention"], 1 - daily["unsubscribed"].sum() / daily["subscribed"].sum())
    # J3's published rates survive the 1:10 scaling (rounding of each day's counts)
    assert round(o["response_rate"] * 100, 2) == 1.79
    assert round(o["subscription_rate"] * 100, 2) == 1.49
    assert abs(o["retention"] - 0.813) < 0.002


def test_funnel_plot_has_a_date_axis_and_a_legend_clear_of_the_bars(j3_small):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    res = campaign.funnel(j3_small)
    ax = res.plot()
    ax.figure.canvas.draw()
    days = pd.to_datetime(res.daily.groupby("date").size().index).normalize()
    # bars stand on their days (a skipped day would leave a gap), not on category positions 0..n-1
    centres = sorted({round(p.get_x() + p.get_width() / 2, 3) for p in ax.patches})
    assert_allclose(centres[0], mdates.date2num(days[0]) - 0.2, atol=1e-3)
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["subscribed", "unsubscribed", "kept (cumulative)"]
    box, plot_area = legend.get_window_extent(), ax.get_window_extent()
    assert box.y1 <= plot_area.y0  # below the plot, over no bar
    plt.close(ax.figure)


def test_funnel_send_date_view_reassigns_late_events(j3_small):
    by_send = campaign.funnel(j3_small, by="send_date")
    by_event = campaign.funnel(j3_small)
    # no sends on 06-10/11: the send view has only the four send days ...
    assert len(by_send.daily) == 4
    # ... but the same totals
    for col in ["sent", "delivered", "replied", "subscribed", "unsubscribed"]:
        assert by_send.daily[col].sum() == by_event.daily[col].sum()
    # cohort rates are within [0, 1]
    assert by_send.daily["response_rate"].between(0, 1).all()


@pytest.mark.slow
def test_funnel_exact_j3_published_figures():
    """Full size: 4,710,081 contacts with exactly J3's daily counts."""
    contacts = _contacts_from_daily(J3)
    res = campaign.funnel(contacts)
    _check_j3(res, J3)
    o = res.overall.iloc[0]
    assert o["sent"] == 4_710_081
    assert o["delivered"] == 1_921_826
    assert round(o["response_rate"] * 100, 2) == 1.79
    assert round(o["subscription_rate"] * 100, 2) == 1.49
    assert o["subscribed"] == 28_622
    assert round(o["retention"] * 100, 1) == 81.3
    # The deck prints 10,988 for 06-07 (a typo for 10,688) and ends at 23,270 (5,352
    # unsubscribed); its own daily unsubscriptions add up to 5,355, so the daily counts
    # give 23,267 kept. We assert the sums of the daily counts.
    kept = res.daily.set_index(res.daily["date"].dt.strftime("%m-%d"))["kept_cumulative"]
    assert kept["06-07"] == 10_688
    assert kept["06-11"] == 23_267


def test_funnel_rates_from_counts_matches_funnel(j3_small):
    res = campaign.funnel(j3_small)
    counts = res.overall[["sent", "delivered", "replied", "valid_replies", "subscribed", "unsubscribed"]]
    again = campaign.funnel_rates(counts)
    for col in ["kept", "delivery_rate", "response_rate", "subscription_rate", "retention"]:
        assert_allclose(again[col].to_numpy(dtype=float), res.overall[col].to_numpy(dtype=float))


def test_funnel_as_of_ignores_later_events(j3_small):
    res = campaign.funnel(j3_small, as_of="2009-06-08 23:59")
    o = res.overall.iloc[0]
    assert o["subscribed"] == _scaled()["subscribed"].iloc[:3].sum()


def test_funnel_rejects_subscription_before_send(j3_small):
    bad = j3_small.copy()
    i = int(np.flatnonzero(bad["subscribed_at"].notna())[0])
    bad.loc[i, "subscribed_at"] = bad.loc[i, "sent_at"] - pd.Timedelta(hours=1)
    with pytest.raises(SchemaError, match=r"column 'subscribed_at'.*subscriptions before sends"):
        campaign.funnel(bad)


def test_funnel_rejects_missing_column(j3_small):
    with pytest.raises(SchemaError, match="reply_valid"):
        campaign.funnel(j3_small.drop(columns=["reply_valid"]))


# --------------------------------------------------------------------------- uplift
def _ab_contacts(n_t=20_000, n_c=20_000, p_t=0.03, p_c=0.02, seed=1):
    rng = np.random.default_rng(seed)
    n = n_t + n_c
    group = np.r_[np.full(n_t, "target"), np.full(n_c, "control")]
    score = rng.uniform(size=n)
    # response of the treated grows with the score; control flat
    p = np.where(group == "target", p_t * 2 * score, p_c)
    y = rng.uniform(size=n) < p
    sent = pd.Timestamp("2009-06-06 10:00")
    sent_at = pd.Series(np.where(group == "target", sent, pd.NaT), dtype="datetime64[ns]")
    sub = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    sub[y] = sent + pd.Timedelta(hours=5)
    return pd.DataFrame({
        "campaign_id": "C1", "user_id": np.arange(n), "step": 1, "service": "newspaper",
        "group": group, "sent_at": sent_at, "delivered": group == "target",
        "replied_at": sub, "reply_valid": y, "subscribed_at": sub,
        "unsubscribed_at": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
        "score": score,
    }), y, group == "target", score


def test_uplift_matches_independent_wald_and_newcombe():
    from statsmodels.stats.proportion import confint_proportions_2indep

    c, y, t, _ = _ab_contacts()
    res = campaign.uplift(c)
    o = res.overall.iloc[0]
    r1, r0 = y[t].mean(), y[~t].mean()
    assert_allclose([o["rate_target"], o["rate_control"], o["uplift"]], [r1, r0, r1 - r0])
    # Agresti-Caffo by hand: add one success and one failure to each group, then Wald
    from scipy.stats import norm

    a1, m1 = (y[t].sum() + 1) / (t.sum() + 2), t.sum() + 2
    a0, m0 = (y[~t].sum() + 1) / ((~t).sum() + 2), (~t).sum() + 2
    z = (a1 - a0) / np.sqrt(a1 * (1 - a1) / m1 + a0 * (1 - a0) / m0)
    assert_allclose(o["p_value"], 2 * norm.sf(abs(z)), rtol=1e-6)
    lo, hi = confint_proportions_2indep(y[t].sum(), t.sum(), y[~t].sum(), (~t).sum(), method="newcomb")
    assert_allclose([o["uplift_low"], o["uplift_high"]], [lo, hi])
    assert o["uplift_low"] < o["uplift"] < o["uplift_high"]
    assert o["p_value"] < 0.01


def test_uplift_by_score_decile_and_qini():
    c, y, t, s = _ab_contacts(n_t=40_000, n_c=40_000)
    res = campaign.uplift(c, score="score")
    b = res.by_bin
    assert len(b) == 10
    # independent: top decile by score
    top = s >= np.quantile(s, 0.9)
    assert_allclose(b.iloc[0]["rate_target"], y[top & t].mean(), atol=2e-3)
    # planted: treated take-up rises with score, so uplift is larger at the top than the bottom
    assert b.iloc[0]["uplift"] > b.iloc[-1]["uplift"] + 0.02
    assert res.qini_auc > 0
    res2 = campaign.uplift(c.assign(score=-c["score"]), score="score")
    assert res2.qini_auc < 0


def test_uplift_needs_control_group():
    c, *_ = _ab_contacts()
    with pytest.raises(SchemaError, match="no control group"):
        campaign.uplift(c[c["group"] == "target"])


# --------------------------------------------------------------------------- compare (G4)
G4 = pd.DataFrame({
    "campaign": ["Jacky Cheung tour", "European brass concertos", "Guzheng concert", "Tsai Chin concert"],
    "covered": [24_918, 1_775, 1_497, 6_341],
    "succeeded": [5_921, 308, 289, 1_611],
})


def test_compare_g4_published_rates():
    res = campaign.compare(G4)
    t = res.table
    assert (t["rate"] * 100).round(1).tolist() == [23.8, 17.4, 19.3, 25.4]  # 308/1775 = 17.35%
    assert_allclose(t["rate"], [0.238, 0.173, 0.193, 0.254], atol=1e-3)
    assert t["beats_baseline"].all()
    assert (t["ci_low"] > 0.05).all()
    # Wilson interval contains the rate and is narrower for the big campaign
    assert ((t["ci_low"] < t["rate"]) & (t["rate"] < t["ci_high"])).all()
    w = t["ci_high"] - t["ci_low"]
    assert w.iloc[0] < w.iloc[2]


def test_compare_small_campaign_not_significant():
    res = campaign.compare(pd.DataFrame({"campaign": ["x"], "covered": [40], "succeeded": [3]}))
    assert not res.table["beats_baseline"].iloc[0]


def test_compare_rejects_succeeded_above_covered():
    with pytest.raises(SchemaError, match="succeeded"):
        campaign.compare(pd.DataFrame({"campaign": ["x"], "covered": [10], "succeeded": [11]}))


def test_compare_rejects_bad_baseline():
    with pytest.raises(ParameterError, match="baseline"):
        campaign.compare(G4, baseline=(0.05, 0.03))


# --------------------------------------------------------------------------- SP monitoring
def _sp_fixture(seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    n_sp = 30
    for k in range(n_sp):
        sp = f"SP{k:02d}"
        n = rng.integers(300, 800)
        users = rng.integers(0, 20_000, n)
        content = rng.integers(0, 500, n)
        ts = pd.Timestamp("2009-06-01") + pd.to_timedelta(rng.uniform(0, 30, n), unit="D")
        ch = rng.choice(["web", "wap", "sms"], n)
        if sp == "SP03":  # chart boosting: 15 accounts download one song repeatedly on two days
            m = 600
            users = np.r_[users, rng.integers(50_000, 50_015, m)]
            content = np.r_[content, np.full(m, 7)]
            ts = ts.append(pd.Timestamp("2009-06-12") + pd.to_timedelta(rng.uniform(0, 2, m), unit="D"))
            ch = np.r_[ch, np.full(m, "wap")]
        rows.append(pd.DataFrame({"user_id": users, "ts": ts, "content_id": content,
                                  "genre": "pop", "channel": ch, "sp_id": sp}))
    events = pd.concat(rows, ignore_index=True)
    subs = []
    for k in range(n_sp):
        sp = f"SP{k:02d}"
        n = 200
        start = pd.Timestamp("2009-05-01") + pd.to_timedelta(rng.uniform(0, 30, n), unit="D")
        quick = rng.uniform(size=n) < (0.5 if sp == "SP11" else 0.05)
        end = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
        end[quick] = start[quick] + pd.Timedelta(days=1)
        ch = np.where(rng.uniform(size=n) < (0.6 if sp == "SP11" else 0.02), "sp_push", "sms")
        subs.append(pd.DataFrame({"user_id": rng.integers(0, 20_000, n) + 100_000 * k, "service": "monternet_sms",
                                  "start": start, "end": end.to_numpy(), "channel": ch, "source": "organic",
                                  "sp_id": sp}))
    return events, pd.concat(subs, ignore_index=True)


def test_monitor_sps_finds_planted_offenders():
    events, subs = _sp_fixture()
    res = campaign.monitor_sps(events, subs)
    f = res.flagged
    assert set(f.loc[f["kind"] == "chart_boosting", "sp_id"]) == {"SP03"}
    assert set(f.loc[f["kind"] == "unauthorised_ordering", "sp_id"]) == {"SP11"}
    ev = f.set_index("sp_id")["evidence"]
    assert "repeated downloads" in ev["SP03"]
    assert "SP-pushed orders" in ev["SP11"]


def test_monitor_sps_without_sp_id_warns():
    events, subs = _sp_fixture()
    with pytest.warns(UserWarning, match="sp_id"):
        res = campaign.monitor_sps(events, subs.drop(columns=["sp_id"]))
    assert "SP03" in set(res.flagged["sp_id"])


def test_monitor_sps_indicators_by_hand_and_dtype_free():
    """The indicators computed on integer codes equal a pandas group-by by hand, whatever
    the sp_id dtype (object strings or categorical)."""
    events, subs = _sp_fixture()
    res = campaign.monitor_sps(events, subs)
    cat = campaign.monitor_sps(events.assign(sp_id=events["sp_id"].astype("category")),
                               subs.assign(sp_id=subs["sp_id"].astype("category")))
    pd.testing.assert_frame_equal(res.table, cat.table)
    t = res.table.set_index("sp_id")
    ud = events.groupby(["sp_id", "user_id", events["ts"].dt.floor("D")]).size()
    burst = ud[ud >= 10].groupby(level=0).sum().reindex(t.index, fill_value=0) / events.groupby("sp_id").size()
    assert_allclose(t["burst_share"], burst.reindex(t.index), rtol=1e-12)
    assert (t["max_user_day"] == ud.groupby(level=0).max().reindex(t.index)).all()
    per_user = events.groupby(["sp_id", "user_id"]).size()
    top = per_user.groupby(level=0).apply(lambda s: s.nlargest(max(1, int(np.ceil(0.05 * len(s))))).sum())
    assert_allclose(t["top_user_share"], (top / events.groupby("sp_id").size()).reindex(t.index), rtol=1e-12)
    pairs = events.drop_duplicates(["sp_id", "user_id", "content_id"]).groupby("sp_id").size()
    assert_allclose(t["repeat_share"], (1 - pairs / events.groupby("sp_id").size()).reindex(t.index), rtol=1e-12)
    quick = (subs["end"] - subs["start"]) <= pd.Timedelta(days=3)
    assert_allclose(t["quick_unsub_share"], quick.groupby(subs["sp_id"]).mean().reindex(t.index), rtol=1e-12)


def test_group_sizes_lexsort_fallback_agrees():
    """Keys too wide for one int64 fall back to a lexsort with the same groups."""
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 5, 2_000), rng.integers(0, 40, 2_000)
    wide = b * (2 ** 61 // 40)  # a span of ~2^61: 5 x that does not fit the mixed-radix key
    head_k, size_k = campaign._group_sizes(a, b)
    head_l, size_l = campaign._group_sizes(a, wide)
    expect = pd.DataFrame({"a": a, "b": b}).groupby(["a", "b"]).size()
    assert_allclose(head_k, expect.index.get_level_values("a"))
    assert_allclose(size_k, expect.to_numpy())
    assert_allclose(head_l, head_k)
    assert_allclose(size_l, size_k)


def test_nested_group_sizes_equal_two_group_bys():
    """The (sp, user, day) and (sp, user) groups from one sort equal _group_sizes of each key,
    also when the key is too wide (two sorts) and with no rows."""
    rng = np.random.default_rng(5)
    for n, users in ((3_000, 50), (3_000, 2 ** 58), (0, 5)):  # 2**58: the three-column key is too wide
        sp, user, day = rng.integers(0, 7, n), rng.integers(0, users, n), rng.integers(100, 130, n)
        (a_sp, a_n), (b_sp, b_n) = campaign._nested_group_sizes(sp, user, day)
        for got, want in (((a_sp, a_n), campaign._group_sizes(sp, user, day)),
                          ((b_sp, b_n), campaign._group_sizes(sp, user))):
            assert_allclose(got[0], want[0])
            assert_allclose(got[1], want[1])
        assert b_n.sum() == n == a_n.sum()


# --------------------------------------------------------------------------- planted truth (simulator)
@pytest.fixture(scope="module")
def province():
    import dmkit as dm

    return dm.synth.generate("jiangsu", month="2009-06", n_users=50_000, seed=7)


def test_monitor_sps_finds_simulator_offenders(province):
    res = campaign.monitor_sps(province.events, province.subscriptions, province.usage)
    found = set(map(tuple, res.flagged[["sp_id", "kind"]].to_numpy()))
    planted = set(map(tuple, province.truth.sp_offenders[["sp_id", "kind"]].to_numpy()))
    assert planted <= found
    assert len(found - planted) <= 1  # at most one false alarm
    assert res.plot() is not None


def test_monitor_sps_on_the_columns_it_reads_equals_the_whole_tables(province):
    """The tables projected to the columns monitor_sps reads (usage cut to the rows with a
    complaint, as music_four_stages passes it) give the same table and flags as the whole
    tables; a projection without a column read names it."""
    whole = campaign.monitor_sps(province.events, province.subscriptions, province.usage)
    u = province.usage
    usage = u.loc[u["complaints"] > 0, ["user_id", "month", "complaints"]]
    part = campaign.monitor_sps(province.events[["user_id", "ts", "content_id", "channel", "sp_id"]],
                                province.subscriptions[["user_id", "start", "end", "channel", "sp_id"]], usage)
    pd.testing.assert_frame_equal(part.table, whole.table)
    pd.testing.assert_frame_equal(part.flagged, whole.flagged)
    # only the SPs' orders (sp_id set), as the notebook reads them: the same again
    s = province.subscriptions
    sp_only = campaign.monitor_sps(province.events, s[s["sp_id"].notna()].reset_index(drop=True), usage)
    assert s["sp_id"].isna().any()
    pd.testing.assert_frame_equal(sp_only.table, whole.table)
    assert "complaint_share" in part.table.columns
    with pytest.raises(SchemaError, match="content_id"):
        campaign.monitor_sps(province.events.drop(columns=["content_id"]), province.subscriptions)
    with pytest.raises(SchemaError, match="complaints"):
        campaign.monitor_sps(province.events, province.subscriptions, usage.drop(columns=["complaints"]))


def test_funnel_on_simulator_matches_planted_rates(province):
    planted = province.truth.campaign["steps"][0]
    o = campaign.funnel(province.contacts, step=1).overall.iloc[0]
    n = o["delivered"]
    se = np.sqrt(planted["response_rate"] * (1 - planted["response_rate"]) / n)
    assert abs(o["response_rate"] - planted["response_rate"]) < 4 * se
    assert abs(o["delivery_rate"] - planted["delivery_rate"]) < 0.03
    assert abs(o["retention"] - planted["retention"]) < 0.15


def test_uplift_on_simulator(province):
    res = campaign.uplift(province.contacts, step=1)
    o = res.overall.iloc[0]
    assert o["uplift"] > 0 and o["p_value"] < 0.05
    assert abs(o["rate_control"] - province.truth.campaign["steps"][0]["control_rate"]) < 0.004


@pytest.mark.parametrize("col,what", [("subscribed_at", "subscriptions"), ("replied_at", "replies")])
def test_funnel_refuses_a_response_without_a_send(j3_small, col, what):
    # a target row with no sent_at but a subscription would count as subscribed but not sent
    bad = j3_small.copy()
    i = int(np.flatnonzero(bad[col].notna() & (bad["group"] == "target"))[0])
    bad.loc[i, "sent_at"] = pd.NaT
    bad.loc[i, "delivered"] = False
    with pytest.raises(SchemaError, match=rf"column '{col}'.*1 {what} of target rows without sent_at.*"
                                          rf"user_id.*{int(bad.loc[i, 'user_id'])}"):
        campaign.funnel(bad)
    # dropping the unsent rows, as the message says, gives a funnel whose stages nest
    ok = campaign.funnel(bad[bad["sent_at"].notna() | (bad["group"] != "target")]).overall.iloc[0]
    assert ok["subscribed"] <= ok["delivered"] <= ok["sent"] == int((bad["sent_at"].notna()
                                                                      & (bad["group"] == "target")).sum())


def test_funnel_refuses_a_delivery_without_a_send(j3_small):
    bad = j3_small.copy()
    i = int(np.flatnonzero(bad["delivered"].to_numpy() & bad["replied_at"].isna().to_numpy()
                           & bad["subscribed_at"].isna().to_numpy())[0])
    bad.loc[i, "sent_at"] = pd.NaT
    with pytest.raises(SchemaError, match=r"column 'delivered'.*deliveries of target rows without sent_at"):
        campaign.funnel(bad)


def test_funnel_ignores_unsent_control_rows():
    contacts, *_ = _ab_contacts(n_t=500, n_c=500)
    assert contacts.loc[contacts["group"] == "control", "sent_at"].isna().all()
    assert contacts.loc[contacts["group"] == "control", "subscribed_at"].notna().any()
    o = campaign.funnel(contacts).overall.iloc[0]
    assert o["sent"] == 500 and o["subscribed"] == int(contacts.loc[:499, "subscribed_at"].notna().sum())


def test_score_contacts_scores_only_contacted_users():
    """campaign.score_contacts (the notebook's scoring step): the values of scoring every
    user then reindexing, fill for contacts without features; only contacted users scored."""
    class Model:
        seen = None

        def target_proba(self, X):
            Model.seen = X.index.to_numpy()
            return pd.Series(X["a"].to_numpy() / 10.0, index=X.index, name="score")

    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]}, index=pd.Index([10, 11, 12, 13], name="user_id"))
    contacts = pd.DataFrame({"user_id": [12, 10, 12, 99], "step": [1, 1, 2, 1]})
    out = campaign.score_contacts(contacts, Model(), X)
    assert sorted(Model.seen.tolist()) == [10, 12]  # 11 and 13 were not contacted
    full = Model().target_proba(X).reindex(contacts["user_id"]).fillna(0).to_numpy()
    np.testing.assert_allclose(out["score"].to_numpy(), full)
    assert list(out.columns) == ["user_id", "step", "score"]
    assert campaign.score_contacts(contacts, Model(), X, fill=-1.0)["score"].iloc[3] == -1.0
    with pytest.raises(SchemaError, match="duplicated user ids"):
        campaign.score_contacts(contacts, Model(), pd.concat([X, X]))
    with pytest.raises(ParameterError, match="target_proba"):
        campaign.score_contacts(contacts, object(), X)
