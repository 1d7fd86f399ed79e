"""ProvinceData: the eight tables of one province and data month, real or simulated, plus its truth.

The container every loader returns (:func:`dmkit.io.load_province` for extracts,
:func:`dmkit.synth.generate` for the simulator). Part of the contract
(:mod:`dmkit.contract`): imports nothing of dmkit above it.
"""
from __future__ import annotations

import contextlib
import json
import os
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dmkit.contract.files import atomic_write_bytes, read_parquet_file, write_parquet_atomic
from dmkit.contract.ingest import read_parquet_files
from dmkit.contract.labels import in_labels, present_labels
from dmkit.contract.truth import Truth
from dmkit.errors import DataNotFoundError, SchemaError
from dmkit.schema import TABLES

__all__ = ["ProvinceData"]


@dataclass
class ProvinceData:
    """Tables ``users, usage, subscriptions, kpis, contacts, edges, events, revenue``,
    the planted ``truth`` and ``meta`` (province, month, months, n_users, seed).

    Read with ``load(folder, lazy=True)`` (as the simulator cache does), each table is read
    from its Parquet file on first use, so a notebook holds only the tables it touches
    (``pdata.kpis`` alone for the health report); the values are the same as an eager read,
    also when the folder is replaced meanwhile (the files are held open from the load).
    """

    users: pd.DataFrame
    usage: pd.DataFrame
    subscriptions: pd.DataFrame
    kpis: pd.DataFrame
    contacts: pd.DataFrame
    edges: pd.DataFrame
    events: pd.DataFrame
    revenue: pd.DataFrame
    truth: Truth | None
    meta: dict = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The eight tables by name, in the order of :data:`dmkit.schema.TABLES` (a lazy
        instance reads those not read yet)."""
        return {t: getattr(self, t) for t in TABLES}

    def __getattr__(self, name: str):
        # only called for an attribute not set: a table of a lazy instance not read yet
        pending = self.__dict__.get("_pending")
        if not pending or name not in pending:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        path, fd, _ = pending[name]
        try:
            df = read_parquet_files([_opened(pending, name)], table=name)[0]
        except SchemaError as err:  # a page checksum or the footer: the file is damaged
            repair = self.__dict__.get("_repair")
            if repair is None:
                raise SchemaError(
                    f"{str(path)!r}: {err} If {str(path.parent)!r} is a simulator cache, delete that folder "
                    "and load the province again to regenerate it", table=name) from err
            df = repair(name)  # the simulator cache: regenerated, replaced on disk
        else:
            self.__dict__.setdefault("_from_file", {})[name] = weakref.ref(df)
        setattr(self, name, df)
        del pending[name]
        os.close(fd)
        return df

    def read(self, table: str, *, columns: Sequence[str] | None = None,
             months: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Part of one table: some of its columns, and for a monthly table some of its months.

        For a province loaded lazily (the simulator cache) and a table not read yet, only
        those columns and months are read from the file (Parquet projection and row-group
        pushdown on ``month``): ``pdata.read("usage", months=month)`` holds one month of
        usage, not the six of ``pdata.usage``. Otherwise the table in memory is filtered.
        Either way the rows, their order, the values and the dtypes (categories included)
        are those of ``pdata.<table>`` filtered, with a fresh ``RangeIndex``; the frame is a
        new one, not kept by the instance.

        Parameters
        ----------
        table : str
            One of :data:`dmkit.schema.TABLES`.
        columns : sequence of str, optional
            Columns to keep, in the table's order (default: all).
        months : str or sequence of str, optional
            ``'YYYY-MM'`` month(s) to keep; only for the tables with a ``month`` column
            (``usage``, ``kpis``, ``edges``).

        Raises
        ------
        DmkitError
            ``table`` is not a table of the contract, a column is not in it, ``months`` is
            given for a table without months or is not ``'YYYY-MM'``.
        """
        from dmkit.contract.errors import parameter_error
        from dmkit.contract.months import check_month

        if table not in TABLES:
            raise parameter_error("table", expected=f"one of {list(TABLES)}", found=table)
        if months is not None:
            months = [months] if isinstance(months, str) else list(months)
            for m in months:
                check_month(m, "months")
        pending = self.__dict__.get("_pending") or {}
        fresh = table in pending  # a frame read from the file for this call only
        if table not in pending:  # in memory
            df = getattr(self, table)
            _check_read(table, list(df.columns), columns, months)
            if months is not None:
                df = df[in_labels(df["month"], months)]
        else:
            import pyarrow.parquet as pq

            path = _opened(pending, table)
            names = pq.read_schema(path).names
            _check_read(table, names, columns, months)
            read = None if columns is None else set(columns) | ({"month"} if months is not None else set())
            try:
                df = read_parquet_files([path], table=table, months=months,
                                        columns=None if read is None else [c for c in names if c in read])[0]
            except SchemaError:
                getattr(self, table)  # damaged: the whole table through the repair path (or its error) ...
                return self.read(table, columns=columns, months=months)  # ... then filtered in memory
        if months is not None:
            missing = sorted(set(months) - present_labels(df["month"]))
            if missing:
                raise DataNotFoundError(f"table {table!r} has no rows of month(s) {missing}")
        if columns is not None:
            keep = [c for c in df.columns if c in set(columns)]
            if keep != list(df.columns):
                df = df[keep]
        if fresh:  # read from the file for this call: nobody else holds it, no copy needed
            df.index = pd.RangeIndex(len(df))
            return df
        return df.reset_index(drop=True)

    def file_stamps(self, tables: Sequence[str]) -> tuple[Path, dict[str, list[int]]] | None:
        """The folder and the files behind ``tables`` when each is read from its file as it
        was at load, else None.

        Only for a province loaded lazily (the simulator cache): each table is either not
        read yet, or the frame read from its file is still the instance's (a table set on the
        instance since, or taken from a repair, is not the file's). The stamps are each
        file's inode, size and modification time: what a result derived from these tables
        (:mod:`dmkit.contract.derived`) is keyed on.

        Raises
        ------
        DataNotFoundError
            A file not read yet was rewritten in place since the load.
        """
        known = self.__dict__.get("_stamps")
        if not known:
            return None
        pending = self.__dict__.get("_pending") or {}
        from_file = self.__dict__.get("_from_file") or {}
        out = {}
        for t in tables:
            if t in pending:
                _opened(pending, t)  # refuses a file rewritten in place
            elif t not in from_file or from_file[t]() is not self.__dict__.get(t):
                return None
            out[t] = list(known[t][1])
        folder = {known[t][0].parent for t in tables}
        return (folder.pop(), out) if len(folder) == 1 else None

    def __getstate__(self) -> dict:
        self.tables()  # a pickled copy carries its tables, not paths that may change
        return {k: v for k, v in self.__dict__.items() if k not in ("_pending", "_repair", "_stamps", "_from_file")}

    def __repr__(self) -> str:
        pending = self.__dict__.get("_pending") or {}
        sizes = ", ".join(f"{t}={_rows(pending[t][0]) if t in pending else len(getattr(self, t)):,}"
                          for t in TABLES)
        return f"ProvinceData({self.meta.get('province')!r}, {self.meta.get('month')!r}: {sizes})"

    def save(self, folder: str | Path) -> Path:
        """Write ``<table>.parquet`` per table, ``truth.json`` + ``truth_users.parquet`` and
        ``meta.json`` into ``folder``, each atomically (temp file, then rename)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, df in self.tables().items():
            write_parquet_atomic(df, folder / f"{name}.parquet")
        if self.truth is not None:
            self.truth.save(folder)
        atomic_write_bytes(folder / "meta.json", json.dumps(self.meta, indent=1).encode())
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, lazy: bool = False,
             repair: Callable[[str], pd.DataFrame] | None = None) -> ProvinceData:
        """Read what :meth:`save` wrote.

        Parameters
        ----------
        folder : path
        lazy : bool, default False
            Read each table on first use instead of now (the truth and meta are read now).
            The files are opened now and read through those descriptors, so a cache
            replaced or removed before a table's first use (another process regenerating
            it) still gives the tables as they were at load; a file rewritten in place
            raises :class:`~dmkit.errors.DataNotFoundError` rather than mixing two versions.
        repair : callable, optional
            With ``lazy``: ``repair(table)`` gives the table when its file turns out damaged
            on first read (a page checksum or the footer fails). The simulator cache passes
            one that regenerates the province (same key, same values) and replaces the
            folder on disk; without it a damaged table raises :class:`~dmkit.errors.SchemaError`
            naming the file.
        """
        folder = Path(folder)
        missing = [t for t in TABLES if not (folder / f"{t}.parquet").exists()]
        if missing or not (folder / "truth.json").exists():
            raise DataNotFoundError(
                f"folder {str(folder)!r}: expected the tables {list(TABLES)} as <table>.parquet "
                f"and truth.json; missing {missing or ['truth.json']}")
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if not lazy:
            tables = {t: read_parquet_file(folder / f"{t}.parquet") for t in TABLES}
            return cls(**tables, truth=Truth.load(folder), meta=meta)
        out = cls.__new__(cls)
        pending = {}
        for t in TABLES:
            fd = os.open(folder / f"{t}.parquet", os.O_RDONLY)
            pending[t] = (folder / f"{t}.parquet", fd, _stamp(fd))
        out._pending = pending
        out._stamps = {t: (path, stamp) for t, (path, _, stamp) in pending.items()}
        out._repair = repair
        weakref.finalize(out, _close, pending)  # the descriptors of tables never read
        out.truth, out.meta = Truth.load(folder), meta
        return out


def _check_read(table: str, names: list[str], columns, months) -> None:
    from dmkit.contract.errors import parameter_error

    if columns is not None:
        if isinstance(columns, str):
            raise parameter_error("columns", expected=f"a list of columns of table {table!r}", found=columns)
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise parameter_error("columns", expected=f"columns of table {table!r}: {names}", found=unknown)
    if months is not None and "month" not in names:
        raise parameter_error("months", expected=f"None: table {table!r} has no month column "
                              "(the monthly tables are usage, kpis and edges)", found=months)


def _opened(pending: dict, table: str) -> Path:
    """A path to the file of a pending table as opened at load (read through that descriptor:
    a cache replaced since, renamed over or removed, still gives the file as it was); a file
    rewritten in place is refused rather than mixing two versions."""
    path, fd, stamp = pending[table]
    if _stamp(fd) != stamp:
        raise DataNotFoundError(
            f"table {table!r}: {str(path)!r} was rewritten since this ProvinceData was loaded; "
            "load the province again")
    return _fd_path(fd, path)


def _stamp(fd: int) -> tuple[int, int, int]:
    """Inode, size and modification time of an open file: a file rewritten has another."""
    st = os.fstat(fd)
    return st.st_ino, st.st_size, st.st_mtime_ns


def _fd_path(fd: int, path: Path) -> Path:
    """A path that opens the very file behind ``fd`` (Linux, macOS), else ``path`` itself."""
    for p in (Path(f"/proc/self/fd/{fd}"), Path(f"/dev/fd/{fd}")):
        if p.exists():
            return p
    return path


def _close(pending: dict) -> None:
    for _, fd, _ in pending.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    pending.clear()


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.read_metadata(path).num_rows

