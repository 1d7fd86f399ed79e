"""Cumulative gains and lift of a score against outcomes, by score bin (decile by default).

Part of :mod:`dmkit.propensity`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_choice, check_scalar

__all__ = [
    "gains_table",
    "GainsResult",
]


@dataclass(frozen=True)
class GainsResult(Result):
    """Cumulative gains and lift by score bin (decile by default), on held-out rows.

    Attributes
    ----------
    table : DataFrame
        One row per bin, best scores first. Columns: ``bin`` (1 = top), ``n``,
        ``positives``, ``rate`` (response rate in the bin), ``mean_score``, ``cum_n``,
        ``cum_share`` (share of rows targeted so far), ``cum_positives``, ``cum_gain``
        (share of all positives captured so far), ``lift`` (bin rate / base rate),
        ``cum_lift`` (cumulative rate / base rate).
    base_rate : float
    """

    table: pd.DataFrame
    base_rate: float

    def to_frame(self) -> pd.DataFrame:
        """The gains table."""
        return self.table

    def summary(self) -> Summary:
        """The table and the top-bin lift."""
        top = self.table.iloc[0]
        return Summary("Cumulative gains and lift (held-out)", (("", self.table.set_index("bin")),),
                       (f"base rate {self.base_rate:.2%}; top bin lift {top['lift']:.2f}, "
                        f"captures {top['cum_gain']:.1%} of responders",))

    def plot(self, ax=None, *, kind: Literal["gains", "lift"] = "gains"):
        """Cumulative gains curve (with the random diagonal) or lift by bin."""
        check_choice(kind, "kind", ["gains", "lift"])
        ax = get_ax(ax)
        t = self.table
        if kind == "gains":
            ax.plot(np.r_[0, t["cum_share"]], np.r_[0, t["cum_gain"]], marker="o", label="model")
            ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="random")
            ax.set_xlabel("share of users targeted")
            ax.set_ylabel("share of responders captured")
            ax.set_title("Cumulative gains")
        else:
            ax.bar(t["bin"], t["lift"], color="tab:blue", label="lift in bin")
            ax.plot(t["bin"], t["cum_lift"], "o-", color="tab:red", label="cumulative lift")
            ax.axhline(1.0, color="k", lw=0.8, ls="--")
            ax.set_xlabel("score bin (1 = highest scores)")
            ax.set_ylabel("lift")
            ax.set_title("Lift by score bin")
        ax.legend()
        return ax


def gains_table(y: np.ndarray, score: np.ndarray, *, n_bins: int = 10) -> GainsResult:
    """Gains and lift of ``score`` against 0/1 outcomes ``y`` in ``n_bins`` equal-size bins.

    Rows are ranked by score (ties broken by position, which is stable); bin 1 holds the
    highest scores. Output columns as in :class:`GainsResult`.
    """
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    check_scalar(n_bins, "n_bins", kind=int, low=1, high=max(1, len(y)))
    order = np.argsort(-score, kind="stable")
    ys, ss = y[order], score[order]
    bins = (np.arange(len(y)) * n_bins // len(y)) + 1
    df = pd.DataFrame({"bin": bins, "y": ys, "s": ss})
    g = df.groupby("bin").agg(n=("y", "size"), positives=("y", "sum"), mean_score=("s", "mean")).reset_index()
    base = y.mean()
    g["rate"] = g["positives"] / g["n"]
    g["cum_n"] = g["n"].cumsum()
    g["cum_share"] = g["cum_n"] / len(y)
    g["cum_positives"] = g["positives"].cumsum()
    g["cum_gain"] = g["cum_positives"] / y.sum() if y.sum() else np.nan
    g["lift"] = g["rate"] / base if base else np.nan
    g["cum_lift"] = (g["cum_positives"] / g["cum_n"]) / base if base else np.nan
    g["positives"] = g["positives"].astype(int)
    g["cum_positives"] = g["cum_positives"].astype(int)
    cols = ["bin", "n", "positives", "rate", "mean_score", "cum_n", "cum_share",
            "cum_positives", "cum_gain", "lift", "cum_lift"]
    return GainsResult(table=g[cols], base_rate=float(base))
