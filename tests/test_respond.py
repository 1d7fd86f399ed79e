"""dm.synth.respond: the simulator answers a contact plan from the planted take-up probabilities."""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
from dmkit.errors import SchemaError

R = importlib.import_module("dmkit.synth.respond")   # the module (dm.synth.respond is the function)

MONTH = "2009-01"


@pytest.fixture(scope="module")
def world():
    return dm.synth.generate("guangdong", month="2008-12", n_users=20_000, seed=11, n_months=3)


def _plan(n_users, k, *, seed=0, channel="sms", control=0.1, users=None):
    rng = np.random.default_rng(seed)
    u = rng.choice(n_users, k, replace=False) if users is None else np.asarray(users)
    return pd.DataFrame({
        "user_id": u, "service": np.array(R.SERVICES)[rng.integers(0, 3, len(u))], "channel": channel,
        "group": np.where(rng.random(len(u)) < control, "control", "target"),
        "day": 5, "window_start": 9.5, "window_end": 12.0})


def test_same_seed_same_plan_same_responses_in_any_row_order(world):
    plan = _plan(20_000, 3000)
    a = dm.synth.respond(world, plan, month=MONTH, seed=3)
    b = R.respond(world, plan.sample(frac=1.0, random_state=1), month=MONTH, seed=3)
    for name in ("contacts", "subscriptions", "usage", "kpis", "truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    c = R.respond(world, plan, month=MONTH, seed=4)
    assert not c.contacts["subscribed_at"].equals(a.contacts["subscribed_at"])


def test_rows_follow_the_contract(world):
    r = R.respond(world, _plan(20_000, 3000), month=MONTH, seed=1)
    dm.schema.validate(r.contacts.drop(columns="channel"), "contacts")
    dm.campaign.check_contacts(r.contacts.drop(columns="channel"))
    dm.schema.validate(r.usage, "usage")
    assert set(r.usage["month"].astype(str)) == {MONTH} and len(r.usage) == 20_000
    dm.schema.validate(r.kpis, "kpis")
    both = pd.concat([world.subscriptions.astype({"source": object}), r.subscriptions.astype({"source": object})])
    assert not both.duplicated(["user_id", "service", "start"]).any()
    # sends on the planned day inside the window; control rows are never sent
    t = r.contacts[r.contacts["group"] == "target"]["sent_at"]
    assert (t.dt.day == 5).all() and t.dt.hour.between(9, 11).all()
    assert r.contacts.loc[r.contacts["group"] == "control", "sent_at"].isna().all()


def test_take_up_matches_the_planted_probability(world):
    """Observed subscriptions per group equal the sum of the planted probabilities (4 sd)."""
    plan = _plan(20_000, 12_000, control=0.3)
    r = R.respond(world, plan, month=MONTH, seed=5)
    sub = r.contacts["subscribed_at"].notna().to_numpy()
    for g in ("target", "control"):
        m = (r.truth["group"] == g).to_numpy()
        p = r.truth.loc[m, "p_effective"].to_numpy()
        assert abs(sub[m].sum() - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum()) + 1


def test_effective_probability_is_delivery_times_channel_times_fatigue(world):
    """p_effective recomputed independently from take_up_probability and the contact history."""
    plan = _plan(20_000, 4000, control=0.0, channel="outbound")
    r = R.respond(world, plan, month=MONTH, seed=2)
    p = R.take_up_probability(world, month=MONTH)
    c = world.contacts
    sent = c[(c["group"] == "target") & (c["sent_at"] >= "2008-10-01") & (c["sent_at"] < "2009-01-01")]
    k = sent.groupby("user_id").size().reindex(r.truth["user_id"]).fillna(0).to_numpy()
    pt = np.array([p.at[u, f"p_{s}"] for u, s in zip(r.truth["user_id"], r.truth["service"], strict=True)])
    expect = R.DELIVERY["outbound"] * np.minimum(1, pt * R.CHANNEL_EFFECT["outbound"] * R.FATIGUE ** k)
    expect = expect * r.truth["eligible"].to_numpy()
    np.testing.assert_allclose(r.truth["p_effective"].to_numpy(), expect, rtol=1e-12)
    assert (k > 0).any()   # the J3 campaign of December tires part of the base


def test_holders_never_take_the_service_again(world):
    subs = world.subscriptions
    held = subs[(subs["service"] == "fetion") & subs["end"].isna()]["user_id"].unique()[:2000]
    plan = pd.DataFrame({"user_id": held, "service": "fetion", "channel": "sms", "group": "target",
                         "day": 6, "window_start": 14.0, "window_end": 17.0})
    r = R.respond(world, plan, month=MONTH, seed=1)
    assert not r.truth["eligible"].any()
    assert r.contacts["subscribed_at"].isna().all()


def test_planted_probability_follows_the_j2_rule(world):
    p = R.take_up_probability(world, month=MONTH)
    u = world.usage[world.usage["month"] == "2008-12"].set_index("user_id").reindex(p.index)
    inside = (u["call_days"] > 28.5) & (u["monternet_sms"] > 2.5)
    assert p.loc[inside.to_numpy(), "p_newspaper"].mean() > 4 * p.loc[~inside.to_numpy(), "p_newspaper"].mean()
    pd.testing.assert_frame_equal(p, R.take_up_probability(world, month=MONTH))


@pytest.mark.parametrize("change, match", [
    ({"service": "carrier_service"}, "plan.*service"),
    ({"channel": "carrier_pigeon"}, "plan.*channel"),
    ({"day": 31 + 1}, "plan.*day"),
    ({"window_end": 8.0}, "plan.*window"),
])
def test_bad_plan_is_named(world, change, match):
    plan = _plan(20_000, 10).assign(**change)
    with pytest.raises(SchemaError, match=match):
        R.respond(world, plan, month=MONTH, seed=0)


def test_duplicate_offer_is_named(world):
    plan = _plan(20_000, 10)
    with pytest.raises(SchemaError, match="one row per"):
        R.respond(world, pd.concat([plan, plan.head(1)]), month=MONTH, seed=0)


def test_usage_of_the_month_before_is_required(world):
    with pytest.raises(SchemaError, match="usage.*month"):
        R.respond(world, _plan(20_000, 10), month="2009-03", seed=0)
