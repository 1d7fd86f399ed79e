"""``dm.offers``' per-customer step on Spark: the decomposition's subproblems in a ``mapInPandas``.

Under prices (the Lagrange multipliers of the coupling constraints) the offer problem
separates per customer (:class:`dmkit.offers.decompose.Subproblems`): each customer picks
the subset of its own candidates of largest adjusted value that keeps its caps and
conflicts. :class:`SparkSubproblems` does that step on a cluster: the candidates are
cached in Spark partitioned by customer (every candidate of a customer in one partition),
each call broadcasts the adjusted values and every partition solves its customers with
the numpy :class:`~dmkit.offers.decompose.Subproblems` — the same code, so the same
choice per customer as on the driver. Only the chosen candidates come back.

::

    from dmkit.offers.decompose import Subproblems
    from dmkit.spark.offers import SparkSubproblems
    sub = SparkSubproblems(prob, spark=spark)            # prob: dmkit.offers.problem.Problem
    x, bound = sub.solve(r)                              # == Subproblems(prob).solve(r)

The bound is summed per partition, so it equals the numpy step's to rounding (1e-12
relative), not bit for bit. The coupling step (multipliers, repair) stays on the driver:
it needs every customer's choice at once and costs a few numpy passes.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from dmkit.errors import parameter_error
from dmkit.offers.decompose import Subproblems
from dmkit.offers.problem import Problem
from dmkit.spark.session import get_session

__all__ = ["SparkSubproblems", "local_problem"]

_OUT_SCHEMA = "cand long, total double"


def local_problem(template: Problem, u: np.ndarray, a: np.ndarray, v: np.ndarray,
                  p: np.ndarray) -> Problem:
    """The problem restricted to some customers (their candidates in the global order).

    ``template`` supplies the activities, per-user caps and conflicts; ``u`` are the
    customers' global codes, sorted (candidates of one customer adjacent).
    """
    from dmkit.offers.problem import _pairs  # the within-customer conflicting pairs, as built

    new = np.r_[True, u[1:] != u[:-1]] if len(u) else np.zeros(0, dtype=bool)
    lu = (np.cumsum(new) - 1).astype(np.int32)
    starts = np.r_[np.flatnonzero(new), len(u)].astype(np.int64)
    return replace(template, users=u[new], u=lu, a=a.astype(np.int32), v=v, p=p, starts=starts,
                   pairs=_pairs(lu, a, template.conflict), priority=None)


def _solver(template_broadcast, r_broadcast):
    """The ``mapInPandas`` function: every batch of one partition, solved together."""

    def solve_partition(batches):
        frames = [b for b in batches if len(b)]
        if not frames:
            return
        part = pd.concat(frames, ignore_index=True).sort_values("cand", kind="stable")
        cand = part["cand"].to_numpy(np.int64)
        prob = local_problem(template_broadcast.value, part["u"].to_numpy(np.int64), part["a"].to_numpy(np.int64),
                             part["v"].to_numpy(np.float64), part["p"].to_numpy(np.float64))
        x, total = Subproblems(prob).solve(r_broadcast.value[cand])
        chosen = cand[x]
        yield pd.DataFrame({"cand": np.r_[chosen, -1].astype(np.int64),
                            "total": np.r_[np.zeros(len(chosen)), total]})

    return solve_partition


class SparkSubproblems:
    """:class:`~dmkit.offers.decompose.Subproblems` on Spark: same ``solve(r)``, same choice.

    Parameters
    ----------
    prob : Problem
        The normalised offer problem (:func:`dmkit.offers.problem.build_problem`).
    spark : SparkSession, optional
        Default :func:`dmkit.spark.get_session` (local[2] or ``$DMKIT_SPARK_MASTER``).
    partitions : int, optional
        Customer partitions; default ``spark.default.parallelism`` (two per executor core
        on :meth:`dmkit.spark.cluster.Cluster.session`).

    Attributes
    ----------
    prob : Problem
    candidates : pyspark.sql.DataFrame
        cand (global candidate index), u, a, v, p — cached, partitioned by customer ``u``.
    """

    def __init__(self, prob: Problem, *, spark=None, partitions: int | None = None) -> None:
        if not isinstance(prob, Problem):
            raise parameter_error("prob", expected="a dmkit.offers.problem.Problem",
                                  found=type(prob).__name__)
        if partitions is not None and (not isinstance(partitions, int) or partitions < 1):
            raise parameter_error("partitions", expected="an integer >= 1", found=partitions)
        self.prob = prob
        self._spark = spark or get_session()
        sc = self._spark.sparkContext
        self.partitions = partitions or sc.defaultParallelism
        empty = np.zeros(0)
        self._template = sc.broadcast(replace(prob, users=prob.users[:0], u=prob.u[:0], a=prob.a[:0],
                                              v=empty, p=empty, starts=np.zeros(1, dtype=np.int64),
                                              pairs=prob.pairs[:0], priority=None))
        pdf = pd.DataFrame({"cand": np.arange(prob.n, dtype=np.int64), "u": prob.u.astype(np.int64),
                            "a": prob.a.astype(np.int64), "v": prob.v, "p": prob.p})
        self.candidates = (self._spark.createDataFrame(pdf).repartition(self.partitions, "u").cache())
        self.candidates.count()  # materialise the cache once

    def solve(self, r: np.ndarray) -> tuple[np.ndarray, float]:
        """Best subset per customer under adjusted values ``r`` (one per candidate).

        Returns
        -------
        x : ndarray of bool
            The chosen candidates.
        bound : float
            Sum of the chosen adjusted values (plus, for customers solved greedily, their
            positive adjusted values): an upper bound, as in the numpy step.
        """
        r = np.asarray(r, dtype=np.float64)
        if r.shape != (self.prob.n,):
            raise parameter_error("r", expected=f"one adjusted value per candidate ({self.prob.n})",
                                  found=f"shape {r.shape}")
        sc = self._spark.sparkContext
        rb = sc.broadcast(r)
        try:
            out = self.candidates.mapInPandas(_solver(self._template, rb), _OUT_SCHEMA).toPandas()
        finally:
            rb.unpersist()
        cand = out["cand"].to_numpy(np.int64)
        x = np.zeros(self.prob.n, dtype=bool)
        x[cand[cand >= 0]] = True
        return x, float(out["total"].to_numpy()[cand < 0].sum())

    def close(self) -> None:
        """Drop the cached candidates and the broadcast problem from the cluster."""
        self.candidates.unpersist()
        self._template.unpersist()
