"""Case V's mechanics: the coin ledger against hand-computed coins, the reward table as the deck
prints it, triggers, the propagation tree on a hand-made log, and the simulated club's planted
keep rates and reproduction numbers recovered."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
from dmkit.errors import DataNotFoundError, ParameterError, SchemaError
from dmkit.synth import viral as synth_viral

vl, vs = dm.viral_ledger, dm.viral_spread

DECK = {  # the deck's table (seed 004, 业务功能和积分设计): action -> coins, per product
    ("invite_join", "club"): 5, ("friend_sms", "club"): 20, ("friend_mms", "club"): 25, ("friend_crbt", "club"): 15,
    ("friend_fetion", "club"): 10, ("send_sms", "club"): 1, ("send_mms", "club"): 2, ("crbt_change", "club"): 5,
    ("fetion_friend", "club"): 3, ("retention", "sms_zzy"): 20, ("forward_seed_sms", "sms_zzy"): 2,
    ("on_demand_sms", "sms_zzy"): 1, ("upload_accepted", "sms_zzy"): 20, ("retention", "mms_zzy"): 25,
    ("forward_seed_mms", "mms_zzy"): 4, ("on_demand_mms", "mms_zzy"): 2,
}


def test_packaged_reward_table_is_the_decks():
    t = vl.load_rewards()
    got = {(r.action, r.products[0]): r.coins for r in t.rewards.itertuples()}
    assert got == DECK
    assert t.pool_share == 0.20
    assert t.products["fee"].to_dict() == {"club": 0, "sms_zzy": 2, "mms_zzy": 3}


MEMBERS = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "month": ["2009-01", "2009-02", "2009-01", "2009-02", "2009-02"],
                        "product": ["sms_zzy", "sms_zzy", "mms_zzy", "mms_zzy", "club"], "fee": [2, 2, 0, 3, 0]})
ACT = pd.DataFrame({"user_id": [1, 1, 2, 3, 3, 9], "month": ["2009-01", "2009-02", "2009-02", "2009-02", "2009-02", "2009-02"],
                    "action": ["forward_seed_sms", "forward_seed_mms", "forward_seed_mms", "send_sms", "forward_seed_sms",
                               "send_sms"],
                    "count": [10, 5, 3, 7, 4, 100]})


def test_ledger_by_hand():
    led = vl.ledger(ACT, MEMBERS)
    b = led.balances.set_index(["user_id", "month"])["balance"]
    # user 1: 10 seed SMS forwards x 2 = 20 in Jan; Feb: retention 20 (seed MMS forwards: not an MMS member)
    assert b[(1, "2009-01")] == 20 and b[(1, "2009-02")] == 40
    # user 2: free in Jan (nothing done); Feb: retention 25 + 3 seed MMS x 4 = 37
    assert b[(2, "2009-01")] == 0 and b[(2, "2009-02")] == 37
    # user 3: club member: 7 SMS x 1 = 7; seed SMS forwards earn nothing in the club; user 9 is no member
    assert b[(3, "2009-02")] == 7 and 9 not in led.balances["user_id"].to_numpy()
    assert led.pool.loc["2009-02", "fees"] == 5 and led.pool.loc["2009-02", "pool"] == pytest.approx(1.0)
    assert led.pool.loc["2009-02", "coins"] == 64 and led.pool_share == pytest.approx(0.2)
    assert led.tiers("2009-02").loc["low", "members"] == 3


def test_ledger_errors_name_the_table_and_column():
    with pytest.raises(SchemaError, match="table 'activity', column 'action'"):
        vl.ledger(ACT.assign(action="dance"), MEMBERS)
    with pytest.raises(SchemaError, match="table 'members', column 'product'"):
        vl.ledger(ACT, MEMBERS.assign(product="gold"))
    with pytest.raises(DataNotFoundError, match="no reward table"):
        vl.load_rewards("/nonexistent/rewards.yaml")


def test_edited_reward_table(tmp_path):
    from importlib import resources

    text = resources.files("dmkit").joinpath(vl.DEFAULT_REWARDS).read_text("utf-8")
    p = tmp_path / "r.yaml"
    p.write_text(text.replace("pool_share: 0.20", "pool_share: 0.30").replace(
        "{action: forward_seed_sms, coins: 2,", "{action: forward_seed_sms, coins: 5,"), encoding="utf-8")
    led = vl.ledger(ACT, MEMBERS, rewards=p)
    assert led.balances.set_index(["user_id", "month"]).loc[(1, "2009-01"), "balance"] == 50
    assert led.pool_share == pytest.approx(0.3)
    p.write_text(text.replace("pool_share: 0.20", "pool_share: 2"), encoding="utf-8")
    with pytest.raises(ParameterError, match="pool_share"):
        vl.load_rewards(p)


def test_triggers_by_hand():
    members = pd.DataFrame({"user_id": [1, 1, 2], "month": ["2009-01", "2009-02", "2009-02"],
                            "product": ["mms_zzy", "mms_zzy", "mms_zzy"], "fee": [3, 3, 3]})
    act = pd.DataFrame({"user_id": [1, 2, 2], "month": ["2009-02"] * 3,
                        "action": ["forward_seed_mms", "on_demand_mms", "send_mms"], "count": [250, 2, 1]})
    led = vl.ledger(act, members)
    c = vl.triggers(led, members, month="2009-02", activity=act)
    # user 1 crosses 1000: 25 retention + 250 x 4; user 2 joined this month and used on-demand without forwarding
    assert set(map(tuple, c[["trigger", "user_id"]].to_numpy())) == {
        ("reached_high_tier", 1), ("first_month", 2), ("forward_tip", 2)}
    assert "1025" in c.loc[c["trigger"] == "reached_high_tier", "message"].iloc[0]
    with pytest.raises(ParameterError, match="month"):
        vl.triggers(led, members, month="2010-01")


def _ts(h):
    return pd.Timestamp("2009-01-05") + pd.Timedelta(hours=h)


FWD = pd.DataFrame({  # member 1 sends item 0 to 2 and 3; 2 passes it to 4 and 5; 5 to 6; 3 to 2 again
    "user_id": [1, 1, 2, 2, 5, 3], "peer_id": [2, 3, 4, 5, 6, 2],
    "ts": [_ts(0), _ts(0.5), _ts(2), _ts(2.1), _ts(4), _ts(5)], "content_id": [0, 0, 0, 0, 0, 0]})


def test_propagation_tree_by_hand():
    p = vs.propagation(FWD, members=pd.DataFrame({"user_id": [1], "month": ["2009-01"]}),
                       cells=pd.Series({1: "a", 2: "b", 3: "b", 4: "b", 5: "b", 6: "b"}))
    t = p.tree.set_index("user_id")
    assert t["depth"].to_dict() == {1: 0, 2: 1, 3: 1, 4: 2, 5: 2, 6: 3}
    assert t.loc[2, "parent_id"] == 1 and t.loc[6, "parent_id"] == 5
    # forwarders 1 (children 2, 3: both forward), 2 (4, 5: one forwards), 3 (none new), 5 (6: no)
    assert t["forward_children"].to_dict() == {1: 2, 2: 1, 3: 0, 4: 0, 5: 0, 6: 0}
    assert p.r == pytest.approx(3 / 4)
    assert p.by_cell.loc["a", "r"] == 2 and p.by_cell.loc["b", "r"] == pytest.approx(1 / 3)
    c = p.contents.iloc[0]
    assert (c["forwards"], c["forwarders"], c["reach"], c["max_depth"]) == (6, 4, 5, 3)
    # an edges table without the 3 -> 2 pair: one forward outside the circle
    e = FWD[["user_id", "peer_id"]].iloc[:5]
    assert vs.propagation(FWD, edges=e).off_circle == 1


def test_prospects_by_hand():
    members = pd.DataFrame({"user_id": [1], "month": ["2009-01"]})
    f = pd.concat([FWD, FWD.assign(content_id=1, ts=FWD["ts"] + pd.Timedelta(days=1)).iloc[:1]])
    g = vs.prospects(f, members, month="2009-01").set_index("user_id")
    assert g.loc[2, "grade"] == "sensitive"          # from 1 and from 3
    assert g.loc[2, "received"] == 3 and g.loc[4, "grade"] == "reached"
    with pytest.raises(ParameterError, match="month"):
        vs.prospects(f, members, month="2010-01")
    with pytest.raises(SchemaError, match="column 'ts'"):
        vs.prospects(f.assign(ts="x"), members, month="2009-01")


@pytest.fixture(scope="module")
def club():
    d = dm.synth.generate("guangdong", month="2008-11", n_users=8000, seed=5)
    cells = d.truth.user_truth.set_index("user_id")["matrix_cell"].astype(str)
    rng = np.random.default_rng(0)
    seeds = rng.choice(len(cells), 1500, replace=False)
    return d, seeds, synth_viral.simulate_club(d, seeds=seeds, n_months=4, seed=3)


def test_seed_funnel_recovers_the_planted_keep_rates(club):
    _, seeds, V = club
    f = vs.seed_funnel(V.members, seeds=seeds, cells=V.cells)
    assert f.by_month["kept"].iloc[0] == 1 and f.by_month["paying"].iloc[0] == 0
    planted = V.truth["p_keep"].set_index("cell")["p_keep"]
    c = f.by_cell[f.by_cell["engaged"] >= 100]
    se = np.sqrt(planted[c.index] * (1 - planted[c.index]) / c["engaged"])
    assert (np.abs(c["share"] - planted[c.index]) < 4 * se).all()


def test_reproduction_numbers_match_the_planted_expectation(club):
    d, _, V = club
    p = vs.propagation(V.forwards, members=V.members, cells=V.cells, edges=d.edges,
                       content_month=V.contents.set_index("content_id")["month"])
    assert p.off_circle == 0
    exp = V.truth["r_expected"].set_index("cell")
    b = p.by_cell.join(exp, rsuffix="_planted")
    assert (b["forwarders"] == b["forwarders_planted"]).all()
    big = b[b["forwarders"] >= 200]
    se = np.sqrt(big["expected_secondary"]) / big["forwarders"]
    assert (np.abs(big["r"] - big["r_planted"]) < 4 * se + 0.01).all()
    # items with more appeal are forwarded more: the ranking follows the planted appeal
    rank = p.contents.merge(V.contents, on="content_id")
    assert rank[["forwards", "appeal"]].corr(method="spearman").iloc[0, 1] > 0.7


def test_club_ledger_pool_is_a_fifth_of_the_fees(club):
    _, _, V = club
    led = vl.ledger(V.activity, V.members)
    paid = V.members.groupby("month")["fee"].sum()
    np.testing.assert_allclose(led.pool["pool"], 0.2 * paid.reindex(led.pool.index))
    assert led.pool_share == pytest.approx(0.2)
    # every action of the deck's table but none is earned by somebody in the simulated club
    assert set(led.by_action().index) == set(vl.load_rewards().actions)


def test_club_parameters_are_checked(club):
    d, _, _ = club
    with pytest.raises(ParameterError, match="seeds"):
        synth_viral.simulate_club(d, seeds=[])
    with pytest.raises(ParameterError, match="n_months"):
        synth_viral.simulate_club(d, seeds=[1], n_months=0)
