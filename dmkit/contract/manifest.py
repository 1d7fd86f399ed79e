"""Completion manifests: what a finished write produced, with every file's hash, checked on read.

A writer that produces several files (``dmkit synth`` into a dataset root, the
simulator's cache) removes the manifest first, writes its files, then writes the
manifest last (atomically). So:

- no manifest: the write did not finish (killed, a full disk) — the data is refused;
- a file whose size or SHA-256 differs from the manifest: truncated, corrupted or
  overwritten by another run — refused (the simulator's cache is then regenerated and
  repaired on disk);
- a file of the same tables and partitions that the manifest does not list: left by
  another run (a mixed dataset) — refused.

The manifest also records what was written (province, month, seed, size, format), so a
reader can say which run a dataset came from.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from dmkit.errors import SchemaError

__all__ = ["MANIFEST_FORMAT", "file_digest", "manifest_body", "write_manifest", "read_manifest",
           "verify", "synth_manifest_path", "remove_manifest"]

MANIFEST_FORMAT = "dmkit-manifest-1"
_BLOCK = 1 << 22


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_BLOCK):
            h.update(chunk)
    return h.hexdigest()


def manifest_body(root: str | Path, files: Iterable[str | Path], *, meta: Mapping) -> dict:
    """The manifest of ``files`` (relative to ``root``): size and SHA-256 of each, and ``meta``."""
    root = Path(root)
    entries = {}
    for f in files:
        f = Path(f)
        entries[f.relative_to(root).as_posix()] = {"bytes": f.stat().st_size, "sha256": file_digest(f)}
    return {"format": MANIFEST_FORMAT, "meta": dict(meta), "files": dict(sorted(entries.items()))}


def write_manifest(path: str | Path, root: str | Path, files: Iterable[str | Path], *, meta: Mapping) -> Path:
    """Write the manifest of ``files`` to ``path`` atomically (the last step of a write)."""
    from dmkit.contract.files import atomic_write_bytes

    body = manifest_body(root, files, meta=meta)
    return atomic_write_bytes(path, json.dumps(body, indent=1, ensure_ascii=False).encode())


def read_manifest(path: str | Path) -> dict | None:
    """The manifest at ``path``, or None when it is missing or unreadable (a partial write)."""
    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(body, dict) or body.get("format") != MANIFEST_FORMAT or not isinstance(body.get("files"), dict):
        return None
    return body


def verify(body: Mapping, root: str | Path, *, present: Iterable[str | Path] = (),
           hashes: bool = True) -> list[str]:
    """What is wrong with the files under ``root`` against manifest ``body`` (empty: nothing).

    Parameters
    ----------
    body : mapping
        A manifest (:func:`read_manifest`).
    root : path
        The folder its paths are relative to.
    present : paths
        Files a reader is about to read; any not in the manifest is a problem (left by
        another run).
    hashes : bool, default True
        Compare SHA-256 (else sizes only).
    """
    root = Path(root)
    problems = []
    listed = body["files"]
    for rel, entry in listed.items():
        f = root / rel
        try:
            size = f.stat().st_size
        except OSError:
            problems.append(f"{rel}: missing")
            continue
        if size != entry.get("bytes"):
            problems.append(f"{rel}: {size:,} bytes, the manifest says {entry.get('bytes'):,} (truncated or replaced)")
        elif hashes and file_digest(f) != entry.get("sha256"):
            problems.append(f"{rel}: content differs from the manifest (corrupted or overwritten by another run)")
    for f in present:
        rel = Path(f).relative_to(root).as_posix()
        if rel not in listed:
            problems.append(f"{rel}: not written by this run (left by another run: a mixed dataset)")
    return problems


def synth_manifest_path(root: str | Path, *, province: str, month: str) -> Path:
    """Where ``dmkit synth`` writes the manifest of one province and month under ``root``."""
    return Path(root) / "_manifests" / f"province={province}" / f"month={month}.json"


def remove_manifest(path: str | Path) -> None:
    """Remove a manifest before a write starts (so an interrupted write leaves none)."""
    Path(path).unlink(missing_ok=True)


def refuse(problems: list[str], *, where: str, fix: str) -> SchemaError:
    """The error for a dataset whose files do not match its manifest."""
    shown = "; ".join(problems[:5]) + (f"; ... ({len(problems) - 5} more)" if len(problems) > 5 else "")
    return SchemaError(f"{where}: {len(problems)} file(s) do not match the completion manifest: {shown}. "
                       f"Fix: {fix}", table=None, column=None, rows=problems[:5])
