"""Viral (word-of-mouth) SMS seeding (病毒式营销) of case V: seed users and the SMS/MMS overlap.

Case V sorts customers into the SMS × spend matrix (:func:`dmkit.segment.matrix`), takes
the cell with most potential as the source of seed users (传播源) who get free content and
coins for forwarding it, and notes that the SMS-forwarding target group and the heavy MMS
senders overlap almost entirely, so one campaign serves both.

* :func:`seed_users` — the customers of one matrix cell (default: the largest) whose
  social circle is in the top ``share`` of that cell, with their means beside the cell's
  and all customers'.
* :func:`overlap` — the share of the heavy users of a measure (top ``top_share`` by
  ``column``, e.g. MMS) who fall in the target cells (default: every cell above the
  lowest SMS row), beside the share of all customers in those cells.

Example
-------
>>> fp = dm.fingerprint.profile(d.users, d.usage, d.subscriptions, d.events, d.edges)
>>> m = dm.segment.matrix(usage_of_month.set_index("user_id"))
>>> sel = dm.viral.seed_users(fp.table, m, share=0.10)
>>> sel.source_cell, len(sel.seeds)
>>> sel.comparison()                 # means: all customers / source cell / seeds
>>> dm.viral.overlap(fp.table, m, column="mms", top_share=0.10).share
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_frame, check_numeric, check_scalar
from dmkit.errors import parameter_error, schema_error
from dmkit.segment import MatrixResult

__all__ = ["seed_users", "SeedSelection", "overlap", "OverlapResult", "COMPARE_COLUMNS"]

COMPARE_COLUMNS: tuple[str, ...] = ("circle_size", "sms_p2p", "mms", "term_mms")
"""Fingerprint columns whose means :meth:`SeedSelection.comparison` shows by default: the
social circle, P2P SMS and MMS sent, and whether the handset can show MMS."""

GROUPS: tuple[str, ...] = ("all customers", "source cell", "seeds")
"""The three groups compared, each containing the next."""


# --------------------------------------------------------------------------------------
# shared checks
# --------------------------------------------------------------------------------------


def _check_matrix(matrix_result: object) -> MatrixResult:
    if not isinstance(matrix_result, MatrixResult):
        raise parameter_error("matrix_result", expected="a MatrixResult from dm.segment.matrix",
                              found=type(matrix_result).__name__)
    return matrix_result


def _cells_of(profile_table: pd.DataFrame, matrix_result: MatrixResult) -> pd.Series:
    """The matrix cell name of each row of ``profile_table`` (NaN where the matrix has none)."""
    cells = matrix_result.assignment.reindex(profile_table.index)
    if len(profile_table) and cells.isna().all():
        raise schema_error(table="profile_table", column=None,
                           expected="an index of the customer ids the matrix was built on "
                                    "(matrix_result.assignment.index)",
                           found=f"no id in common, e.g. profile ids {list(profile_table.index[:3])}, "
                                 f"matrix ids {list(matrix_result.assignment.index[:3])}",
                           fix="index both by user_id (fp.table and usage.set_index('user_id'))")
    return cells.astype(object)


def _top(values: pd.Series, share: float) -> tuple[pd.Series, float]:
    """Rows at or above the ``1 - share`` quantile (linear interpolation) and that quantile.

    Ties at the threshold are all kept, so slightly more than ``share`` of the rows may be
    taken; missing values are never taken.
    """
    values = values.astype(float)
    threshold = float(values.quantile(1 - share))
    return values >= threshold, threshold


# --------------------------------------------------------------------------------------
# seed users
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedSelection(Result):
    """Seed users (传播源) drawn from one matrix cell by :func:`seed_users`.

    Attributes
    ----------
    seeds : DataFrame
        The seeds' rows of the profile table (all its columns), in its order.
    source_cell : str
        The matrix cell they were drawn from.
    cell_size : int
        Customers of the profile table in that cell.
    threshold : float
        The ``1 - share`` quantile of ``by`` within the cell; every seed is at or above it.
    share : float
    by : str
        The column the seeds were ranked by.
    values : DataFrame
        Index as the profile table; the ``by`` and compared columns and ``group``: "seeds",
        "source cell" (the rest of the cell) or "other".
    """

    seeds: pd.DataFrame
    source_cell: str
    cell_size: int
    threshold: float
    share: float
    by: str
    values: pd.DataFrame

    @property
    def columns(self) -> list[str]:
        """The compared columns."""
        return [c for c in self.values.columns if c != "group"]

    def _masks(self) -> dict[str, pd.Series]:
        g = self.values["group"]
        return {"all customers": pd.Series(True, index=g.index), "source cell": g != "other",
                "seeds": g == "seeds"}

    def comparison(self) -> pd.DataFrame:
        """Means of the compared columns for all customers, the source cell and the seeds.

        Returns
        -------
        DataFrame
            Index the compared columns (``by`` first); columns "all customers",
            "source cell" (seeds included) and "seeds".
        """
        cols = self.columns
        num = self.values[cols].astype(float)
        out = pd.DataFrame({name: num[mask].mean() for name, mask in self._masks().items()})
        out.index.name = "mean of"
        return out

    def to_frame(self) -> pd.DataFrame:
        """The seeds' rows."""
        return self.seeds.copy()

    def summary(self) -> Summary:
        counts = pd.DataFrame({"customers": [int(m.sum()) for m in self._masks().values()]},
                              index=pd.Index(GROUPS, name="group"))
        means = self.comparison()
        ratio = means.loc[self.by, "seeds"] / means.loc[self.by, "all customers"]
        notes = (f"seeds: the top {self.share:.0%} of cell {self.source_cell!r} by {self.by} "
                 f"({self.by} >= {self.threshold:g})",
                 f"the seeds' mean {self.by} is {ratio:.2f}× that of all customers")
        return Summary(title=f"Seed users (传播源) from {self.source_cell!r}",
                       tables=(("customers", counts), ("means", means)), notes=notes)

    def plot(self, ax=None):
        """Distributions of ``by`` for all customers, the source cell and the seeds."""
        ax = get_ax(ax)
        v = self.values[self.by].astype(float)
        finite = v[np.isfinite(v)]
        bins = np.histogram_bin_edges(finite, bins=min(40, max(int(finite.nunique()), 1)))
        for name, mask in self._masks().items():
            x = v[mask & np.isfinite(v)]
            ax.hist(x, bins=bins, density=True, histtype="step", linewidth=1.5, label=f"{name} ({len(x):,})")
        ax.axvline(self.threshold, color="grey", linestyle="--", linewidth=1, label=f"seed threshold {self.threshold:g}")
        ax.set_xlabel(self.by)
        ax.set_ylabel("density")
        ax.set_title(f"{self.by}: seeds of {self.source_cell!r}")
        ax.legend()
        return ax


