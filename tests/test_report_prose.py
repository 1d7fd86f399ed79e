"""dm.report.prose: every helper's direction word flips when the numbers flip."""
from __future__ import annotations

import pandas as pd
import pytest

from dmkit.errors import ParameterError
from dmkit.report import prose


def _cmp(before, after, **kw):
    return prose.comparison("AUC", before, after, subject="the revised model",
                            reference="the news-type model", verb="ranks the responders", **kw)


def test_comparison_flips_with_the_numbers():
    assert _cmp(0.586, 0.487) == ("The revised model ranks the responders worse than the news-type "
                                  "model (AUC 0.586 → 0.487).")
    assert "better than" in _cmp(0.487, 0.586)
    assert "about as well as" in _cmp(0.586, 0.588)
    # lower is better (an error): the same numbers read the other way
    assert "better than" in _cmp(0.586, 0.487, higher_is_better=False)


def test_comparison_rejects_nan():
    with pytest.raises(ParameterError, match="after"):
        _cmp(0.5, float("nan"))


def test_difference_flips():
    up = prose.difference("the response rate on this run", 0.021, 0.0179, reference_name="the deck's")
    assert up == "The response rate on this run (2.1%) is higher than the deck's (1.8%)."
    assert "lower than" in prose.difference("x", 0.01, 0.0179, reference_name="the deck's")
    assert "about the same as" in prose.difference("x", 0.018, 0.0179, reference_name="y", tolerance=0.001)


def test_drivers_follow_the_importance_table_and_its_signs():
    imp = pd.Series({"complaints": 0.02, "crbt_changes": 0.31, "music_downloads": 0.2, "sms_contacts": 0.1})
    s = prose.drivers(imp, outcome="churn", top=3, direction={"crbt_changes": -1.0, "music_downloads": 2.0})
    assert s == ("What drives churn on this run: more crbt_changes pulls it down (importance 0.31), "
                 "more music_downloads pushes it up (importance 0.2) and sms_contacts (importance 0.1).")
    assert "complaints" not in s
    flipped = prose.drivers(imp.rename({"complaints": "x"}).replace({0.02: 0.9}), outcome="churn", top=1,
                            direction={"x": 1.0})
    assert flipped == "What drives churn on this run: more x pushes it up (importance 0.9)."
    assert "pulls it down" in prose.drivers(imp, outcome="churn", top=1, direction={"crbt_changes": 0.5 - 1})
    assert "No feature carries weight" in prose.drivers(imp * 0, outcome="churn")


def test_share_and_empty():
    assert prose.share(1234, 20000, part_name="are heavy users", whole_name="subscribers") == \
        "1,234 of 20,000 subscribers (6.2%) are heavy users."
    assert prose.share(1, 0, part_name="x", whole_name="subscribers").startswith("There are no subscribers")
    s = prose.empty("rule", reason="few users hold it", change=["lower min_support (now 0.01)", "try another month"])
    assert s == ("No rule was found on this run: likely because few users hold it. To find some, "
                 "lower min_support (now 0.01), or try another month.")
    with pytest.raises(ParameterError, match="change"):
        prose.empty("rule", reason="r", change=[])


def test_listing():
    assert prose.listing(["a"]) == "a"
    assert prose.listing(["a", "b", "c"]) == "a, b and c"
    assert prose.listing([]) == ""


def test_directions_sign_and_constant_columns():
    import warnings

    import numpy as np

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"up": rng.normal(size=200), "down": rng.normal(size=200), "flat": 1.0})
    score = X["up"] - X["down"] + rng.normal(scale=0.1, size=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = prose.directions(X, score)
    assert d["up"] > 0.5 and d["down"] < -0.5 and d["flat"] == 0
    assert "pulls it down" in prose.drivers({"down": 1.0}, outcome="churn", direction=d)
    assert "pushes it up" in prose.drivers({"down": 1.0}, outcome="churn", direction=-d)
    with pytest.raises(ParameterError, match="score"):
        prose.directions(X, score[:10])
