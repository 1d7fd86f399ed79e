"""Tests of dmkit.lifecycle: product stages, Y3 customer states, transitions, Y2 strategies."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dmkit import lifecycle, schema
from dmkit.errors import ParameterError, SchemaError
from dmkit.synth import generate as synth_generate

# --------------------------------------------------------------------------------------
# Product stage
# --------------------------------------------------------------------------------------


def logistic_then_decline(n: int = 160, r: float = 0.12, k: float = 1e5, peak: int = 120, seed: int = 0):
    """An S curve (logistic, growth rate r) that turns into a 3 %/month decline after ``peak``."""
    t = np.arange(n)
    y = k / (1 + np.exp(-r * (t - 50)))
    y[peak:] = y[peak - 1] * np.exp(-0.03 * (t[peak:] - peak + 1))
    y = y * np.exp(np.random.default_rng(seed).normal(0, 0.003, n))
    return pd.Series(y, index=pd.period_range("2000-01", periods=n, freq="M").astype(str), name="svc")


def test_stages_follow_the_s_curve_in_order():
    y = logistic_then_decline()
    order = {s: i for i, s in enumerate(lifecycle.PRODUCT_STAGES)}
    seen = []
    for end in range(14, len(y) + 1, 4):
        st = lifecycle.product_stage(y.iloc[:end]).stages["svc"]
        seen.append(st)
    ranks = [order[s] for s in seen]
    assert ranks == sorted(ranks), seen            # never goes back to an earlier stage
    assert set(seen) == set(lifecycle.PRODUCT_STAGES)
    assert seen[0] == "introduction" and seen[-1] == "decline"


def test_stage_rule_thresholds_and_evidence():
    months = pd.period_range("2008-01", periods=12, freq="M").astype(str)
    t = np.arange(12)
    frame = pd.DataFrame({
        "flat": 5000 * np.exp(0.01 * t),      # +1 %/month: maturity
        "steady": 800 * np.exp(0.05 * t),     # +5 %: growth
        "fast": 50 * np.exp(0.15 * t),        # +15 %: introduction
        "shrinking": 3000 * np.exp(-0.03 * t),  # -3 %: decline
        "launched": np.r_[0, 0, 0, 5, 9, 20, 30, 45, 60, 80, 95, 120],
    }, index=months)
    res = lifecycle.product_stage(frame)
    assert res.stages.to_dict() == {"flat": "maturity", "steady": "growth", "fast": "introduction",
                                    "shrinking": "decline", "launched": "introduction"}
    assert res.table.loc["steady", "growth"] == pytest.approx(0.05)
    assert res.table.loc["shrinking", "change"] == pytest.approx(np.exp(-0.33) - 1)
    assert bool(res.table.loc["launched", "launched"])
    # moving a threshold moves the stage
    assert lifecycle.product_stage(frame["steady"], growth_above=0.06).stages.iloc[0] == "maturity"
    assert lifecycle.product_stage(frame["fast"], introduction_above=0.2).stages.iloc[0] == "growth"
    s = res.summary()
    assert "导入期" in str(s) and s.table("evidence").shape[0] == 5
    assert res.plot() is not None


def test_product_stage_errors():
    with pytest.raises(SchemaError, match="at least 4 months"):
        lifecycle.product_stage(pd.Series([1.0, 2.0, 3.0]))
    with pytest.raises(SchemaError, match="values >= 0"):
        lifecycle.product_stage(pd.Series([1.0, -2.0, 3.0, 4.0, 5.0]))
    with pytest.raises(SchemaError, match="0 throughout"):
        lifecycle.product_stage(pd.Series([0.0] * 6))
    with pytest.raises(SchemaError, match="Series or DataFrame"):
        lifecycle.product_stage([1, 2, 3, 4])
    with pytest.raises(ParameterError, match="parameter 'introduction_above'"):
        lifecycle.product_stage(pd.Series(np.arange(1.0, 9.0)), growth_above=0.1, introduction_above=0.05)
    with pytest.raises(ParameterError, match="parameter 'window'"):
        lifecycle.product_stage(pd.Series(np.arange(1.0, 9.0)), window=2)


# --------------------------------------------------------------------------------------
# Hand fixture: one user per Y3 state
# --------------------------------------------------------------------------------------

T = pd.Timestamp
MONTHS = ["2009-04", "2009-05", "2009-06"]
# user: (crbt_changes, music_downloads) per month Apr, May, Jun
USE = {
    1: [(3, 2), (3, 2), (3, 3)],   # heavy: ~5 a month
    2: [(1, 0), (0, 1), (1, 0)],   # light
    3: [(0, 0), (0, 0), (0, 0)],   # silent holder
    4: [(3, 3), (3, 3), (0, 0)],   # pre-churn: 6, 6, then nothing
    5: [(0, 0), (1, 1), (1, 1)],   # returned
    6: [(0, 0), (0, 0), (0, 0)],   # churned
    7: [(0, 0), (0, 0), (0, 1)],   # potential: downloads, never held CRBT
    8: [(0, 0), (0, 0), (0, 0)],   # non-potential
}
EXPECTED = {1: "heavy", 2: "light", 3: "silent", 4: "pre_churn", 5: "returned", 6: "churned",
            7: "potential", 8: "non_potential"}


def usage_frame(use=USE, months=MONTHS) -> pd.DataFrame:
    rows = []
    for uid, per in use.items():
        for m, (ch, dl) in zip(months, per, strict=True):
            row = {s.name: (0.0 if s.kind == "float" else 0) for s in schema.COLUMNS["usage"]}
            row.update(user_id=uid, month=m, crbt_changes=ch, music_downloads=dl, call_days=10)
            rows.append(row)
    return pd.DataFrame(rows)


def subs_frame() -> pd.DataFrame:
    rows = [
        (1, "crbt", T("2008-01-05"), pd.NaT), (2, "crbt", T("2008-06-01"), pd.NaT),
        (3, "crbt", T("2007-03-01"), pd.NaT), (4, "crbt", T("2008-02-01"), pd.NaT),
        (5, "crbt", T("2007-01-01"), T("2009-01-15")), (5, "crbt", T("2009-05-10"), pd.NaT),
        (6, "crbt", T("2008-01-01"), T("2009-03-01")), (7, "music", T("2009-01-01"), pd.NaT),
    ]
    df = pd.DataFrame(rows, columns=["user_id", "service", "start", "end"])
    df["channel"] = "sms"
    df["source"] = "organic"
    return df


def test_each_hand_user_gets_its_state():
    res = lifecycle.customer_states(usage_frame(), subs_frame(), service="crbt", month="2009-06")
    got = res.states.set_index("user_id")["state"].astype(str).to_dict()
    assert got == EXPECTED
    st = res.states.set_index("user_id")
    assert st.loc[4, "prior_mean"] == 6 and st.loc[4, "use"] == 0 and not st.loc[4, "growth"]
    assert not st.loc[3, "activity"] and st.loc[3, "holder"]
    assert not st.loc[5, "loyalty"] and st.loc[1, "loyalty"]
    c = res.counts
    assert c["users"].sum() == 8 and (c["users"] == 1).all()
    assert c.loc["heavy", "share_of_holders"] == pytest.approx(1 / 5)
    assert "重度" in str(res.summary())
    assert res.plot() is not None


def test_thresholds_move_users_between_states():
    u, s = usage_frame(), subs_frame()
    # heavy needs a mean of 6 a month now: user 1 (5.3) becomes light
    res = lifecycle.customer_states(u, s, service="crbt", month="2009-06", heavy=6.0)
    assert res.states.set_index("user_id").at[1, "state"] == "light"
    # a returned user long ago is judged on use again
    res = lifecycle.customer_states(u, s, service="crbt", month="2009-06", return_months=1)
    assert res.states.set_index("user_id").at[5, "state"] == "light"
    # silence needs only the data month
    res = lifecycle.customer_states(u, s, service="crbt", month="2009-06", silent_months=1)
    assert res.states.set_index("user_id").at[4, "state"] == "silent"


def test_transitions_between_two_months():
    u, s = usage_frame(), subs_frame()
    may = lifecycle.customer_states(u, s, service="crbt", month="2009-05", window=2, silent_months=2)
    june = lifecycle.customer_states(u, s, service="crbt", month="2009-06", window=2, silent_months=2)
    tr = lifecycle.transitions(may, june)
    assert tr.counts.to_numpy().sum() == 8
    assert tr.counts.loc["heavy", "pre_churn"] == 1          # user 4 drops out in June
    rows = tr.shares.sum(axis=1)
    assert np.allclose(rows[rows > 0], 1.0)
    assert tr.shares.shape == (8, 8)
    assert tr.plot() is not None and "→" in str(tr.summary())
    other = lifecycle.customer_states(u, s, service="music", month="2009-06")
    with pytest.raises(ParameterError, match="parameter 'after'"):
        lifecycle.transitions(may, other)


def test_customer_states_errors():
    u, s = usage_frame(), subs_frame()
    with pytest.raises(SchemaError, match="data month '2009-09'"):
        lifecycle.customer_states(u, s, service="crbt", month="2009-09")
    with pytest.raises(ParameterError, match="parameter 'activity_columns'"):
        lifecycle.customer_states(u, s, service="securities", month="2009-06")
    with pytest.raises(ParameterError, match="parameter 'service'"):
        lifecycle.customer_states(u, s, service="nope", month="2009-06")
    with pytest.raises(ParameterError, match="parameter 'decline_ratio'"):
        lifecycle.customer_states(u, s, month="2009-06", decline_ratio=2.0)
    with pytest.raises(SchemaError, match="table 'usage'"):
        lifecycle.customer_states(u.drop(columns="month"), s, month="2009-06")
    with pytest.raises(SchemaError, match="table 'subscriptions'"):
        lifecycle.customer_states(u, s.drop(columns="end"), month="2009-06")
    # only the columns read are required: tables read with those columns give the same states
    lean = lifecycle.customer_states(u[["user_id", "month", "crbt_changes", "music_downloads"]],
                                     s[["user_id", "service", "start", "end"]], month="2009-06")
    pd.testing.assert_frame_equal(lean.states, lifecycle.customer_states(u, s, month="2009-06").states)
    # securities with explicit columns works
    r = lifecycle.customer_states(u, s, service="securities", month="2009-06", activity_columns=["sms_p2p"])
    assert set(r.states["state"].astype(str)) == {"non_potential"}


# --------------------------------------------------------------------------------------
# Strategy matrix
# --------------------------------------------------------------------------------------


def test_strategy_matrix_holds_the_deck_strategies():
    named = {
        "promotion & customer identification", "cross-sell & trial", "bundles to attract",
        "precision marketing & cross-sell", "bundling & customer care", "precision marketing & retention",
        "recommend a substitute service", "value conversion to a substitute",
        "product exit / give up the customer", "trial & customer binding", "market capture & binding",
        "customer clustering",
    }
    assert set(lifecycle.STRATEGY_MATRIX.to_numpy().ravel()) == named
    assert set(lifecycle.CUSTOMER_STAGE) == set(lifecycle.STATES)


def test_strategy_assignment_and_cells():
    states = lifecycle.customer_states(usage_frame(), subs_frame(), service="crbt", month="2009-06")
    plan = lifecycle.strategy("maturity", states)
    a = plan.assignments.set_index("user_id")
    assert a.loc[1, "strategy"] == "bundling & customer care"            # heavy, mature product
    assert a.loc[4, "strategy"] == "precision marketing & retention"     # pre-churn
    assert a.loc[7, "strategy"] == "bundles to attract"                  # potential
    assert plan.cells.to_numpy().sum() == 8
    assert plan.cells.loc["maturity", "decline"] == 3                    # silent, pre-churn, churned
    # an edited matrix is used as given
    mine = lifecycle.STRATEGY_MATRIX.copy()
    mine.loc["maturity", "maturity"] = "VIP club"
    assert lifecycle.strategy({"crbt": "maturity"}, states, matrix=mine).assignments.set_index(
        "user_id").at[1, "strategy"] == "VIP club"
    assert plan.plot() is not None and "微观生命周期" in str(plan.summary())


def test_strategy_errors():
    states = lifecycle.customer_states(usage_frame(), subs_frame(), service="crbt", month="2009-06")
    with pytest.raises(ParameterError, match="parameter 'product_stage'.*none for \\['crbt'\\]"):
        lifecycle.strategy({"mms": "growth"}, states)
    with pytest.raises(ParameterError, match="parameter 'product_stage'.*stages among"):
        lifecycle.strategy("plateau", states)
    bad = pd.DataFrame({"user_id": [1], "state": ["sleepy"]})
    with pytest.raises(ParameterError, match="parameter 'customer_state'.*sleepy"):
        lifecycle.strategy("growth", bad)
    with pytest.raises(SchemaError, match="column 'state'"):
        lifecycle.strategy("growth", pd.DataFrame({"user_id": [1]}))


# --------------------------------------------------------------------------------------
# Truth recovery on the province simulator
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_province():
    return synth_generate("jiangsu", month="2009-06", n_users=8_000, seed=7)


def test_simulator_product_stages_recovered(synth_province):
    d = synth_province
    series = lifecycle.active_users(d.subscriptions, month="2009-06", n_months=24)
    assert series.shape == (24, d.subscriptions["service"].nunique())
    res = lifecycle.product_stage(series)
    truth = pd.Series(d.truth.lifecycle["product_stage"])
    agree = (res.stages == truth.reindex(res.stages.index)).mean()
    assert agree >= 0.9, res.table.assign(truth=truth)[res.stages != truth.reindex(res.stages.index)]


def test_active_users_matches_a_direct_count(synth_province):
    s = synth_province.subscriptions
    series = lifecycle.active_users(s, month="2009-06", n_months=3, services=["crbt", "mms"])
    end = pd.Timestamp("2009-05-01")   # first instant after April
    crbt = s[s["service"] == "crbt"]
    direct = int(((crbt["start"] < end) & (crbt["end"].isna() | (crbt["end"] >= end))).sum())
    assert series.loc["2009-04", "crbt"] == direct


def test_active_users_in_chunks_and_on_text_services(synth_province, monkeypatch):
    # the rows binned a chunk at a time, the service as text or categories, null ends: the
    # same counts as a direct count per month end
    s = synth_province.subscriptions[["user_id", "service", "start", "end"]]
    whole = lifecycle.active_users(s, month="2009-06", n_months=4)
    monkeypatch.setattr(lifecycle, "_CHUNK_ROWS", 997)
    text = s.assign(service=s["service"].astype(object))
    for df in (s, text):
        pd.testing.assert_frame_equal(lifecycle.active_users(df, month="2009-06", n_months=4), whole)
    assert list(whole.columns) == sorted(s["service"].astype(str).unique())
    assert s["end"].isna().any()
    for month, end in (("2009-03", "2009-04-01"), ("2009-06", "2009-07-01")):
        svc = s[s["service"] == "mms"]
        end = pd.Timestamp(end)
        assert whole.loc[month, "mms"] == int(((svc["start"] < end) & (svc["end"].isna() | (svc["end"] >= end))).sum())


def test_simulator_crbt_states_recovered(synth_province):
    d = synth_province
    res = lifecycle.customer_states(d.usage, d.subscriptions, service="crbt", month="2009-06")
    truth = d.truth.user_truth[["user_id", "crbt_state"]].astype({"crbt_state": str})
    m = res.states.merge(truth, on="user_id")
    held = m[m["crbt_state"] != "none"]
    assert (held["state"].astype(str) == held["crbt_state"]).mean() >= 0.88
    for name, g in held.groupby("crbt_state"):
        assert (g["state"].astype(str) == name).mean() >= 0.8, name


def test_simulator_transitions_follow_the_planted_patterns(synth_province):
    # the simulator plants each CRBT holder's data-month state as a pattern over the panel:
    # silent = light, then nothing for 3 months; pre-churn = heavy, halved, then nothing.
    # So three months earlier silent users looked light and pre-churn users heavy, and the
    # transition matrix must show heavy -> pre-churn and light -> silent moves in the planted
    # proportions (computed independently: earlier states x planted states).
    d = synth_province
    before = lifecycle.customer_states(d.usage, d.subscriptions, service="crbt", month="2009-03")
    now = lifecycle.customer_states(d.usage, d.subscriptions, service="crbt", month="2009-06")
    moves = lifecycle.transitions(before, now)
    planted = d.truth.user_truth.set_index("user_id")["crbt_state"].astype(str)
    earlier = before.states.set_index("user_id")["state"].astype(str)
    held = planted[planted != "none"].index.intersection(earlier.index)
    expected = pd.crosstab(earlier[held], planted[held], normalize="index")
    for src, dst in [("heavy", "pre_churn"), ("light", "silent")]:  # the planted moves
        assert expected.loc[src, dst] > 0.2
        assert moves.shares.loc[src, dst] == pytest.approx(expected.loc[src, dst], abs=0.06), (src, dst)
    for src, dst in [("heavy", "silent"), ("light", "pre_churn")]:  # not planted
        assert expected.loc[src, dst] < 0.02 and moves.shares.loc[src, dst] < 0.06, (src, dst)
    assert (moves.shares.loc["heavy", "heavy"] > 0.5) and (moves.shares.loc["light", "light"] > 0.5)


# --------------------------------------------------------------------------------------
# Y3 combination table (lifecycle_states.yaml) and the deck's PCL matrix
# --------------------------------------------------------------------------------------

def test_state_table_is_the_data_the_states_come_from():
    t = lifecycle.STATE_TABLE
    assert sorted(t.index) == sorted(lifecycle.STATES) and list(t.columns) == list(lifecycle.STATE_TESTS)
    res = lifecycle.customer_states(usage_frame(), subs_frame(), service="crbt", month="2009-06")
    m = lifecycle.state_matrix(res)
    assert (m["users"] == 1).all() and (m["mismatched"] == 0).all()
    assert m.loc["silent", ["holder", "loyalty", "activity"]].tolist() == ["Yes", "Yes", "No"]
    assert m.loc["churned", "growth"] == "–" and "沉默" in m.loc["silent", "name"]
    # the scraped deck marks kept beside the table: 8 states x 3 tests, 7 of them Yes
    marks = lifecycle._load_states_yaml()["deck"]["marks_in_scrape_order"]
    assert len(marks) == 24 and sum(v is True or v == "Yes" for v in marks) == 7


def test_an_edited_table_moves_users():
    u, s = usage_frame(), subs_frame()
    t = lifecycle.STATE_TABLE.copy()
    t.loc["heavy", "heavy_use"] = None          # heavy = every holder who passes the three tests
    res = lifecycle.customer_states(u, s, service="crbt", month="2009-06", table=t)
    got = res.states.set_index("user_id")["state"].astype(str)
    assert got[2] == "heavy" and got[1] == "heavy" and (got.drop([2]) == pd.Series(EXPECTED).drop(2)).all()
    # the matrix with the original table shows user 2 as a mismatch of the heavy row
    assert lifecycle.state_matrix(res).at["heavy", "mismatched"] == 1


def test_state_table_errors():
    u, s = usage_frame(), subs_frame()
    with pytest.raises(ParameterError, match="unmatched"):
        lifecycle.customer_states(u, s, service="crbt", month="2009-06",
                                  table=lifecycle.STATE_TABLE.drop(index="non_potential"))
    bad = lifecycle.STATE_TABLE.rename(index={"heavy": "very_heavy"})
    with pytest.raises(ParameterError, match="very_heavy"):
        lifecycle.customer_states(u, s, service="crbt", month="2009-06", table=bad)
    odd = lifecycle.STATE_TABLE.astype(object)
    odd.loc["heavy", "growth"] = "Yes"
    with pytest.raises(ParameterError, match="True, False or None"):
        lifecycle.assign_states(pd.DataFrame({c: [True] for c in lifecycle.STATE_TESTS}), odd)
    with pytest.raises(SchemaError, match="table 'tests', column 'held_before'"):
        lifecycle.assign_states(pd.DataFrame({"holder": [True]}))


def test_deck_strategy_matrix_as_laid_out():
    m = lifecycle.DECK_STRATEGY_MATRIX
    assert m.shape == (4, 4) and m.notna().all().all()
    assert m.loc["decline"].tolist() == ["recommend a substitute service", "recommend a substitute service",
                                         "value conversion to a substitute", "product exit / give up the customer"]
    assert lifecycle.DECK_STRATEGY_MATRIX_ZH.loc["maturity", "decline"] == "精确营销客户挽留"
    assert len(set(m.to_numpy().ravel())) == 15          # 16 cells, the substitute twice
    res = lifecycle.customer_states(usage_frame(), subs_frame(), service="crbt", month="2009-06")
    plan = lifecycle.strategy("maturity", res, matrix=m).assignments.set_index("user_id")
    assert plan.at[4, "strategy"] == "precision marketing & retention"     # pre-churn user of a mature service
    assert plan.at[7, "strategy"] == "cross-sell to potential customers"


def test_categorical_month_and_service_give_the_same_states():
    # the codes path (categorical columns with unused categories) against the factorized text path
    u, s = usage_frame(), subs_frame()
    plain = lifecycle.customer_states(u, s, service="crbt", month="2009-06")
    uc = u.assign(month=pd.Categorical(u["month"], categories=["2009-07", *MONTHS[::-1]]))
    sc = s.assign(service=pd.Categorical(s["service"], categories=["music", "sms_p2p", "crbt"]))
    coded = lifecycle.customer_states(uc, sc, service="crbt", month="2009-06")
    pd.testing.assert_frame_equal(plain.states, coded.states)
    assert coded.states.set_index("user_id")["state"].astype(str).to_dict() == EXPECTED
