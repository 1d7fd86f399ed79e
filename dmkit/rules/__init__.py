"""Customer-level patterns: association rules, sequential rules and the G3 rule library.

- :func:`mine` — exact frequent itemsets and association rules (same output as mlxtend's
  fpgrowth + association_rules, much faster on subscriber baskets) → :class:`RuleSet`.
- :func:`baskets_from_subscriptions` — users × services boolean table from ``subscriptions``;
  :func:`check_baskets` — the check every miner runs on a baskets table.
- :class:`BasketScores` — rule scores held once per distinct basket with a basket code per user
  (:meth:`RuleSet.recommend_baskets`; :func:`library` takes them as ``scores``).
- :func:`sequential` — time-ordered rules "A then B within a window" (Y7's 时序关联).
- :func:`library` — the customer–service–channel rule library of case G3, rules in YAML
  (:func:`load_rules`; the packaged example is ``"fetion"``), over :func:`customer_table`.
"""
from __future__ import annotations

from dmkit.rules.basket_scores import BasketScores
from dmkit.rules.baskets import baskets_from_subscriptions
from dmkit.rules.library import (
    LibraryResult,
    crm_segment,
    customer_table,
    evaluate_offers,
    library,
    load_rules,
    offer_candidates,
)
from dmkit.rules.mining import check_baskets
from dmkit.rules.ruleset import RuleSet, mine
from dmkit.rules.sequential import SequentialRules, sequential

__all__ = [
    "BasketScores",
    "LibraryResult",
    "RuleSet",
    "SequentialRules",
    "baskets_from_subscriptions",
    "check_baskets",
    "crm_segment",
    "customer_table",
    "evaluate_offers",
    "library",
    "load_rules",
    "mine",
    "offer_candidates",
    "sequential",
]
