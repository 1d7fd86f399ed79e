"""Reading a fitted decision tree as rules: the one reader of :mod:`dmkit.propensity` and
:mod:`dmkit.fingerprint`.

A rule is the path from the root to a leaf, as conditions ``(feature, op, threshold)``
with ``op`` in ``{"<=", ">"}`` (scikit-learn's split: left is ``<=``). A subtree whose
leaves all carry the same label (both children predict the target, or both do not) reads
as one rule, its root's: a split that does not change the decision only makes a rule
longer. Conditions keep the tightest bound per feature and direction.

A method helper: imports nothing of dmkit.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Condition", "node_counts", "read_rules", "simplify"]

Condition = tuple[str, str, float]
"""(feature, op, threshold), op ``"<="`` or ``">"``."""


def node_counts(tree, leaf_of: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and positives per node of a fitted tree: counted in the leaves, summed upwards.

    Parameters
    ----------
    tree : fitted DecisionTreeClassifier
    leaf_of : array of int
        The leaf of each row (``tree.apply(X)``).
    y : array of 0/1 or bool
        The target of each row.

    Returns
    -------
    (n_node, k_node) : two float arrays of length ``tree.tree_.node_count``
    """
    t = tree.tree_
    n_node = np.bincount(leaf_of, minlength=t.node_count).astype(np.float64)
    k_node = np.bincount(leaf_of, weights=y, minlength=t.node_count).astype(np.float64)
    left, right = t.children_left, t.children_right
    for node in range(t.node_count - 1, -1, -1):  # children have larger ids than their parent
        if left[node] != -1:
            n_node[node] = n_node[left[node]] + n_node[right[node]]
            k_node[node] = k_node[left[node]] + k_node[right[node]]
    return n_node, k_node


def read_rules(tree, names: Sequence[str], label: np.ndarray, *,
               merge: bool = True) -> list[tuple[int, tuple[Condition, ...]]]:
    """The rules of a fitted tree: ``[(node, conditions), ...]``, left branch first.

    Parameters
    ----------
    tree : fitted DecisionTreeClassifier
    names : sequence of str
        Feature names, in the order of the columns the tree was fitted on.
    label : array of bool, one per node
        What each node predicts (e.g. the target class, or "precise enough to be a rule").
    merge : bool, default True
        Read a subtree whose leaves all carry the same label as one rule (at its root).
        False: one rule per leaf.

    Returns
    -------
    list of (int, tuple of Condition)
        The node each rule ends at and its conditions, simplified (:func:`simplify`);
        the root alone has no conditions.
    """
    t = tree.tree_
    left, right = t.children_left, t.children_right
    uniform = np.zeros(t.node_count, dtype=bool)
    for node in range(t.node_count - 1, -1, -1):
        uniform[node] = left[node] == -1 or (merge and uniform[left[node]] and uniform[right[node]]
                                             and label[left[node]] == label[right[node]])
    out: list[tuple[int, tuple[Condition, ...]]] = []
    stack: list[tuple[int, list[Condition]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if uniform[node]:
            out.append((node, simplify(path)))
            continue
        feature, threshold = str(names[t.feature[node]]), float(t.threshold[node])
        stack.append((right[node], path + [(feature, ">", threshold)]))
        stack.append((left[node], path + [(feature, "<=", threshold)]))
    return out


def simplify(conditions: Sequence[Condition]) -> tuple[Condition, ...]:
    """Keep the tightest bound per (feature, op), in the order they first appear:
    ``x > 5 and x > 10`` -> ``x > 10``; ``x <= 9 and x <= 3`` -> ``x <= 3``."""
    best: dict[tuple[str, str], float] = {}
    for feature, op, threshold in conditions:
        key = (feature, op)
        if key not in best:
            best[key] = threshold
        else:
            best[key] = max(best[key], threshold) if op == ">" else min(best[key], threshold)
    return tuple((f, op, thr) for (f, op), thr in best.items())
