"""dmkit.offer_design on case M's planted music campaign (dmkit.synth.music_campaign) and by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import dmkit as dm
from dmkit import offer_design, schema
from dmkit.errors import ConvergenceError, ParameterError, SchemaError
from dmkit.synth import music_campaign as mc


@pytest.fixture(scope="module")
def campaign():
    d = dm.synth.generate("jiangsu", "2009-06", 40_000, 7)
    seg = offer_design.m_segments(d.usage, d.subscriptions, month="2009-06")
    return d, mc.music_campaign(d, seg, seed=7)


def _true_p(segment, cell):
    return 1 / (1 + np.exp(-mc._logit(segment, cell)))


@pytest.mark.slow  # a 40,000-user province
def test_planted_campaign_is_a_contract_table_apart_from_j3(campaign):
    d, camp = campaign
    c = camp.contacts
    schema.validate(c, "contacts")
    assert c["campaign_id"].astype(str).str.startswith("JS-2009-06-music|").all()
    assert not set(c["campaign_id"].astype(str)) & set(d.contacts["campaign_id"].astype(str))
    assert set(camp.segments[c["user_id"]]) == set(mc.SEGMENTS)
    # half of each segment offered, on the 15th, in the slot of its cell
    for s in mc.SEGMENTS:
        n_seg = int((camp.segments == s).sum())
        assert (camp.segments[c["user_id"]] == s).sum() == pytest.approx(0.5 * n_seg, abs=1)
    hours = c["sent_at"].dt.hour
    evening = c["campaign_id"].astype(str).str.endswith("|evening")
    assert hours[evening].between(19, 20).all() and hours[~evening].between(10, 11).all()
    assert (c["sent_at"].dt.day == 15).all()


@pytest.mark.slow  # a 40,000-user province
def test_feedback_recovers_the_planted_key_weights(campaign):
    _, camp = campaign
    r = offer_design.fit(camp.contacts, camp.segments, levels=mc.LEVELS)
    w = r.weights
    for s in mc.SEGMENTS:
        for term, truth in mc.WEIGHTS[s].items():
            est, se = w.at[(s, term), "after"], w.at[(s, term), "se"]
            assert abs(est - truth) < 3.5 * se, (s, term, est, truth, se)
        assert abs(w.at[(s, "const"), "after"] - mc.BASE[s]) < 3.5 * w.at[(s, "const"), "se"]
    # before the feedback every weight is 0; after, the changes are the estimates
    assert (w["before"].drop(index="const", level="term") == 0).all()
    assert np.allclose(w["change"].dropna(), w["after"].drop(index="const", level="term"))


@pytest.mark.slow  # a 40,000-user province
def test_plan_per_segment_is_near_the_planted_best_cell(campaign):
    _, camp = campaign
    r = offer_design.fit(camp.contacts, camp.segments, levels=mc.LEVELS)
    exact = 0
    for s, best in camp.truth["best_cell"].items():
        row = r.plan.loc[s]
        chosen = (row["content"], int(row["items"]), row["slot"], row["channel"])
        # the chosen cell's true take-up is within 10 % of the planted best
        assert _true_p(s, chosen) >= 0.9 * best["p"], (s, chosen, best)
        exact += chosen == (best["content"], best["items"], best["slot"], best["channel"])
    assert exact >= 3
    # per segment: what (genre), how many (5 for the loyal, 1 for those needing activation), when, which channel
    assert r.plan.at["loyal", "items"] == 5 and r.plan.at["activation", "items"] == 1
    assert r.plan.at["activation", "channel"] == "ivr" and r.plan.at["loyal", "channel"] == "wap_push"
    assert (r.plan["content"] == "genre").all()
    assert r.plot() is not None and "推荐" in str(r.summary())


def test_m_segments_by_hand():
    from tests.test_lifecycle import subs_frame, usage_frame

    # CRBT fixture of test_lifecycle, month 2009-06: user 7 holds music (1 download), users 1-5 CRBT holders
    seg = offer_design.m_segments(usage_frame(), subs_frame(), month="2009-06", service="music")
    assert seg[7] == "familiar"                      # the only downloading holder: at the median, not above
    assert (seg[[1, 2, 3, 4, 5]] == "inclined").all() and seg[8] == "other"
    with pytest.raises(ParameterError, match="parameter 'month'"):
        offer_design.m_segments(usage_frame(), subs_frame(), month="2010-01")


def _hand_contacts():
    # two segments, two channels: A answers sms 3/4 and wap 1/4; B the reverse
    rows = []
    uid = 0
    for seg, rates in (("A", {"sms": 3, "wap": 1}), ("B", {"sms": 1, "wap": 3})):
        for ch, k in rates.items():
            for i in range(4):
                rows.append((f"T|{ch}", uid, seg, i < k))
                uid += 1
    t0 = pd.Timestamp("2009-06-15 10:00")
    c = pd.DataFrame({
        "campaign_id": [r[0] for r in rows], "user_id": [r[1] for r in rows], "step": 1, "service": "full_song",
        "group": "target", "sent_at": t0, "delivered": True,
        "replied_at": [t0 + pd.Timedelta(hours=1) if r[3] else pd.NaT for r in rows],
        "reply_valid": [r[3] for r in rows],
        "subscribed_at": [t0 + pd.Timedelta(hours=1) if r[3] else pd.NaT for r in rows],
        "unsubscribed_at": pd.NaT,
    })
    c["unsubscribed_at"] = pd.to_datetime(c["unsubscribed_at"])
    return c, pd.Series([r[2] for r in rows], index=[r[1] for r in rows])


def test_fit_by_hand():
    c, seg = _hand_contacts()
    r = offer_design.fit(c, seg, factors=["channel"], levels={"channel": ["sms", "wap"]},
                         prior={"A": {"channel=wap": 0.5}})
    # logit(1/4) - logit(3/4) = -2 ln 3 for A, +2 ln 3 for B
    assert r.weights.at[("A", "channel=wap"), "after"] == pytest.approx(-2 * np.log(3), abs=1e-4)
    assert r.weights.at[("B", "channel=wap"), "after"] == pytest.approx(2 * np.log(3), abs=1e-4)
    assert r.weights.at[("A", "channel=wap"), "change"] == pytest.approx(-2 * np.log(3) - 0.5, abs=1e-4)
    assert r.plan.loc["A", "channel"] == "sms" and r.plan.loc["B", "channel"] == "wap"
    assert r.plan.loc["A", "channel_before"] == "wap"          # the prior preferred wap for A
    assert r.plan.loc["A", "observed"] == 0.75 and r.plan.loc["A", "n"] == 4


def test_fit_errors():
    c, seg = _hand_contacts()
    with pytest.raises(SchemaError, match="cell codes"):
        offer_design.fit(c, seg, factors=["channel", "items"])
    with pytest.raises(ParameterError, match="also has"):
        offer_design.fit(c, seg, factors=["channel"], levels={"channel": ["sms"]})
    with pytest.raises(SchemaError, match="every channel level in segment 'A'"):
        offer_design.fit(c[~((c["campaign_id"] == "T|wap") & (c["user_id"] < 8))], seg, factors=["channel"],
                         levels={"channel": ["sms", "wap"]})
    with pytest.raises(ParameterError, match="segments"):
        offer_design.fit(c, seg.to_dict(), factors=["channel"])


def test_fit_on_cell_counts_equals_the_logit_on_offers_and_refuses_a_level_without_take_up():
    import statsmodels.api as sm

    c, seg = _hand_contacts()
    r = offer_design.fit(c, seg, factors=["channel"], levels={"channel": ["sms", "wap"]})
    d = offer_design.parse_cells(c, factors=["channel"])
    a = d[d["user_id"].map(seg) == "A"]
    ref = sm.Logit(a["took"].to_numpy(float), sm.add_constant((a["channel"] == "wap").astype(float).to_numpy())).fit(disp=0)
    assert_allclose(r.weights.loc["A", ["after", "se"]].to_numpy().T, [ref.params, ref.bse], rtol=1e-8)
    # segment A's wap offers never taken: the weight has no finite maximum
    no_take = c.assign(subscribed_at=c["subscribed_at"].where(~((c["campaign_id"] == "T|wap") & (c["user_id"] < 8))))
    with pytest.raises(ConvergenceError, match="segment 'A'"):
        offer_design.fit(no_take, seg, factors=["channel"], levels={"channel": ["sms", "wap"]})


@pytest.mark.parametrize("lazy", [False, True])
def test_m_segments_from_a_province_equals_the_frames(tmp_path, lazy):
    """The province path (the month's usage columns and the subscriptions read one column at a
    time, cut to the two services) gives the Series of the frames path, in memory and from a
    lazily loaded folder (Parquet projection and month pushdown)."""
    from dmkit.contract.province import ProvinceData

    d = dm.synth.generate("jiangsu", "2009-06", 3000, 11)
    expected = offer_design.m_segments(d.usage, d.subscriptions, month="2009-05")
    assert set(expected.unique()) >= {"loyal", "familiar", "activation", "inclined", "other"}
    assert len(expected) == int((d.usage["month"].astype(str) == "2009-05").sum())
    pdata = ProvinceData.load(d.save(tmp_path / "p"), lazy=True) if lazy else d
    pd.testing.assert_series_equal(offer_design.m_segments(pdata, month="2009-05"), expected)
    pd.testing.assert_series_equal(offer_design.m_segments(pdata, pdata, month="2009-05"), expected)
    with pytest.raises(ParameterError, match="parameter 'month'"):
        offer_design.m_segments(pdata, month="2010-01")
