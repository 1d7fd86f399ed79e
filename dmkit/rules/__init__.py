"""Customer-level patterns: association rules, sequential rules and the G3 rule library.

- :func:`mine` — exact frequent itemsets and association rules (same output as mlxtend's
  fpgrowth + association_rules, much faster on subscriber baskets) → :class:`RuleSet`.
- :func:`baskets_from_subscriptions` — users × services boolean table from ``subscriptions``.
- :func:`sequential` — time-ordered rules "A then B within a window" (Y7's 时序关联).
- :func:`library` — the customer–service–channel rule library of case G3 (YAML rules).
"""
from __future__ import annotations

from dmkit.rules.baskets import baskets_from_subscriptions
from dmkit.rules.ruleset import RuleSet, mine

__all__ = ["RuleSet", "baskets_from_subscriptions", "mine"]
