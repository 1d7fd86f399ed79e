"""The feedback stage (J1's fourth step): refit a scoring model on a campaign's outcomes and
show what changed.

Part of :mod:`dmkit.propensity`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_choice, check_frame
from dmkit.errors import schema_error
from dmkit.propensity.gains import gains_table
from dmkit.propensity.scoring import ScoringModel

__all__ = [
    "refit_with_responses",
    "RefitResult",
]


@dataclass(frozen=True)
class RefitResult(Result):
    """What changed when the model was retrained on campaign outcomes (J1 step 4, M feedback).

    Attributes
    ----------
    before, after : ScoringModel
        The original model and the model refit on the campaign's contacts.
    comparison : DataFrame
        Index ``before`` / ``after``; columns ``auc``, ``top_decile_lift``,
        ``top_decile_rate``, evaluated on the same held-out contacts.
    rules_before, rules_after : DataFrame
        The positive tree rules of each model.
    importance : DataFrame
        Columns ``feature``, ``before``, ``after``, ``change`` (permutation importance).
    notes : tuple of str
        Cautions shown in the summary (e.g. too few responders for a stable comparison).
    """

    before: ScoringModel
    after: ScoringModel
    comparison: pd.DataFrame
    rules_before: pd.DataFrame
    rules_after: pd.DataFrame
    importance: pd.DataFrame
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The before/after comparison."""
        return self.comparison

    def summary(self) -> Summary:
        """Comparison, rules before and after, importance change."""
        return Summary("Feedback: model revised from campaign responses (模型修正)", (
            ("held-out contacts", self.comparison),
            ("rules before", self.rules_before.drop(columns=["conditions"]).set_index("rule")),
            ("rules after", self.rules_after.drop(columns=["conditions"]).set_index("rule")),
            ("permutation importance", self.importance.set_index("feature")),
        ), self.notes)

    def plot(self, ax=None):
        """Gains curves of both models on the same held-out contacts."""
        ax = get_ax(ax)
        for name, p in (("before", self._p_before), ("after", self.after.p_test_)):
            g = gains_table(self.after.y_test_, p).table
            ax.plot(np.r_[0, g["cum_share"]], np.r_[0, g["cum_gain"]], marker="o", label=name)
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.set_xlabel("share of contacts targeted")
        ax.set_ylabel("share of responders captured")
        ax.set_title("Before vs after refit (held-out contacts)")
        ax.legend()
        return ax

    @property
    def _p_before(self) -> np.ndarray:
        return self.before.predict_proba(self.after.X_test_)[:, 1]


def refit_with_responses(
    model: ScoringModel,
    contacts: pd.DataFrame,
    features: pd.DataFrame,
    *,
    outcome: Literal["subscribed", "replied"] = "subscribed",
    delivered_only: bool = True,
    seed: int = 0,
    sample_size: int | None | Literal["model"] = "model",
) -> RefitResult:
    """Retrain ``model`` on a campaign's outcomes and show what changed.

    Parameters
    ----------
    model : ScoringModel
        The fitted model that chose the targets.
    contacts : DataFrame
        The ``contacts`` table (target-group rows are used).
    features : DataFrame
        Features on index ``user_id`` with at least the model's columns (extra columns
        are dropped), e.g. :func:`build_features` of the month before the campaign.
    outcome : {"subscribed", "replied"}
        Label: the contact subscribed (``subscribed_at`` set) or replied at all.
    delivered_only : bool, default True
        Learn only from delivered messages (an undelivered offer says nothing).
    seed : int
        Seed of the new model's split.
    sample_size : int, None or "model", default "model"
        Contacts the refit learns from at most (a stratified sample of its training part,
        see :class:`ScoringModel`): "model" keeps the original model's ``sample_size``
        (200,000 from :func:`fit`), None learns from every contact. The held-out contacts
        are never sampled; the summary states the sample when one was drawn.

    Returns
    -------
    RefitResult
    """
    model.check_fitted()
    check_choice(outcome, "outcome", ["subscribed", "replied"])
    _check_contacts(contacts)
    c = contacts[contacts["group"] == "target"]
    if delivered_only:
        c = c[c["delivered"]]
    col = "subscribed_at" if outcome == "subscribed" else "replied_at"
    y = c[col].notna().groupby(c["user_id"].to_numpy()).any().astype(np.int8)  # any response per user
    y.index.name = "user_id"
    check_frame(features, table="features", columns=list(model.feature_names_in_))
    X = features[list(model.feature_names_in_)]
    common = X.index.intersection(y.index)
    notes = []
    if 0 < y.loc[common].sum() < 30:
        notes.append(f"only {int(y.loc[common].sum())} responders among {len(common)} contacts: the refit model "
                     "and the before/after comparison are noisy")
    if len(common) == 0:
        raise schema_error(table="features", column="user_id", expected="rows for the contacted users",
                           found="no contacted user in the features' index",
                           fix="index the features by user_id (build_features does)")
    # the comparison needs held-out contacts: the refit keeps the model's test_size (0.3 if it had none)
    params = {"seed": seed, "test_size": model.test_size or 0.3}
    if sample_size != "model":
        params["sample_size"] = sample_size
    after = clone(model).set_params(**params).fit(X.loc[common], y.loc[common])
    if getattr(after, "sampled_", False):
        notes.append(f"the refit learnt from a stratified sample of {after.n_train_:,} of {after.n_available_:,} "
                     f"training contacts (sample_size={after.sample_size:,}); compared on "
                     f"{len(after.y_test_):,} held-out contacts not in the sample")
    p_before = model.predict_proba(after.X_test_)[:, 1]
    rows = {}
    for name, p in (("before", p_before), ("after", after.p_test_)):
        g = gains_table(after.y_test_, p).table
        rows[name] = {"auc": roc_auc_score(after.y_test_, p), "top_decile_lift": g["lift"].iloc[0],
                      "top_decile_rate": g["rate"].iloc[0]}
    comp = pd.DataFrame(rows).T
    held = hasattr(model, "X_test_")  # the original model's own held-out part, else the new one's
    ib = (_importance(model) if held else
          _importance(model, after.X_test_, after.y_test_)).set_index("feature")["importance"]
    ia = _importance(after).set_index("feature")["importance"]
    imp = pd.DataFrame({"before": ib, "after": ia})
    imp["change"] = imp["after"] - imp["before"]
    imp = imp.sort_values("after", ascending=False).rename_axis("feature").reset_index()
    return RefitResult(before=model, after=after, comparison=comp,
                       rules_before=_positive(model), rules_after=_positive(after),
                       importance=imp, notes=tuple(notes))


