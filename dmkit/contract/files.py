"""Atomic writes: every file dmkit writes goes to a temp file beside it, then is renamed.

An interrupted write (an exception, Ctrl-C, a full disk) leaves the target either as it
was or complete, never half-written. Parquet timestamps are stored as
``TIMESTAMP(MICROS)``, which Spark, Hive and most warehouses read.

Part of the contract (:mod:`dmkit.contract`): imports nothing of dmkit above it.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from dmkit.errors import ParameterError, parameter_error, schema_error

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "check_microseconds",
    "check_writable",
    "with_umask",
    "read_parquet_file",
    "unwritable_error",
    "write_parquet_atomic",
    "write_parquet_unchecked",
]


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file in the same folder, then rename."""
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def write_parquet_atomic(df: pd.DataFrame, path: str | Path, *, table: str | None = None) -> Path:
    """Write ``df`` as one Parquet file at ``path`` atomically (temp file, then rename).

    Timestamps are stored at microsecond precision (``TIMESTAMP(MICROS)``), which Spark,
    Hive and most warehouses read; nanosecond ``TIMESTAMP(NANOS)`` they reject.

    Raises
    ------
    SchemaError
        A timestamp column has sub-microsecond parts (they would be lost); nothing is written.
    """
    check_microseconds(df, table or Path(path).stem)
    return write_parquet_unchecked(df, path)


def write_parquet_unchecked(df: pd.DataFrame, path: str | Path) -> Path:
    """The atomic Parquet write itself, for a caller that ran :func:`check_microseconds` already."""
    # page checksums (CRC32): a flipped byte in a data page is refused on read, not read as a value
    return atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False, coerce_timestamps="us",
                                                         allow_truncated_timestamps=False,
                                                         write_page_checksum=True))


def read_parquet_file(path: str | Path) -> pd.DataFrame:
    """Read one Parquet file written by :func:`write_parquet_atomic`, timestamps back at
    nanosecond unit (pandas' default, as the frame was before writing), page checksums verified.

    Raises
    ------
    SchemaError
        A zero-byte, truncated, corrupt or non-Parquet file (names it).
    """
    from dmkit.contract.ingest import read_parquet_files

    return read_parquet_files([Path(path)], table=Path(path).stem)[0]


def check_microseconds(df: pd.DataFrame, table: str) -> None:
    """Raise :class:`~dmkit.errors.SchemaError` if a timestamp column of ``df`` has nanoseconds."""
    for c in df.columns:
        s = df[c]
        if not pd.api.types.is_datetime64_any_dtype(s) or getattr(s.dt, "unit", "ns") != "ns":
            continue
        sub = (s.dropna().array.asi8 % 1000) != 0
        if sub.any():
            rows = s.dropna().index[sub][:5].tolist()
            raise schema_error(table=table, column=str(c),
                               expected="timestamps in whole microseconds (Parquet is written "
                                        "as TIMESTAMP(MICROS), the precision Spark and Hive read)",
                               found=f"{int(sub.sum()):,} value(s) with nanoseconds, rows {rows}",
                               fix=f"floor them first: df[{str(c)!r}] = df[{str(c)!r}].dt.floor('us')")


def atomic_write(path: str | Path, writer: Callable[[str], object]) -> Path:
    """Call ``writer(tmp)`` on a temp file beside ``path``, then rename it over ``path``.

    Whatever happens inside ``writer`` (an exception, Ctrl-C), the temp file is removed
    and an existing ``path`` is left untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise unwritable_error(path, err) from err
    os.close(fd)
    try:
        writer(tmp)
        with_umask(tmp)  # mkstemp makes 0600: give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def with_umask(path: str | Path) -> Path:
    """Give a file made by ``tempfile.mkstemp`` (mode 0600) the mode of the umask (0644 with 022)."""
    os.chmod(path, 0o666 & ~_umask())
    return Path(path)


def _umask() -> int:
    """The process umask: from /proc on Linux (no race with other threads), else by setting
    and restoring it (there is no getter)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` and write a probe file in it, before any long work that ends there.

    Raises
    ------
    ParameterError
        The folder cannot be created or written (``parameter 'out'``, with the OS reason).
    """
    import tempfile as _tempfile

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _tempfile.NamedTemporaryFile(dir=folder, prefix=".dmkit-probe."):
            pass
    except OSError as err:
        raise parameter_error("out", expected="a writable folder", found=str(folder),
                              fix=str(err.strerror or err)) from err
    return folder


def unwritable_error(path: Path, err: OSError) -> ParameterError:
    """The error for a folder that cannot be written (names it and the OS reason)."""
    return parameter_error("out", expected="a writable folder", found=str(path),
                           fix=f"{err.strerror or err}; choose another folder or fix its permissions")
