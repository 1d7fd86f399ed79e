"""Target-user models on Spark: Spark ML fitting with AUC and gains, and pandas models scored on Spark.

Two directions:

* :func:`fit` trains Spark ML logistic regression, gradient-boosted trees or a decision
  tree on a Spark table (balanced class weights, held-out split) and returns a
  :class:`SparkScoringModel` with the numbers of :class:`dmkit.propensity.ScoringModel`:
  ``auc``, ``gains()``, ``score()``, ``top()``.
* :func:`score_model` applies a pandas-fitted :class:`dmkit.propensity.ScoringModel` to a
  Spark table with ``mapInPandas`` (Arrow batches, the model shipped once per task), so a
  province scored nightly never leaves the cluster.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from dmkit._results import Result, Summary
from dmkit._validation import check_choice, check_scalar
from dmkit.errors import parameter_error, schema_error
from dmkit.propensity import GainsResult, ScoringModel, gains_table
from dmkit.spark.io import from_pandas, kind_of
from dmkit.spark.session import get_session, require_pyspark

__all__ = ["fit", "SparkScoringModel", "score_model"]

SparkModelKind = Literal["logit", "gbt", "tree", "hgb"]
_ALIASES = {"hgb": "gbt"}  # the pandas default maps to Spark's boosted trees


def _to_spark(X, y, *, label: str, spark):
    """(pandas X, y) or a Spark table → a Spark table with the label column and the key."""
    from pyspark.sql import DataFrame

    if isinstance(X, pd.DataFrame):
        if y is None:
            if label not in X.columns:
                raise schema_error(table="X", column=label, expected=f"a target column {label!r} or y=",
                                   found="neither")
            frame = X
        else:
            from dmkit.propensity.inputs import align_y

            frame = X.assign(**{label: align_y(X, y).rename(label)})  # by index label, or refused
        name = X.index.name or "user_id"
        return from_pandas(frame.reset_index(names=name), spark=spark or get_session()), name
    if not isinstance(X, DataFrame):
        raise schema_error(table="X", column=None, expected="a Spark or pandas DataFrame", found=type(X).__name__)
    if y is not None:
        raise parameter_error("y", expected="None for a Spark table (the target is its column `label`)", found="y")
    return X, None


@dataclass(frozen=True)
class SparkScoringModel(Result):
    """A Spark ML scoring model with held-out evaluation.

    Attributes
    ----------
    pipeline : pyspark.ml.PipelineModel
        Assembler (+ scaler for logit) and classifier.
    features : tuple of str
    label : str
    model : str
        "logit", "gbt" or "tree".
    auc_ : float
        ROC AUC on the held-out part (exact, from the collected held-out scores).
    base_rate_ : float
        Positive share in the training part.
    y_test_, p_test_ : ndarray
        Held-out outcomes and scores.
    n_train_ : int or None
        Rows the model learnt from (about ``sample_size`` when the training part was larger).
    """

    pipeline: object = field(repr=False)
    features: tuple[str, ...]
    label: str
    model: str
    auc_: float
    base_rate_: float
    y_test_: np.ndarray = field(repr=False)
    p_test_: np.ndarray = field(repr=False)
    id_col: str | None = None
    n_train_: int | None = None

    @property
    def auc(self) -> float:
        """ROC AUC on the held-out part."""
        return self.auc_

    def gains(self, *, n_bins: int = 10) -> GainsResult:
        """Cumulative gains and lift by score bin on the held-out part (as the pandas model)."""
        return gains_table(self.y_test_, self.p_test_, n_bins=n_bins)

    def transform(self, data):
        """``data`` (Spark) with a ``score`` column = P(target)."""
        from pyspark.ml.functions import vector_to_array
        from pyspark.sql import functions as F

        missing = [c for c in self.features if c not in data.columns]
        if missing:
            raise schema_error(table="X", column=missing[0],
                               expected=f"the {len(self.features)} features the model was fitted on",
                               found=f"missing column(s) {missing}")
        out = self.pipeline.transform(data)
        return out.withColumn("score", vector_to_array(F.col("probability"))[1]).drop(
            "features_vec", "features_std", "rawPrediction", "probability", "prediction")

    def score(self, X) -> pd.Series | object:
        """P(target) per row: a Series on X's index for pandas ``X``, a Spark table
        (key column and ``score``) for Spark ``X``."""
        if isinstance(X, pd.DataFrame):
            name = X.index.name or "user_id"
            sdf = from_pandas(X[list(self.features)].reset_index(names=name), spark=get_session())
            got = self.transform(sdf).select(name, "score").toPandas().set_index(name)["score"]
            return got.reindex(X.index).rename("score")
        keep = [self.id_col] if self.id_col and self.id_col in X.columns else []
        return self.transform(X).select(*keep, "score")

    def top(self, X, n: int) -> pd.DataFrame:
        """The ``n`` highest-scoring rows: columns ``rank``, ``score`` indexed by the key."""
        check_scalar(n, "n", kind=int, low=1)
        if isinstance(X, pd.DataFrame):
            s = self.score(X)
            best = s.nlargest(min(n, len(s)), keep="first")
        else:
            key = self.id_col or X.columns[0]
            best = self.score(X).orderBy("score", ascending=False).limit(n).toPandas().set_index(key)["score"]
        return pd.DataFrame({"rank": np.arange(1, len(best) + 1), "score": best.to_numpy()}, index=best.index)

    def to_frame(self) -> pd.DataFrame:
        """The gains table."""
        return self.gains().to_frame()

    def summary(self) -> Summary:
        over = pd.DataFrame({"value": [self.model, len(self.features), self.auc_, self.base_rate_,
                                       len(self.y_test_)]},
                            index=["model (Spark ML)", "features", "AUC (held-out)", "base rate", "held-out rows"])
        return Summary(title="Target-user model on Spark (目标用户模型)",
                       tables=(("overview", over), ("gains", self.gains().to_frame())))

    def plot(self, ax=None, *, kind: Literal["gains", "lift"] = "gains"):
        """Cumulative gains (or lift) on the held-out part."""
        return self.gains().plot(ax, kind=kind)


def fit(
    X,
    y=None,
    *,
    model: SparkModelKind = "logit",
    features: Sequence[str] | None = None,
    label: str = "target",
    id_col: str = "user_id",
    test_size: float = 0.3,
    seed: int = 0,
    class_weight: Literal["balanced"] | None = "balanced",
    max_iter: int = 50,
    calibrate: bool = False,
    n_threads: int | None = None,
    sample_size: int | None = 200_000,
    spark=None,
) -> SparkScoringModel:
    """Fit a Spark ML target-user model with a held-out split and report its AUC.

    Parameters
    ----------
    X : pyspark.sql.DataFrame or pandas DataFrame
        A Spark table with feature columns, the 0/1 column ``label`` and ``id_col``; or
        pandas features (index = user id) with ``y`` — the same call as
        :func:`dmkit.propensity.fit`.
    y : array-like of 0/1, optional
        The target for pandas ``X``.
    model : {"logit", "gbt", "tree", "hgb"}, default "logit"
        Standardised logistic regression, gradient-boosted trees (``"hgb"`` is an alias,
        so a pandas notebook's choice runs), or a depth-6 decision tree.
    features : list of str, optional
        Feature columns (default: every numeric/boolean column except ``label`` and ``id_col``).
    label, id_col : str
        Target and key columns of a Spark table.
    test_size : float in [0.05, 0.9], default 0.3
        Held-out share (a random split by ``seed``).
    class_weight : "balanced" or None
        Balanced weights ``n / (2 n_class)`` on the training rows.
    max_iter : int, default 50
        Iterations (logit) or trees (gbt).
    calibrate : bool, default False
        Accepted so a pandas notebook's call runs; Spark ML has no isotonic calibration
        step here, so True only warns (scores of balanced models are inflated: rank by
        them, do not read them as probabilities).
    n_threads : int, optional
        Accepted for the same reason and ignored: Spark's parallelism is the session's.
    sample_size : int or None, default 200,000
        As in :func:`dmkit.propensity.fit`: when the training part is larger, learn from a
        stratified sample of about that many of its rows (each row kept with the same
        probability in both classes, ``sampleBy`` with ``seed``); the held-out part is
        untouched. None learns from every training row.

    Returns
    -------
    SparkScoringModel
        ``.auc``, ``.gains()``, ``.score(X)``, ``.top(X, n)``, ``.transform(sdf)``.

    Raises
    ------
    SchemaError
        A missing or non-numeric feature, a target with values other than 0/1 or nulls.
    ParameterError
        Unknown model; a single-class target.
    """
    require_pyspark()
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import DecisionTreeClassifier, GBTClassifier, LogisticRegression
    from pyspark.ml.feature import StandardScaler, VectorAssembler
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    check_choice(model, "model", ["logit", "gbt", "tree", "hgb"])
    check_scalar(test_size, "test_size", kind=float, low=0.05, high=0.9)
    check_choice(class_weight, "class_weight", ["balanced", None])
    check_scalar(sample_size, "sample_size", kind=int, low=10, allow_none=True)
    kind = _ALIASES.get(model, model)
    if calibrate:
        warnings.warn("dmkit.spark.propensity.fit does not calibrate probabilities; "
                      "scores rank users but are not calibrated", UserWarning, stacklevel=2)
    sdf, key = _to_spark(X, y, label=label, spark=spark)
    id_col = key or id_col
    types = {f.name: kind_of(f.dataType) for f in sdf.schema.fields}
    if label not in types:
        raise schema_error(table="X", column=label, expected="a 0/1 target column", found="no such column")
    feats = [c for c in sdf.columns if c not in (label, id_col) and types[c] in ("int", "float", "bool")] \
        if features is None else list(features)
    for c in feats:
        if c not in types:
            raise schema_error(table="X", column=c, expected="a feature column", found="no such column")
        if types[c] not in ("int", "float", "bool"):
            raise schema_error(table="X", column=c, expected="a numeric or boolean feature",
                               found=f"dtype {types[c]}", fix="encode it or drop it")
    lab = F.col(f"`{label}`").cast("double")
    data = sdf.select(*[F.col(f"`{c}`").cast("double").alias(c) for c in feats],
                      lab.alias("__label"), *([F.col(id_col)] if id_col in sdf.columns else []))
    stats = data.agg(F.count(F.lit(1)).alias("n"), F.sum("__label").alias("pos"),
                     F.count_if(~F.col("__label").isin(0.0, 1.0) | F.col("__label").isNull()).alias("bad")
                     ).collect()[0]
    if stats["bad"]:
        raise schema_error(table="y", column=label, expected="0/1 values without nulls",
                           found=f"{stats['bad']} other values")
    n, pos = int(stats["n"]), float(stats["pos"] or 0)
    if pos == 0 or pos == n:
        raise parameter_error("y", expected="both classes (0 and 1)", found=f"{int(pos)} positives in {n} rows")
    train, test = data.randomSplit([1 - test_size, test_size], seed=seed)
    n_train = n * (1 - test_size)
    if sample_size is not None and n_train > sample_size:
        share = sample_size / n_train
        train = train.sampleBy("__label", fractions={0.0: share, 1.0: share}, seed=seed)
    if class_weight == "balanced":
        w_pos, w_neg = n / (2 * pos), n / (2 * (n - pos))
        train = train.withColumn("__w", F.when(F.col("__label") == 1, w_pos).otherwise(w_neg))
    else:
        train = train.withColumn("__w", F.lit(1.0))
    stages = [VectorAssembler(inputCols=feats, outputCol="features_vec", handleInvalid="keep")]
    if kind == "logit":
        stages.append(StandardScaler(inputCol="features_vec", outputCol="features_std", withMean=True))
        stages.append(LogisticRegression(featuresCol="features_std", labelCol="__label", weightCol="__w",
                                         maxIter=max_iter, regParam=0.0))
    elif kind == "gbt":
        stages.append(GBTClassifier(featuresCol="features_vec", labelCol="__label", weightCol="__w",
                                    maxIter=max_iter, maxDepth=4, seed=seed))
    else:
        stages.append(DecisionTreeClassifier(featuresCol="features_vec", labelCol="__label", weightCol="__w",
                                             maxDepth=6, seed=seed))
    pipe = Pipeline(stages=stages).fit(train)
    held = (pipe.transform(test).select("__label", vector_to_array("probability")[1].alias("p")).toPandas())
    from sklearn.metrics import roc_auc_score

    y_test, p_test = held["__label"].to_numpy(dtype=np.int8), held["p"].to_numpy(dtype=float)
    if len(np.unique(y_test)) < 2:
        raise parameter_error("test_size", expected="a held-out part with both classes", found=test_size,
                              fix="use more data or a larger test_size")
    base, n_fitted = train.agg(F.avg("__label"), F.count(F.lit(1))).collect()[0]
    return SparkScoringModel(pipeline=pipe, features=tuple(feats), label=label, model=kind,
                             auc_=float(roc_auc_score(y_test, p_test)), base_rate_=float(base),
                             y_test_=y_test, p_test_=p_test, id_col=id_col, n_train_=int(n_fitted))


def score_model(
    model: ScoringModel,
    data,
    *,
    id_col: str = "user_id",
    spark=None,
):
    """Score a pandas-fitted :class:`dmkit.propensity.ScoringModel` on a Spark table.

    Each Spark task receives the fitted model once and scores its Arrow batches with
    ``model.score`` — the same numbers as scoring in pandas, computed where the data lives.

    Parameters
    ----------
    model : ScoringModel
        Fitted with :func:`dmkit.propensity.fit`.
    data : pyspark.sql.DataFrame or pandas DataFrame
        The fitted features plus ``id_col`` (other columns are ignored). A pandas table
        (index = user id) is moved to Spark.
    id_col : str, default "user_id"

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``id_col`` and ``score`` (double), one row per input row.

    Raises
    ------
    NotFittedError
        ``model`` is not fitted.
    SchemaError
        A fitted feature or ``id_col`` is missing.
    """
    require_pyspark()
    from pyspark.sql import DataFrame

    model.check_fitted()
    if isinstance(data, pd.DataFrame):
        id_col = data.index.name or id_col
        data = from_pandas(data.reset_index(names=id_col), spark=spark or get_session())
    elif not isinstance(data, DataFrame):
        raise schema_error(table="X", column=None, expected="a Spark or pandas DataFrame", found=type(data).__name__)
    feats = [str(c) for c in model.feature_names_in_]
    missing = [c for c in [id_col] + feats if c not in data.columns]
    if missing:
        raise schema_error(table="X", column=missing[0],
                           expected=f"{id_col!r} and the {len(feats)} features the model was fitted on",
                           found=f"missing column(s) {missing}")
    id_type = data.schema[id_col].dataType.simpleString()

    def score_batches(batches):
        for b in batches:
            if len(b):
                s = model.predict_proba(b[feats])[:, 1]
                yield pd.DataFrame({id_col: b[id_col].to_numpy(), "score": s})

    return data.select(id_col, *feats).mapInPandas(score_batches, schema=f"`{id_col}` {id_type}, score double")
