"""dmkit._trees: the one reader of a fitted tree as rules (propensity.tree_rules, fingerprint)."""
from __future__ import annotations

import numpy as np
from sklearn.tree import DecisionTreeClassifier

from dmkit import _trees


def test_simplify_keeps_tightest_bound():
    assert _trees.simplify([("a", ">", 1.0), ("b", "<=", 5.0), ("a", ">", 3.0), ("b", "<=", 4.0)]) == (
        ("a", ">", 3.0), ("b", "<=", 4.0))


def _planted_tree():
    """y = 1 exactly where x > 5 (x in 0..9); z is noise, so the tree splits x, then refines."""
    rng = np.random.default_rng(0)
    x = np.repeat(np.arange(10.0), 50)
    z = rng.random(len(x))
    y = (x > 5).astype(int)
    X = np.column_stack([x, z])
    return DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y), X, y


def test_node_counts_sum_the_leaves_upwards():
    tree, X, y = _planted_tree()
    n_node, k_node = _trees.node_counts(tree, tree.apply(X), y)
    assert n_node[0] == len(y) and k_node[0] == y.sum()          # the root holds every row
    t = tree.tree_
    inner = np.flatnonzero(t.children_left != -1)
    assert np.array_equal(n_node[inner], n_node[t.children_left[inner]] + n_node[t.children_right[inner]])


def test_read_rules_recovers_the_planted_threshold_and_merges_same_label_subtrees():
    tree, X, y = _planted_tree()
    label = tree.tree_.value[:, 0, 1] > tree.tree_.value[:, 0, 0]
    merged = _trees.read_rules(tree, ["x", "z"], label)
    assert [conds for _, conds in merged] == [(("x", "<=", 5.5),), (("x", ">", 5.5),)]
    every_leaf = _trees.read_rules(tree, ["x", "z"], label, merge=False)
    assert len(every_leaf) == int((tree.tree_.children_left == -1).sum()) >= len(merged)