def seed_users(
    profile_table: pd.DataFrame,
    matrix_result: MatrixResult,
    *,
    cell: str | None = None,
    share: float = 0.10,
    by: str = "circle_size",
    compare: Sequence[str] = COMPARE_COLUMNS,
) -> SeedSelection:
    """Pick seed users (传播源): the widest circles of one SMS × spend matrix cell (case V).

    The customers of ``profile_table`` in ``cell`` whose ``by`` is at or above the cell's
    ``1 - share`` quantile (pandas' linear interpolation) are the seeds.

    Parameters
    ----------
    profile_table : DataFrame
        One row per customer, indexed like the frame the matrix was built on (user_id),
        e.g. ``dm.fingerprint.profile(...).table``.
    matrix_result : MatrixResult
        From :func:`dmkit.segment.matrix`; its ``assignment`` gives each customer's cell.
    cell : str, optional
        The source cell's name; default the cell with most customers
        (``matrix_result.by_name()["count"].idxmax()``).
    share : float in (0, 1], default 0.10
        Share of the cell taken as seeds. Ties at the threshold are all taken, so the
        number of seeds can exceed ``share`` × cell size slightly.
    by : str, default "circle_size"
        Numeric column to rank by; missing values are never seeds.
    compare : list of str, default :data:`COMPARE_COLUMNS`
        Numeric (or bool) columns whose means :meth:`SeedSelection.comparison` shows.

    Returns
    -------
    SeedSelection
        ``seeds`` (their rows), ``source_cell``, ``cell_size``, ``threshold``;
        ``.comparison()`` (means of all customers / source cell / seeds), ``.plot()``.

    Raises
    ------
    ParameterError
        ``share`` outside (0, 1], ``cell`` not a cell name of the matrix or without
        customers in ``profile_table``, ``compare`` not a list of names, ``matrix_result``
        not a MatrixResult.
    SchemaError
        ``by`` or a ``compare`` column missing or not numeric; no customer id in common
        between ``profile_table`` and the matrix.
    """
    m = _check_matrix(matrix_result)
    check_scalar(share, "share", kind=(int, float), low=0, high=1, low_inclusive=False)
    if isinstance(compare, str) or not all(isinstance(c, str) for c in compare):
        raise parameter_error("compare", expected="a list of column names, e.g. ['circle_size', 'mms']",
                              found=compare)
    cols = list(dict.fromkeys([by, *compare]))
    check_frame(profile_table, table="profile_table", columns=cols, min_rows=1)
    check_numeric(profile_table, cols, table="profile_table", finite=False)
    counts = m.by_name()["count"]
    if cell is None:
        cell = str(counts.idxmax())
    elif cell not in counts.index:
        raise parameter_error("cell", expected=f"a cell name of the matrix, one of {list(counts.index)}",
                              found=cell)
    in_cell = (_cells_of(profile_table, m) == cell).to_numpy()
    if not in_cell.any():
        raise parameter_error("cell", expected="a cell with customers in profile_table", found=cell,
                              fix="choose another cell or check that profile_table covers the matrix's customers")
    is_seed = np.zeros(len(profile_table), dtype=bool)
    top, threshold = _top(profile_table.loc[in_cell, by], share)
    is_seed[in_cell] = top.to_numpy()
    values = profile_table[cols].copy()
    group = np.where(is_seed, 2, in_cell.astype(np.int8))  # one shared text per group, not one per customer
    values["group"] = np.array(["other", "source cell", "seeds"], dtype=object)[group]
    return SeedSelection(seeds=profile_table.loc[is_seed].copy(), source_cell=cell, cell_size=int(in_cell.sum()),
                         threshold=threshold, share=float(share), by=by, values=values)


