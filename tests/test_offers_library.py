"""The G3 rule library (every layer, every service) and its bridge to dm.offers (offer_candidates, crm_segment)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
from dmkit import catalog
from dmkit.errors import ParameterError


def test_g3_library_has_every_layer_for_every_service():
    lib = dm.rules.load_rules("g3")
    rules = pd.DataFrame(lib["rules"])
    for layer in ("model", "experience", "matching"):
        assert set(rules.loc[rules["source"] == layer, "service"]) == set(catalog.SERVICES)
    seg = rules[rules["source"] == "segment"]
    assert len(seg) == 27
    pairs = {(r["rule"], b) for r, b in zip(seg.to_dict("records"), seg["brand"], strict=True)}
    assert len(pairs) == 27 and {b for _, b in pairs} == set(catalog.BRANDS)
    # layers keep G3's priority order and terminal-dependent services are gated
    assert rules.groupby("source")["priority"].max().to_dict() == {"model": 1, "experience": 2, "segment": 3,
                                                                  "matching": 4}
    assert lib["eligibility"]["fetion_client"] == "term_fetion" and lib["eligibility"]["mms"] == "term_mms"


def test_crm_segment_tiers():
    c = pd.DataFrame({"brand": ["gotone", "easyown", "mzone", "gotone"], "arpu": [10, 200, 60, 50],
                      "sms_p2p": [10, 300, 60, 49], "gprs_kb": [0, 5000, 200, 2048]})
    assert dm.rules.crm_segment(c).tolist() == [1, 27, 1 + 9 + 3 + 0, 1 + 0 + 3 + 2]   # 1 + 9*brand + 3*arpu + usage


def test_g3_library_runs_on_customers_and_keeps_gates():
    data = dm.synth.generate("guangdong", month="2009-06", n_users=2000, seed=3)
    cust = dm.rules.customer_table(data.users, data.usage, month="2009-05")
    cust["crm_segment"] = dm.rules.crm_segment(cust)
    scores = pd.DataFrame(0.0, index=cust["user_id"], columns=list(catalog.SERVICES))
    res = dm.rules.library(cust, rules="g3", scores=scores, max_offers=8, volume_scale=1.0)
    rec = res.recommendations
    assert set(rec["source"]) == {"experience", "segment", "matching"}      # zero scores: no model offers
    term = cust.set_index("user_id").loc[rec.loc[rec["service"] == "mms", "user_id"], "term_mms"]
    assert term.all()


def test_offer_candidates_values_and_activities():
    rec = pd.DataFrame({"user_id": [1, 1, 2, 2], "service": ["fetion", "fetion", "mms", "crbt"],
                        "channel": ["sms", "sms", "hall", "sms"], "rule": ["m", "e", "s", "x"],
                        "source": ["model", "experience", "segment", "matching"], "priority": [1, 2, 3, 4],
                        "score": [0.3, 5.0, 0.0, 0.0]})
    base = pd.Series({"fetion": 0.02, "mms": 0.1, "crbt": 0.05})
    margin = pd.Series({"fetion": 10.0, "mms": 20.0, "crbt": 30.0})
    cost = pd.Series({"sms": 0.1, "hall": 1.0})
    cand, acts = dm.rules.offer_candidates(rec, base_rate=base, margin=margin, channel_cost=cost)
    got = cand.set_index(["user_id", "activity_id"])
    assert len(cand) == 3                                    # user 1's two fetion@sms matches: the model's kept
    assert got.loc[(1, "fetion@sms"), "p_response"] == pytest.approx(0.3)
    assert got.loc[(1, "fetion@sms"), "value"] == pytest.approx(0.3 * 10 - 0.1)
    assert got.loc[(2, "mms@hall"), "p_response"] == pytest.approx(0.1 * 1.5)        # segment lift 1.5
    assert got.loc[(2, "crbt@sms"), "value"] == pytest.approx(0.05 * 30 - 0.1)      # matching lift 1
    assert set(acts["activity_id"]) == {"fetion@sms", "mms@hall", "crbt@sms"}
    assert acts.set_index("activity_id").loc["mms@hall", "cost"] == 1.0
    plan = dm.offers.optimize(cand, activities=acts, method="exact")
    assert plan.objective == pytest.approx(cand.loc[cand["value"] > 0, "value"].sum())
    with pytest.raises(ParameterError, match="channel_cost"):
        dm.rules.offer_candidates(rec, base_rate=base, margin=margin, channel_cost=cost.drop("hall"))
    assert np.all(acts["day"].between(1, 28))
