"""The figures a notebook records for its test and for the batch index.

A notebook's last cell calls :func:`record` (``dm.runner.record``), which writes its key
figures to ``<out_dir>/<name>.json``; :func:`read_record` reads them back.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from dmkit.errors import DataNotFoundError, parameter_error
from dmkit.io import atomic_write_bytes

__all__ = ["read_record", "record"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def record(out_dir: str | Path, name: str, figures: Mapping[str, object]) -> None:
    """Write a notebook's key figures to ``<out_dir>/<name>.json`` atomically.

    Call it in the notebook's last code cell; the notebook's test and the batch index
    read these figures.

    Parameters
    ----------
    out_dir : str or Path
        The notebook's ``out_dir`` parameter (created if missing).
    name : str
        The notebook's name, e.g. ``"jiangsu_campaign"``.
    figures : mapping of str to scalar
        int, float, str, bool, None (numpy scalars are converted; NaN, infinities, pd.NA
        and NaT become None; dates, timestamps and periods become ISO strings), or lists
        of those.

    Returns nothing, so the notebook's last cell shows no output; read the figures back
    with :func:`read_record`.

    Raises
    ------
    ParameterError
        A name that is not a plain file name, or a value that is not a scalar or list of scalars.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise parameter_error("name", expected="a notebook name like 'jiangsu_campaign'", found=name)
    if not isinstance(figures, Mapping):
        raise parameter_error("figures", expected="a dict {figure name: value}",
                              found=type(figures).__name__)
    clean = {}
    for key, value in figures.items():
        if not isinstance(key, str):
            raise parameter_error("figures", expected="string keys", found=key)
        if isinstance(value, (list, tuple)):
            clean[key] = [_plain(f"figures[{key!r}]", v) for v in value]
        else:
            clean[key] = _plain(f"figures[{key!r}]", value)
    text = json.dumps(clean, indent=2, ensure_ascii=False, allow_nan=False, sort_keys=True)
    atomic_write_bytes(Path(out_dir) / f"{name}.json", text.encode("utf-8"))


def read_record(out_dir: str | Path, name: str) -> dict[str, object]:
    """The figures a notebook recorded with :func:`record`.

    Raises
    ------
    DataNotFoundError
        The notebook recorded nothing in ``out_dir`` (it failed before its last cell,
        or it does not call ``dm.runner.record``).
    """
    path = Path(out_dir) / f"{name}.json"
    if not path.is_file():
        raise DataNotFoundError(f"no figures recorded at {str(path)!r}: the notebook failed "
                                f"before its last cell or does not call dm.runner.record")
    return json.loads(path.read_text(encoding="utf-8"))


def _plain(where: str, value: object) -> object:
    if value is None or isinstance(value, (bool, str)):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (_dt.date, pd.Period)):
        return str(value.isoformat() if isinstance(value, _dt.date) else value)
    item = getattr(value, "item", None)  # numpy scalars, 0-d arrays
    if callable(item) and getattr(value, "ndim", 0) == 0:
        value = item()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    raise parameter_error(where, expected="an int, float, str, bool or None (or a list of them)",
                          found=type(value).__name__)