def _importance(model: ScoringModel, X: pd.DataFrame | None = None, y: np.ndarray | None = None, *,
                n_repeats: int = 5, max_rows: int = 5000) -> pd.DataFrame:
    """``model.importance(X, y, n_repeats=n_repeats, max_rows=max_rows)``, batched.

    The same rows (at most ``max_rows`` of the evaluation data, drawn as
    :meth:`ScoringModel.importance` draws them) and the same permutations as scikit-learn's
    ``permutation_importance`` with ``random_state=model.seed`` (one seed drawn from it,
    each column shuffled ``n_repeats`` times in a row from that seed), but each feature's
    ``n_repeats`` permuted copies are scored by one prediction call and the ROC AUC is
    computed from ranks (ties counted one half, as ``roc_auc_score``): the same importances
    up to float rounding, without scikit-learn's per-call validation (most of the time on
    5,000 rows: 4.4 s of CPU per refit at 1,000,000 users).
    """
    from sklearn.utils import check_random_state

    from dmkit.propensity.scoring import _values

    yte, _, Xte = model._evaluation(X, y)
    if len(Xte) > max_rows:
        rng = np.random.default_rng(model.seed)
        keep = rng.choice(len(Xte), max_rows, replace=False)
        Xte, yte = Xte.iloc[keep], yte[keep]
    A = _values(Xte)
    pos = np.asarray(yte) == model.classes_[1]
    est = model.estimator_
    method = "decision_function" if hasattr(est, "decision_function") else "predict_proba"  # as the scorer picks

    def response(block: np.ndarray) -> np.ndarray:
        r = getattr(est, method)(block)
        return r[:, 1] if r.ndim == 2 else r

    seed = check_random_state(model.seed).randint(np.iinfo(np.int32).max + 1)
    n, k = A.shape
    scores = np.empty((k, n_repeats))
    with model._threads():
        base = _rank_auc(pos, response(A))
        for j in range(k):
            rs = np.random.RandomState(seed)  # every column from the same seed, as scikit-learn does
            idx = np.arange(n)
            block = np.tile(A, (n_repeats, 1))
            col = A[:, j]
            for r in range(n_repeats):
                rs.shuffle(idx)
                col = col[idx]  # scikit-learn shuffles the already shuffled column
                block[r * n:(r + 1) * n, j] = col
            p = response(block)
            scores[j] = [_rank_auc(pos, p[r * n:(r + 1) * n]) for r in range(n_repeats)]
    imp = base - scores
    return (pd.DataFrame({"feature": list(model._columns), "importance": imp.mean(axis=1),
                          "std": imp.std(axis=1)})
            .sort_values("importance", ascending=False).reset_index(drop=True))


def _rank_auc(pos: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC of scores ``p`` for the positives ``pos`` (Mann-Whitney, ties one half)."""
    from scipy.stats import rankdata

    n1 = int(pos.sum())
    n0 = len(pos) - n1
    if n1 == 0 or n0 == 0:  # undefined with one class
        return float("nan")
    r = rankdata(p)
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _positive(model: ScoringModel) -> pd.DataFrame:
    """The model's positive tree rules (empty when it has none: too few complete rows)."""
    if model.rules_ is None:
        return pd.DataFrame(columns=["rule", "conditions", "n", "positives", "support", "precision", "recall",
                                     "lift", "positive"])
    return model.rules_.positive_rules()


def _check_contacts(contacts: pd.DataFrame) -> None:
    from dmkit.campaign import check_contacts

    check_contacts(contacts)
