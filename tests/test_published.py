"""dmkit.published: the decks' printed tables read as extracts and recomputed through the contract."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dmkit import campaign, forecast, published, schema
from dmkit.errors import DataNotFoundError, ParameterError, SchemaError


@pytest.fixture(scope="module")
def j3():
    c = published.j3_contacts()
    return c, campaign.funnel(c)


@pytest.mark.slow  # the full 6.6M-row log
def test_j3_tables_give_the_decks_rates(j3):
    contacts, f = j3
    schema.validate(contacts, "contacts")
    o = f.overall.set_index("step")
    # step 1: 4,710,081 sent, 1,921,826 delivered; 1.79 % replied, 1.49 % subscribed, 81.3 % kept
    assert (o.at[1, "sent"], o.at[1, "delivered"]) == (4_710_081, 1_921_826)
    assert (o.at[1, "replied"], o.at[1, "subscribed"]) == (34_474, 28_622)
    assert round(o.at[1, "response_rate"], 4) == 0.0179
    assert round(o.at[1, "subscription_rate"], 4) == 0.0149
    assert round(o.at[1, "retention"], 3) == 0.813
    # step 2: 31,660 subscribers = 1.68 % of the 1,887,352 targets
    assert (o.at[2, "sent"], o.at[2, "subscribed"]) == (1_887_352, 31_660)
    assert round(o.at[2, "subscribed"] / o.at[2, "sent"], 4) == 0.0168


@pytest.mark.slow  # the full 6.6M-row log
def test_j3_daily_funnel_is_the_decks_table(j3):
    _, f = j3
    d = f.daily[f.daily["step"] == 1].reset_index(drop=True)
    table = published.read("j3_step1_daily")
    for col in ("sent", "delivered", "replied", "subscribed", "unsubscribed"):
        np.testing.assert_array_equal(d[col].to_numpy(), table[col].to_numpy(), err_msg=col)
    # the running kept total the deck should have printed: 10,688 on 7 June, 22,814 on 10 June
    assert d["kept_cumulative"].tolist() == [5502, 10688, 16611, 21248, 22814, 23267]
    d2 = f.daily[f.daily["step"] == 2]
    assert d2["subscribed"].head(6).tolist() == [1269, 2511, 1351, 2561, 3124, 2128]
    assert d2[d2["date"] > "2009-06-14"]["subscribed"].sum() == 18_716
    assert d2["date"].max() <= pd.Timestamp("2009-06-30")


@pytest.mark.slow  # the full 6.6M-row log
def test_j3_step2_targets_are_step1_delivered_non_responders(j3):
    c, _ = j3
    s1, s2 = c[c["step"] == 1], c[c["step"] == 2]
    nonresp = s1.loc[s1["delivered"] & s1["replied_at"].isna(), "user_id"]
    assert len(nonresp) == 1_887_352
    assert set(s2["user_id"]) == set(nonresp)
    assert (s2["subscribed_at"].dropna() >= s2.loc[s2["subscribed_at"].notna(), "sent_at"]).all()


def test_j3_discrepancies_flag_the_decks_own_arithmetic():
    d = published.j3_discrepancies().set_index("figure")
    wrong = sorted(d.index[~d["agrees"]])
    assert wrong == ["kept cumulative 2009-06-07", "kept cumulative 2009-06-10", "kept cumulative 2009-06-11",
                     "kept total", "unsubscribed total"]
    assert d.at["kept cumulative 2009-06-10", "recomputed"] == 22_814      # printed 22,817
    assert d.at["unsubscribed total", "recomputed"] == 5_355              # printed 5,352
    assert d.at["kept total", "recomputed"] == 23_267                     # printed 23,270
    assert d.at["retention", "agrees"] and abs(d.at["retention", "recomputed"] - 0.8129) < 5e-5


def test_j3_contacts_on_a_hand_made_table():
    step1 = pd.DataFrame({"date": ["2009-06-06", "2009-06-07"], "sent": [10, 0], "delivered": [6, 0],
                          "replied": [2, 1], "subscribed": [2, 1], "unsubscribed": [1, 0],
                          "kept_cumulative_printed": [1, 2]})
    step2 = pd.DataFrame({"date": ["2009-06-09", "after 2009-06-09"], "sent": [3, 0], "subscribed": [1, 1]})
    c = published.j3_contacts(step1, step2, campaign_id="T")
    s1, s2 = c[c["step"] == 1], c[c["step"] == 2]
    assert len(s1) == 10 and s1["delivered"].sum() == 6
    assert s1["replied_at"].notna().sum() == 3 and s1["unsubscribed_at"].notna().sum() == 1
    # the 7 June reply comes from a 6 June delivered target, on 7 June
    assert (s1["replied_at"].dt.day == 7).sum() == 1
    assert len(s2) == 3 and s2["subscribed_at"].notna().sum() == 2
    assert set(s2["user_id"]) <= set(s1.loc[s1["delivered"] & s1["replied_at"].isna(), "user_id"])


def test_j3_contacts_refuses_an_impossible_table():
    step1 = pd.DataFrame({"date": ["2009-06-06"], "sent": [10], "delivered": [2], "replied": [3],
                          "subscribed": [1], "unsubscribed": [0], "kept_cumulative_printed": [1]})
    step2 = pd.DataFrame({"date": ["2009-06-09"], "sent": [0], "subscribed": [0]})
    with pytest.raises(SchemaError, match="replies that delivered targets"):
        published.j3_contacts(step1, step2)
    step1.loc[0, ["replied", "subscribed"]] = [1, 2]
    with pytest.raises(SchemaError, match="subscribed <= replied"):
        published.j3_contacts(step1, step2)


def test_read_errors(tmp_path):
    with pytest.raises(ParameterError, match="parameter 'name'"):
        published.read("j3_step3")
    with pytest.raises(DataNotFoundError, match="j3_step2_daily.csv"):
        published.read("j3_step2_daily", folder=tmp_path)
    (tmp_path / "j3_step2_daily.csv").write_text("date,sent,subscribed\n2009-06-09,-5,1\n")
    with pytest.raises(SchemaError, match="column 'sent': expected whole counts"):
        published.read("j3_step2_daily", folder=tmp_path)
    (tmp_path / "j3_step2_daily.csv").write_text("date,sent\n2009-06-09,5\n")
    with pytest.raises(SchemaError, match="column 'subscribed'"):
        published.read("j3_step2_daily", folder=tmp_path)


def test_g1_lines_give_g1s_shares():
    a = published.g1_lines()
    eff = forecast.effective_revenue({"operating": a["operating"], "new_business": a["new_business"],
                                      "data_vas": a["data_vas"], "promo": a["promo"],
                                      "promo_crbt_trial": a["promo_effective"] / 0.7})
    assert round(eff.shares["discount_rate"], 3) == 0.141
    assert round(eff.shares["effective_new_business_share"], 3) == 0.293
    assert round(a["promo"] / a["new_business"], 3) == 0.115          # the new-business discount rate
    assert round(a["data_vas"] * (1 - a["promo"] / a["data_vas"]) / a["operating"], 3) == 0.225


def test_g4_counts_as_contacts_give_the_printed_rates():
    g = published.g4_contacts()
    o = campaign.funnel(g).overall.set_index("campaign_id")
    printed = published.read("g4_campaigns").set_index("campaign")["rate_printed"]
    for name, rate in printed.items():
        # printed to one decimal of a percent; 308 / 1,775 = 17.35 % is printed 17.3 % (truncated)
        assert abs(o.at[name, "subscription_rate"] - rate) < 0.001, name
    assert o.at["game_together_halls", "sent"] == 126_000


def _y5_frames():
    months = ["2008-03", "2008-04", "2008-05", "2008-06", "2008-07", "2008-08", "2008-09"]
    # user: P2P SMS per month, ARPU in June
    sms = {1: [0, 0, 0, 0, 0, 0, 5], 2: [0, 0, 0, 0, 0, 0, 0], 3: [0, 0, 0, 1, 0, 0, 0], 4: [0, 0, 0, 0, 0, 0, 0],
           5: [80] * 3 + [100, 0, 0, 112], 6: [80] * 3 + [60, 0, 0, 65], 7: [90] * 3 + [150, 0, 0, 170],
           8: [300] * 7, 9: [250] * 7}
    arpu = {5: 30.0, 6: 60.0, 7: 200.0}            # one per spend bin: 0-50, 50-150, 150+
    rows = []
    for uid, per in sms.items():
        for m, v in zip(months, per, strict=True):
            row = {c.name: (0.0 if c.kind == "float" else 0) for c in schema.COLUMNS["usage"]}
            row.update(user_id=uid, month=m, sms_p2p=v, arpu=arpu.get(uid, 20.0))
            rows.append(row)
    subs = pd.DataFrame({"user_id": [8, 9], "service": "fetion", "start": pd.to_datetime(["2007-01-01", "2008-08-01"]),
                         "end": pd.NaT, "channel": "sms", "source": "organic"})
    subs["end"] = pd.to_datetime(subs["end"])
    return pd.DataFrame(rows), subs


def test_y5_outcomes_by_hand():
    usage, subs = _y5_frames()
    y = published.y5_outcomes(usage, subs, start="2008-06", end="2008-09")
    # silent Mar-May: users 1-4; sending in September: user 1 -> 1/4
    assert y.at["silent_sms_penetration", "value"] == pytest.approx(0.25) and y.at["silent_sms_penetration", "users"] == 4
    # middle groups (50-200 SMS in June) by spend: user 5 (+12), user 6 (+5), user 7 (+20) -> smallest rise 5
    assert y.at["middle_mou_rise_min", "value"] == pytest.approx(5.0) and y.at["middle_mou_rise_min", "users"] == 3
    # >= 200 SMS in June: users 8, 9; Fetion 1/2 in June, 2/2 in September -> +50 pp
    assert y.at["high_mou_fetion_rise", "value"] == pytest.approx(0.5)
    assert y.at["silent_sms_penetration", "published"] == 0.279
    with pytest.raises(SchemaError, match="no rows for"):
        published.y5_outcomes(usage, subs, start="2008-06", end="2008-10")


def test_y5_outcomes_from_the_columns_it_reads():
    """The projected columns give the same outcomes as the whole tables; a projection without
    a column read is named."""
    usage, subs = _y5_frames()
    want = published.y5_outcomes(usage, subs, start="2008-06", end="2008-09")
    got = published.y5_outcomes(usage[list(published.Y5_USAGE_COLUMNS)],
                                subs[list(published.Y5_SUBSCRIPTIONS_COLUMNS)], start="2008-06", end="2008-09")
    pd.testing.assert_frame_equal(got, want)
    with pytest.raises(SchemaError, match="arpu"):
        published.y5_outcomes(usage[["user_id", "month", "sms_p2p"]], subs, start="2008-06", end="2008-09")
