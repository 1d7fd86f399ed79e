"""Sentences written from the numbers, so a report's prose cannot contradict its tables.

Each helper takes the figures a sentence is about and chooses its direction words
(better / worse / about as well, higher / lower, pushes up / pulls down) from them; an
empty result is said as empty, with the likely reason and what to change.

>>> from dmkit.report.prose import comparison
>>> comparison("AUC", 0.586, 0.487, subject="the revised model", reference="the news-type model",
...            verb="ranks the responders")
'The revised model ranks the responders worse than the news-type model (AUC 0.586 → 0.487).'
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from dmkit.errors import parameter_error
from dmkit.report.tables import Kind, format_value

__all__ = ["comparison", "difference", "directions", "drivers", "empty", "listing", "share"]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _number(name: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        raise parameter_error(name, expected="a number", found=value) from err
    if v != v:
        raise parameter_error(name, expected="a number, not NaN", found=value)
    return v


def comparison(metric: str, before: float, after: float, *, subject: str, reference: str,
               verb: str, higher_is_better: bool = True, tolerance: float = 0.005,
               kind: Kind = "number") -> str:
    """Say whether ``subject`` does better or worse than ``reference`` on ``metric``.

    Parameters
    ----------
    metric : str
        The measure compared, e.g. ``"AUC"``.
    before, after : float
        The reference's and the subject's value.
    subject, reference : str
        What is compared: ``"the revised model"``, ``"the news-type model"``.
    verb : str
        What they do: ``"ranks the responders"``.
    higher_is_better : bool
        False for measures where lower wins (an error, a cost).
    tolerance : float
        Differences up to this (absolute) say "about as well as".
    kind : {"number", "percent", "count", "money"}
        How the two values are printed.

    Returns
    -------
    str
        ``"The revised model ranks the responders better than the news-type model (AUC 0.586 → 0.612)."``,
        or ``worse than``, or ``about as well as``.
    """
    b, a = _number("before", before), _number("after", after)
    delta = a - b if higher_is_better else b - a
    word = "about as well as" if abs(a - b) <= tolerance else "better than" if delta > 0 else "worse than"
    shown = f"{metric} {format_value(b, kind)} → {format_value(a, kind)}"
    return f"{_cap(subject)} {verb} {word} {reference} ({shown})."


def difference(what: str, value: float, reference: float, *, reference_name: str,
               kind: Kind = "percent", tolerance: float = 0.0, unit: str = "yuan") -> str:
    """Say whether ``value`` is higher or lower than ``reference``.

    >>> difference("the response rate on this run", 0.021, 0.0179, reference_name="the deck's")
    "The response rate on this run (2.1%) is higher than the deck's (1.8%)."

    ``tolerance`` (absolute) says "about the same as" for close values.
    """
    v, r = _number("value", value), _number("reference", reference)
    word = "about the same as" if abs(v - r) <= tolerance else "higher than" if v > r else "lower than"
    return (f"{_cap(what)} ({format_value(v, kind, unit=unit)}) is {word} {reference_name} "
            f"({format_value(r, kind, unit=unit)}).")


def listing(items: Sequence[str]) -> str:
    """``["a", "b", "c"] -> "a, b and c"``."""
    items = [str(i) for i in items]
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def drivers(importance: pd.Series | Mapping[str, float], *, outcome: str, top: int = 3,
            direction: pd.Series | Mapping[str, float] | None = None,
            labels: Mapping[str, str] | None = None) -> str:
    """Name what drives ``outcome``: the ``top`` features by importance, with their direction.

    Parameters
    ----------
    importance : Series or mapping
        Feature -> importance (any scale; larger = more important).
    outcome : str
        What the model predicts, e.g. ``"churn"``.
    top : int
        How many features to name.
    direction : Series or mapping, optional
        Feature -> a signed effect (a correlation, a coefficient, high-minus-low mean score):
        positive says the feature "pushes {outcome} up", negative "pulls it down".
    labels : mapping, optional
        Readable names for features.

    Returns
    -------
    str
        ``"What drives churn on this run: more crbt_changes pushes it up, ... (importance 0.21, ...)."``,
        or a sentence that no feature carries weight when every importance is zero.
    """
    imp = pd.Series(importance, dtype=float).dropna()
    if top < 1:
        raise parameter_error("top", expected="an integer >= 1", found=top)
    imp = imp[imp > 0].sort_values(ascending=False)
    if imp.empty:
        return (f"No feature carries weight in the {outcome} model on this run (every importance is "
                f"zero): the model has not learned from these data; check that the target has "
                f"positives in this month or widen the feature set.")
    names = dict(labels or {})
    sign = pd.Series(direction, dtype=float) if direction is not None else None
    parts = []
    for feature, value in imp.head(top).items():
        label = names.get(feature, str(feature))
        if sign is not None and feature in sign.index and sign[feature] == sign[feature]:
            effect = "pushes it up" if sign[feature] > 0 else "pulls it down" if sign[feature] < 0 else "has no clear direction"
            parts.append(f"more {label} {effect} (importance {format_value(value, 'number')})")
        else:
            parts.append(f"{label} (importance {format_value(value, 'number')})")
    return f"What drives {outcome} on this run: {listing(parts)}."


def share(part: float, whole: float, *, part_name: str, whole_name: str) -> str:
    """``"1,234 of 20,000 subscribers (6.2%) are heavy users."``-style share sentence."""
    p, w = _number("part", part), _number("whole", whole)
    if w <= 0:
        return f"There are no {whole_name} on this run, so no share of {part_name} can be given."
    return f"{format_value(p, 'count')} of {format_value(w, 'count')} {whole_name} ({format_value(p / w, 'percent')}) {part_name}."


def empty(what: str, *, reason: str, change: str | Sequence[str]) -> str:
    """Say that a result is empty, why that is likely, and what to change.

    >>> empty("association rule with securities as consequent",
    ...       reason="few users hold mobile securities this month", change=["lower min_support (now 0.01)"])
    'No association rule with securities as consequent was found on this run: likely because few users hold mobile securities this month. To find some, lower min_support (now 0.01).'
    """
    changes = [change] if isinstance(change, str) else list(change)
    if not changes:
        raise parameter_error("change", expected="at least one thing to change", found=change)
    alternatives = ", or ".join(changes)
    return f"No {what} was found on this run: likely because {reason}. To find some, {alternatives}."


def directions(features: pd.DataFrame, score) -> pd.Series:
    """The sign of each feature's effect: its correlation with ``score`` (for :func:`drivers`).

    A constant feature, or a constant score, gets 0 ("no clear direction"), with no warning.

    Parameters
    ----------
    features : DataFrame
        One column per feature (e.g. a fitted model's held-out rows, ``model.X_test_``).
    score : array-like
        The model's score for the same rows (``model.p_test_``).
    """
    import numpy as np

    X = features.to_numpy(dtype=float)
    s = np.asarray(score, dtype=float)
    if len(s) != len(X):
        raise parameter_error("score", expected=f"{len(X)} values, one per row of features", found=len(s))
    xc, sc = X - X.mean(axis=0), s - s.mean()
    denom = np.sqrt((xc ** 2).sum(axis=0) * (sc ** 2).sum())
    num = xc.T @ sc
    corr = np.divide(num, denom, out=np.zeros_like(num), where=denom > 0)
    return pd.Series(corr, index=features.columns, name="direction")