# --------------------------------------------------------------------------------------
# overlap of heavy users with the target cells
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverlapResult(Result):
    """How many heavy users of a measure fall in the target cells, from :func:`overlap`.

    Attributes
    ----------
    share : float
        Heavy users in the target cells / heavy users.
    base_share : float
        All customers in the target cells / all customers: what ``share`` would be if
        heaviness and the cells were unrelated.
    n_heavy, n_heavy_in_target, n_customers : int
    threshold : float
        The ``1 - top_share`` quantile of ``column``; heavy users are at or above it.
    column : str
    top_share : float
    cells : tuple of str
        The target cells' names.
    """

    share: float
    base_share: float
    n_heavy: int
    n_heavy_in_target: int
    n_customers: int
    threshold: float
    column: str
    top_share: float
    cells: tuple[str, ...]

    @property
    def lift(self) -> float:
        """``share / base_share`` (NaN when no customer is in the target cells)."""
        return self.share / self.base_share if self.base_share else float("nan")

    def to_frame(self) -> pd.DataFrame:
        """One row: share, base_share, lift, n_heavy, n_heavy_in_target, n_customers, threshold."""
        return pd.DataFrame([{"share": self.share, "base_share": self.base_share, "lift": self.lift,
                              "n_heavy": self.n_heavy, "n_heavy_in_target": self.n_heavy_in_target,
                              "n_customers": self.n_customers, "threshold": self.threshold}],
                            index=pd.Index([self.column], name="column"))

    def summary(self) -> Summary:
        notes = (f"heavy users: the top {self.top_share:.0%} by {self.column} ({self.column} >= {self.threshold:g})",
                 f"target cells: {', '.join(self.cells)}")
        return Summary(title=f"Heavy {self.column} users in the target cells: {self.share:.1%}",
                       tables=(("", self.to_frame()),), notes=notes)

    def plot(self, ax=None):
        """Bars: share in the target cells of the heavy users and of all customers."""
        ax = get_ax(ax, figsize=(5, 4))
        labels = [f"heavy {self.column} users", "all customers"]
        bars = ax.bar(labels, [self.share, self.base_share], color=["tab:orange", "tab:grey"])
        ax.bar_label(bars, labels=[f"{self.share:.1%}", f"{self.base_share:.1%}"])
        ax.set_ylim(0, 1)
        ax.set_ylabel("share in the target cells")
        ax.set_title("Overlap with the target cells")
        return ax


