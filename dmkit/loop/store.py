"""The model store: fitted target models per province / service / month, kept as versions.

Each version is two files under ``root/<province>/<service>/``:

* ``<month>.skops`` — the fitted :class:`dmkit.propensity.ScoringModel` in skops' format,
  which loads without running arbitrary code (unlike pickle or joblib). Only the parts
  needed to score are kept (the fitted estimator, feature names, base rate, held-out
  outcomes and scores); the held-out feature frame and the readable tree rules are not.
* ``<month>.json`` — what the model is: ``province, service, month`` (the month whose plan
  it scores), ``data_month`` (the features' month), ``kind`` (``holders``: fitted on who
  holds the service; ``responses``: fitted on the loop's contacts; ``kept``: the previous
  version kept because the challenger did not beat it), ``features``, ``metrics`` (held-out
  AUC, rows, positives, and after the month's responses ``auc_contacts``), ``parent``
  (the version it replaced or kept), ``base`` (the version whose score it reads as the
  feature ``base_score``) and ``sha256`` of the model file.

Trust boundary: :meth:`ModelStore.load` lists the types inside a file with skops and
refuses any type outside :data:`TRUSTED_TYPES` (scikit-learn's own types are trusted by
skops); a file replaced by someone else is also caught by the recorded ``sha256``.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import pandas as pd

from dmkit.contract.months import MONTH_RE, check_month
from dmkit.errors import DataNotFoundError, DmkitError, parameter_error

__all__ = ["ModelStore", "TRUSTED_TYPES", "UntrustedModelError"]

TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)
"""Types a stored model may contain besides those skops trusts by default (and
:class:`dmkit.propensity.ScoringModel`, under the module that defines it)."""


def _trusted() -> list[str]:
    import dmkit as dm

    cls = dm.propensity.ScoringModel
    return [f"{cls.__module__}.{cls.__qualname__}", *TRUSTED_TYPES]
_DROP = ("X_test_", "rules_", "test_index_")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class UntrustedModelError(DmkitError):
    """A stored model file holds types outside the trusted list, or does not match its record."""


def _check_name(value: object, name: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise parameter_error(name, expected="a non-empty name of letters, digits, '_', '-' or '.'", found=value)
    return value


def _atomic(path: Path, data: bytes) -> None:
    from dmkit.io import atomic_write_bytes

    atomic_write_bytes(path, data)


class ModelStore:
    """Versions of the loop's target models on disk (see the module docstring).

    Parameters
    ----------
    root : path
        Folder of the store (created on the first save).

    Examples
    --------
    >>> store = ModelStore("reports/loop/models")                         # doctest: +SKIP
    >>> store.save(model, province="guangdong", service="newspaper", month="2009-02",
    ...            data_month="2009-01", kind="responses", metrics={"auc": model.auc})
    >>> store.load(province="guangdong", service="newspaper")            # the latest version
    >>> store.compare(province="guangdong", service="newspaper")         # metrics by version
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _folder(self, province: str, service: str) -> Path:
        return self.root / _check_name(province, "province") / _check_name(service, "service")

    # -- writing -------------------------------------------------------------------
    def save(self, model, *, province: str, service: str, month: str, data_month: str,
             kind: str, metrics: dict | None = None, parent: str | None = None,
             base: str | None = None) -> dict:
        """Store ``model`` as the version of ``month``; an existing version of that month is replaced.

        Parameters
        ----------
        model : ScoringModel
            A fitted model.
        province, service : str
        month : str
            The month whose plan this version scores ('YYYY-MM'); the version's name.
        data_month : str
            The month of the features it was fitted on.
        kind : str
            How it was made (``holders``, ``responses``, ``kept``).
        metrics : dict, optional
            Numbers to keep with it; the held-out ``auc`` is added when absent.
        parent : str, optional
            The version it was revised from or kept as.
        base : str, optional
            The version whose score this model reads as its ``base_score`` feature (a
            model revised from responses re-ranks its base model's score).

        Returns
        -------
        dict
            The version's record (what the JSON file holds).
        """
        import skops.io as sio

        from dmkit.errors import NotFittedError

        if not hasattr(model, "estimator_"):
            raise NotFittedError("ModelStore.save: the model is not fitted; fit it before storing")
        folder = self._folder(province, service)
        check_month(month, "month")
        check_month(data_month, "data_month")
        slim = copy.copy(model)
        for a in _DROP:
            if hasattr(slim, a):
                delattr(slim, a)
        blob = sio.dumps(slim)
        folder.mkdir(parents=True, exist_ok=True)
        metrics = dict(metrics or {})
        if "auc" not in metrics:  # a model fitted on every row has no held-out AUC of its own
            metrics["auc"] = float(model.auc_)
        record = {"province": province, "service": service, "month": month, "data_month": data_month,
                  "kind": str(kind), "model": str(getattr(model, "model", "")),
                  "features": [str(f) for f in model.feature_names_in_],
                  "metrics": {k: (None if v is None else float(v)) for k, v in metrics.items()},
                  "parent": parent, "base": base, "sha256": hashlib.sha256(blob).hexdigest()}
        _atomic(folder / f"{month}.skops", blob)
        _atomic(folder / f"{month}.json", json.dumps(record, indent=1).encode())
        return record

    def add_metrics(self, *, province: str, service: str, month: str, **metrics: float) -> dict:
        """Add numbers measured later (e.g. ``auc_contacts`` on the month's contacts) to a version."""
        rec = self.record(province=province, service=service, month=month)
        rec["metrics"].update({k: (None if v is None else float(v)) for k, v in metrics.items()})
        _atomic(self._folder(province, service) / f"{month}.json", json.dumps(rec, indent=1).encode())
        return rec

    # -- reading -------------------------------------------------------------------
    def months(self, *, province: str, service: str) -> list[str]:
        """The stored versions (months), oldest first."""
        folder = self._folder(province, service)
        if not folder.is_dir():
            return []
        return sorted(p.stem for p in folder.glob("*.json") if MONTH_RE.match(p.stem)
                      and (folder / f"{p.stem}.skops").is_file())

    def record(self, *, province: str, service: str, month: str | None = None) -> dict:
        """The JSON record of a version (default: the latest)."""
        month = self._resolve(province, service, month)
        return json.loads((self._folder(province, service) / f"{month}.json").read_text())

    def _resolve(self, province: str, service: str, month: str | None, *, before: str | None = None) -> str:
        have = self.months(province=province, service=service)
        if before is not None:
            have = [m for m in have if m <= before]
        if month is None:
            if not have:
                raise DataNotFoundError(f"model store {str(self.root)!r}: no version of {province}/{service}"
                                        + (f" up to {before}" if before else ""))
            return have[-1]
        check_month(month, "month")
        if month not in have:
            raise DataNotFoundError(f"model store {str(self.root)!r}: no version {month} of {province}/{service}; "
                                    f"versions {have}")
        return month

    def load(self, *, province: str, service: str, month: str | None = None, before: str | None = None):
        """Load a version (default the latest, or the latest up to ``before``) as a ScoringModel.

        Raises
        ------
        DataNotFoundError
            No such version.
        UntrustedModelError
            The file holds a type outside :data:`TRUSTED_TYPES` or does not match its record.
        """
        import skops.io as sio

        month = self._resolve(province, service, month, before=before)
        folder = self._folder(province, service)
        blob = (folder / f"{month}.skops").read_bytes()
        rec = json.loads((folder / f"{month}.json").read_text())
        if hashlib.sha256(blob).hexdigest() != rec.get("sha256"):
            raise UntrustedModelError(f"model file {str(folder / (month + '.skops'))!r} does not match the sha256 "
                                      "recorded beside it; refit the model or restore the file")
        trusted = _trusted()
        untrusted = [t for t in sio.get_untrusted_types(data=blob) if t not in trusted]
        if untrusted:
            raise UntrustedModelError(f"model file {str(folder / (month + '.skops'))!r} holds types outside the "
                                      f"trusted list: {untrusted}; expected only {trusted}")
        return sio.loads(blob, trusted=trusted)

    def versions(self, *, province: str | None = None, service: str | None = None) -> pd.DataFrame:
        """Every stored version: ``province, service, month, data_month, kind, parent, n_features``
        and one column per metric."""
        rows = []
        provs = [province] if province else sorted(p.name for p in self.root.glob("*") if p.is_dir())
        for p in provs:
            svcs = [service] if service else sorted(s.name for s in (self.root / p).glob("*") if s.is_dir())
            for s in svcs:
                for m in self.months(province=p, service=s):
                    rec = self.record(province=p, service=s, month=m)
                    rows.append({"province": p, "service": s, "month": m, "data_month": rec["data_month"],
                                 "kind": rec["kind"], "parent": rec["parent"], "base": rec.get("base"),
                                 "n_features": len(rec["features"]),
                                 **rec["metrics"]})
        cols = ["province", "service", "month", "data_month", "kind", "parent", "base", "n_features"]
        return pd.DataFrame(rows, columns=cols if not rows else None)

    def compare(self, *, province: str, service: str, metric: str = "auc_contacts") -> pd.DataFrame:
        """Versions of one model side by side with the change of ``metric`` from the previous version."""
        v = self.versions(province=province, service=service)
        if metric in v.columns:
            v[f"{metric}_change"] = v[metric].diff()
        return v
