"""Results derived from a province's tables, computed once and read back by every later caller.

Several reports of one province-month compute the same thing from the same tables: five
notebooks build the month's customer fingerprint, which at 12 million customers reads the
subscriptions, downloads, usage and edges (several GB) and takes minutes. :func:`stored`
keeps such a result as a Parquet file in the province folder's ``_derived/`` and gives it
back to the next caller, under a key of

* the files it was computed from, as opened at load (inode, size, modification time: a
  regenerated or replaced table gives another key),
* the parameters of the computation,
* the digest of the source of the code that computes it (:func:`~dmkit.contract.sources.source_digest`:
  an edit to that code gives another key).

Only a province loaded lazily from files (the simulator cache) whose tables are still the
files' (:meth:`~dmkit.contract.province.ProvinceData.file_stamps`) is stored; anything else
(real extracts read into memory, a table set on the instance) is computed every time. A
second process asking for the same key while the first computes waits for it (a file lock)
and reads its result. The file is written atomically (temp file, then rename) with page
checksums; a stored file that cannot be read back is computed again and replaced.
Warnings the computation gave are stored with it and given again on each read.

Set the environment variable ``DMKIT_DERIVED=0`` to compute every time (benchmarks).

Part of the contract (:mod:`dmkit.contract`): imports nothing of dmkit above it.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pandas as pd

from dmkit.contract.files import atomic_write
from dmkit.contract.province import ProvinceData

__all__ = ["DERIVED_FOLDER", "stored", "stored_path"]

DERIVED_FOLDER = "_derived"
"""The folder, inside a province folder, of the stored results (a name the table readers skip)."""
_META = b"dmkit.derived"


def stored_path(pdata: ProvinceData, name: str, *, tables: Sequence[str], params: Mapping[str, object],
                code: str) -> Path | None:
    """Where :func:`stored` keeps this result (None: it is not stored, see the module).

    Parameters
    ----------
    pdata : ProvinceData
        The province the result is computed from.
    name : str
        The kind of result (a file name prefix: ``"fingerprint"``).
    tables : sequence of str
        The tables it reads.
    params : mapping
        The parameters it depends on, JSON-serialisable.
    code : str
        The digest of the code that computes it.
    """
    if os.environ.get("DMKIT_DERIVED", "1") == "0" or not isinstance(pdata, ProvinceData):
        return None
    stamps = pdata.file_stamps(tables)
    if stamps is None:
        return None
    folder, files = stamps
    key = json.dumps({"name": name, "code": code, "files": files, "params": params}, sort_keys=True, default=str)
    return folder / DERIVED_FOLDER / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.parquet"


def stored(pdata: ProvinceData, name: str, compute: Callable[[], tuple[pd.DataFrame, dict]], *,
           tables: Sequence[str], params: Mapping[str, object], code: str) -> tuple[pd.DataFrame, dict]:
    """``compute()``'s frame and metadata, read back when stored, else computed (and stored).

    Parameters
    ----------
    pdata, name, tables, params, code
        As in :func:`stored_path`.
    compute : callable
        Returns ``(frame, meta)``: the result as a DataFrame (its index kept) and a
        JSON-serialisable dict of what else the caller needs to rebuild it.

    Returns
    -------
    (DataFrame, dict)
        Equal to what ``compute()`` returns (values, dtypes, categories and index).
    """
    path = stored_path(pdata, name, tables=tables, params=params, code=code)
    if path is None:
        return compute()
    with _locked(path) as writable:
        if path.is_file():
            got = _read(path)
            if got is not None:
                return got
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame, meta = compute()
        for w in caught:  # given again as they came
            warnings.warn(w.message, stacklevel=3)
        given = [(str(w.message), f"{w.category.__module__}:{w.category.__qualname__}") for w in caught]
        if writable:
            _write(path, frame, {**meta, "_warnings": given})
        return frame, meta


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[bool]:
    """An exclusive lock beside ``path`` while the body runs; False: the folder is not writable."""
    try:
        path.parent.mkdir(exist_ok=True)
        fh = open(path.with_suffix(".lock"), "a+")  # noqa: SIM115 - held for the body
    except OSError:
        fh = None
    if fh is None:
        yield False
        return
    with fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except (ImportError, OSError):  # no POSIX locks: two callers may both compute
            pass
        yield True


def _read(path: Path) -> tuple[pd.DataFrame, dict] | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        tbl = pq.read_table(path, page_checksum_verification=True)
        meta = json.loads(tbl.schema.metadata[_META])
        frame = tbl.to_pandas(coerce_temporal_nanoseconds=True, split_blocks=True, self_destruct=True)
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError):
        return None  # damaged or of another layout: computed again and replaced
    _warn(meta.pop("_warnings", []))
    return frame, meta


def _write(path: Path, frame: pd.DataFrame, meta: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tbl = pa.Table.from_pandas(frame, preserve_index=True)
    tbl = tbl.replace_schema_metadata({**(tbl.schema.metadata or {}), _META: json.dumps(meta).encode()})
    with contextlib.suppress(OSError):  # a full disk: the result is still returned, not stored
        atomic_write(path, lambda tmp: pq.write_table(tbl, tmp, write_page_checksum=True))


def _warn(given: Sequence[Sequence[str]]) -> None:
    """The stored warnings given again, each of its category (``module:qualname``; a category
    that cannot be found again: UserWarning)."""
    import importlib

    for message, category in given:
        module, _, qualname = str(category).partition(":")
        try:
            if module.split(".")[0] not in ("builtins", "warnings", "dmkit", "pandas", "numpy"):
                raise ImportError(module)  # a category of these only: nothing else is imported
            cls = importlib.import_module(module)
            for part in qualname.split("."):
                cls = getattr(cls, part)
        except (ImportError, AttributeError, ValueError):
            cls = UserWarning
        warnings.warn(str(message), cls if isinstance(cls, type) and issubclass(cls, Warning) else UserWarning,
                      stacklevel=4)