def overlap(
    profile_table: pd.DataFrame,
    matrix_result: MatrixResult,
    *,
    column: str = "mms",
    top_share: float = 0.10,
    cells: Sequence[str] | None = None,
) -> OverlapResult:
    """Share of the heavy users of ``column`` who fall in the target cells (case V's cross-sell).

    Heavy users are the customers of ``profile_table`` whose ``column`` is at or above its
    ``1 - top_share`` quantile (ties all kept); the share counts those whose matrix cell
    is one of ``cells``. Customers the matrix left out count as outside the target.

    Parameters
    ----------
    profile_table : DataFrame
        One row per customer, indexed like the frame the matrix was built on (user_id).
    matrix_result : MatrixResult
        From :func:`dmkit.segment.matrix`.
    column : str, default "mms"
        Numeric column defining heavy users; missing values are never heavy.
    top_share : float in (0, 1], default 0.10
        Share of customers counted as heavy.
    cells : list of str, optional
        Target cell names; default every cell name of the matrix's rows above the first
        (the SMS-forwarding target group of case V: 50+ messages a month).

    Returns
    -------
    OverlapResult
        ``share``, ``base_share`` (all customers in the target cells), ``lift``, counts.

    Raises
    ------
    ParameterError
        ``top_share`` outside (0, 1], an unknown name in ``cells``, ``cells`` a bare
        string, ``matrix_result`` not a MatrixResult.
    SchemaError
        ``column`` missing, not numeric or all missing; no customer id in common between
        ``profile_table`` and the matrix.
    """
    m = _check_matrix(matrix_result)
    check_scalar(top_share, "top_share", kind=(int, float), low=0, high=1, low_inclusive=False)
    check_frame(profile_table, table="profile_table", columns=[column], min_rows=1)
    check_numeric(profile_table, [column], table="profile_table", finite=False)
    known = list(m.by_name().index)
    if cells is None:
        cells = list(dict.fromkeys(m.names.iloc[1:].to_numpy().ravel()))
    elif isinstance(cells, str) or [c for c in cells if c not in known]:
        raise parameter_error("cells", expected=f"a list of cell names among {known}", found=cells)
    values = profile_table[column]
    if values.isna().all():
        raise schema_error(table="profile_table", column=column, expected="some non-missing values",
                           found=f"all {len(values):,} values missing")
    heavy, threshold = _top(values, top_share)
    target = _cells_of(profile_table, m).isin(list(cells))
    n_heavy = int(heavy.sum())
    both = int((heavy & target).sum())
    return OverlapResult(share=both / n_heavy, base_share=float(target.mean()), n_heavy=n_heavy,
                         n_heavy_in_target=both, n_customers=len(profile_table), threshold=threshold,
                         column=column, top_share=float(top_share), cells=tuple(cells))
